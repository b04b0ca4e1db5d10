/** `wait ID`: waits for a container's process (or an exec'd one with --pid) and prints its exit status. */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import { exitCodeFromWaitStatus, writeStdout } from "./cmd.ts";
import { fail, failWith, loadContainer } from "./oci.ts";
import { waitStatus } from "../wrapper/container_wait.ts";

class Wait implements Command {
  readonly name = "wait";
  readonly synopsis = "wait on a process inside a container";
  readonly usage = "wait [flags] <container id>\n";
  private pid!: Ref<number>;
  private rootPid!: Ref<number>;

  setFlags(f: FlagSet): void {
    this.pid = f.int(
      "pid",
      -1,
      "select a PID in the container's PID namespace to wait on instead of the container's root process",
    );
    this.rootPid = f.int(
      "rootpid",
      -1,
      "select a PID in the sandbox root PID namespace to wait on instead of the container's root process",
    );
  }

  execute(ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() !== 1) return ExitStatus.UsageError;
    if (this.pid.value !== -1 && this.rootPid.value !== -1) {
      return fail(ctx, "only one of --pid and --rootPid can be set");
    }
    const id = f.arg(0);
    let ws: number;
    try {
      const c = loadContainer(linux, ctx, id);
      const pid = this.rootPid.value !== -1 ? this.rootPid.value : this.pid.value;
      if (pid !== -1) {
        ws = c.control().waitPID(id, pid);
      } else {
        const status = waitStatus(c);
        if (status === null) return fail(ctx, "container not running and its exit status is unavailable");
        ws = status;
      }
    } catch (e) {
      return failWith(ctx, e);
    }
    writeStdout(JSON.stringify({ id, exitStatus: exitCodeFromWaitStatus(ws) }) + "\n");
    return ExitStatus.Success;
  }
}

/** The wait command. */
export function createCommand(): Command {
  return new Wait();
}
