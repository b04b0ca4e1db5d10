/** `list`: the containers under --root, as a table, as JSON, or only their IDs (-q). */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import { Container, OCI_VERSION, stateRoot } from "../wrapper/container.ts";
import { listIDs } from "../wrapper/state_file.ts";
import { log } from "../log/log.ts";
import { writeStdout } from "./cmd.ts";
import { fail, textTable } from "./oci.ts";

/** One container as `list --format json` prints it (runc's containerState). */
export interface ListedContainer {
  ociVersion: string;
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** runc's tab-aligned table. */
export function listTable(items: readonly ListedContainer[]): string {
  const header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
  const cells = items.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner]);
  return textTable(header, cells, 3);
}

class List implements Command {
  readonly name = "list";
  readonly synopsis = "list containers started by runts with the given root";
  readonly usage = "list [flags]\n";
  private quiet!: Ref<boolean>;
  private format!: Ref<string>;

  setFlags(f: FlagSet): void {
    this.quiet = f.bool("quiet", false, "only list container ids");
    f.alias("q", "quiet");
    this.format = f.string("format", "text", "output format: 'text' (default) or 'json'");
    f.alias("f", "format");
  }

  execute(ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() !== 0) return ExitStatus.UsageError;
    const format = this.format.value === "table" ? "text" : this.format.value;
    if (format !== "text" && format !== "json") {
      return fail(ctx, `invalid format option: ${this.format.value}`);
    }
    const root = stateRoot(ctx.conf);
    const items: ListedContainer[] = [];
    for (const id of listIDs(root)) {
      let c: Container;
      try {
        c = Container.load(linux, root, id);
      } catch (e) {
        log.debug(`list: skipping ${id}: ${(e as Error).message}`);
        continue;
      }
      const doc = c.stateDocument();
      items.push({
        ociVersion: OCI_VERSION,
        id,
        pid: doc.pid,
        status: doc.status,
        bundle: c.rec.bundle,
        rootfs: doc.rootfs,
        created: doc.created,
        owner: c.rec.owner,
        ...(doc.annotations ? { annotations: doc.annotations } : {}),
      });
    }
    if (this.quiet.value) writeStdout(items.map((c) => c.id + "\n").join(""));
    else if (format === "json") writeStdout(JSON.stringify(items) + "\n");
    else writeStdout(listTable(items));
    return ExitStatus.Success;
  }
}

/** The list command. */
export function createCommand(): Command {
  return new List();
}
