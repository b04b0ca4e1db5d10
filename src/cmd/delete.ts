/** `delete ID...`: removes containers (their boot, hooks' poststop, state); --force kills running ones. */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { Errno, isErrno, linux } from "../../ffi/mod.ts";
import { ContainerError } from "../wrapper/errors.ts";
import { StateDir } from "../wrapper/state_file.ts";
import { stateRoot } from "../wrapper/container.ts";
import { deleteContainer } from "../wrapper/container_delete.ts";
import { validateID } from "../wrapper/id.ts";
import { FileLock } from "../wrapper/lock.ts";
import { log } from "../log/log.ts";
import { failWith, loadContainer } from "./oci.ts";

class Delete implements Command {
  readonly name = "delete";
  readonly synopsis = "delete resources held by a container";
  readonly usage = "delete [flags] <container ids>\n";
  private force!: Ref<boolean>;

  setFlags(f: FlagSet): void {
    this.force = f.bool(
      "force",
      false,
      "forcibly deletes the container if it is still running (uses SIGKILL)",
    );
    f.alias("f", "force");
  }

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    if (f.nArg() === 0) return ExitStatus.UsageError;
    for (const id of f.args()) {
      try {
        await deleteContainer(loadContainer(linux, ctx, id), this.force.value);
      } catch (e) {
        if (e instanceof ContainerError && e.kind === "not-exist" && this.force.value) {
          // A create that died before writing its state may have left the directory.
          validateID(id);
          const dir = new StateDir(stateRoot(ctx.conf), id);
          // Only when no create holds the lock: removed under the lock, so a create cannot start on it.
          let lock: FileLock | null = null;
          try {
            lock = FileLock.acquire(linux, dir.lockPath, true, false);
          } catch (e) {
            if (!isErrno(e, Errno.ENOENT)) throw e; // no directory: nothing to remove
          }
          if (lock) {
            try {
              dir.remove();
            } finally {
              lock.release();
            }
          }
          log.warning(`couldn't find container ${JSON.stringify(id)} to delete`);
          continue;
        }
        return failWith(ctx, e);
      }
    }
    return ExitStatus.Success;
  }
}

/** The delete command. */
export function createCommand(): Command {
  return new Delete();
}
