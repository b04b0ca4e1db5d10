/** `create`: spawns boot for a new container and returns once it is created (runc's and runsc's create). */
import type { Ref } from "../flag/flag.ts";
import type { FlagSet } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import { createContainer } from "../wrapper/container_create.ts";
import { failWith } from "./oci.ts";
import { log } from "../log/log.ts";

/** The flags create and run share. */
export class CreateFlags {
  bundle!: Ref<string>;
  consoleSocket!: Ref<string>;
  pidFile!: Ref<string>;
  pidfdSocket!: Ref<string>;
  noPivot!: Ref<boolean>;
  noNewKeyring!: Ref<boolean>;
  preserveFds!: Ref<number>;
  userLog!: Ref<string>;

  /** Registers them on `f`. */
  register(f: FlagSet): void {
    this.bundle = f.string(
      "bundle",
      "",
      "path to the root of the bundle directory, defaults to the current directory",
    );
    f.alias("b", "bundle");
    this.consoleSocket = f.string(
      "console-socket",
      "",
      "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal",
    );
    this.pidFile = f.string("pid-file", "", "filename that the container pid will be written to");
    this.pidfdSocket = f.string(
      "pidfd-socket",
      "",
      "path to an AF_UNIX socket which will receive the container's pidfd",
    );
    this.noPivot = f.bool("no-pivot", false, "do not use pivot root to jail process inside rootfs");
    this.noNewKeyring = f.bool(
      "no-new-keyring",
      false,
      "do not create a new session keyring (accepted; runts never does)",
    );
    this.preserveFds = f.int(
      "preserve-fds",
      0,
      "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)",
    );
    this.userLog = f.string("user-log", "", "accepted for runsc compatibility; ignored");
  }

  /** Creates the container these flags describe. */
  async create(ctx: CommandContext, id: string, attached: boolean) {
    if (this.preserveFds.value < 0) throw new Error("--preserve-fds must not be negative");
    // Socket activation counts only when the fds were meant for this process (sd_listen_fds' rule, as runc).
    const forUs = Number(Deno.env.get("LISTEN_PID")) === Deno.pid;
    const listenFds = forUs ? Number(Deno.env.get("LISTEN_FDS") ?? "0") : 0;
    const preserve = this.preserveFds.value + (Number.isInteger(listenFds) && listenFds > 0 ? listenFds : 0);
    if (this.userLog.value) log.debug("--user-log is ignored");
    return await createContainer(linux, ctx.conf, {
      id,
      bundle: this.bundle.value || ".",
      consoleSocket: this.consoleSocket.value || undefined,
      pidFile: this.pidFile.value || undefined,
      pidfdSocket: this.pidfdSocket.value || undefined,
      preserveFds: preserve,
      attached,
      inProcess: attached,
      noPivot: this.noPivot.value,
    });
  }
}

class Create implements Command {
  readonly name = "create";
  readonly synopsis = "create a secure container";
  readonly usage = "create [flags] <container id> - create a secure container\n";
  readonly flags = new CreateFlags();

  setFlags(f: FlagSet): void {
    this.flags.register(f);
  }

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    if (f.nArg() !== 1) return ExitStatus.UsageError;
    try {
      await this.flags.create(ctx, f.arg(0), false);
    } catch (e) {
      return failWith(ctx, e);
    }
    return ExitStatus.Success;
  }
}

/** The create command. */
export function createCommand(): Command {
  return new Create();
}
