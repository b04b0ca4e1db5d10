/** `ps ID`: lists the container's processes (host pids), as a table or as a JSON pid array. */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import type { ProcessRow } from "../protocol/control.ts";
import { writeStdout } from "./cmd.ts";
import { fail, failWith, loadContainer, textTable } from "./oci.ts";

/** The table runsc prints: UID PID PPID C STIME TTY TIME CMD. */
export function processTable(rows: readonly ProcessRow[]): string {
  const header = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
  const cells = rows.map((r) => [r.uid, r.pid, r.ppid, r.c, r.stime, r.tty, r.time, r.cmd].map(String));
  return textTable(header, cells, 2);
}

class Ps implements Command {
  readonly name = "ps";
  readonly synopsis = "ps displays the processes running inside a container";
  readonly usage = "ps [flags] <container-id> [ps options]\n";
  private format!: Ref<string>;

  setFlags(f: FlagSet): void {
    this.format = f.string("format", "table", "output format: table or json");
    f.alias("f", "format");
  }

  execute(ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() < 1) return ExitStatus.UsageError;
    const format = this.format.value;
    if (format !== "table" && format !== "json") return fail(ctx, `invalid format option: ${format}`);
    let rows: ProcessRow[] = [];
    try {
      const c = loadContainer(linux, ctx, f.arg(0));
      if (c.liveState().status !== "stopped") rows = c.control().processes(c.id);
    } catch (e) {
      return failWith(ctx, e);
    }
    writeStdout(format === "json" ? JSON.stringify(rows.map((r) => r.pid)) + "\n" : processTable(rows));
    return ExitStatus.Success;
  }
}

/** The ps command. */
export function createCommand(): Command {
  return new Ps();
}
