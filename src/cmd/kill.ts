/** `kill ID [SIG]`: signals a container's process, or all of its processes with --all. */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import { parseSignal } from "../wrapper/signal.ts";
import { SignalMode } from "../protocol/control.ts";
import { ContainerError } from "../wrapper/errors.ts";
import { fail, failWith, loadContainer } from "./oci.ts";
import { signalContainer } from "../wrapper/container_kill.ts";

class Kill implements Command {
  readonly name = "kill";
  readonly synopsis = "sends a signal to the container";
  readonly usage = "kill <container id> [signal]\n";
  private all!: Ref<boolean>;
  private pid!: Ref<number>;

  setFlags(f: FlagSet): void {
    this.all = f.bool("all", false, "send the specified signal to all processes inside the container");
    f.alias("a", "all");
    this.pid = f.int("pid", 0, "send the specified signal to a specific process");
  }

  execute(ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() < 1 || f.nArg() > 2) return ExitStatus.UsageError;
    if (this.all.value && this.pid.value !== 0) {
      return fail(ctx, "it is invalid to specify both --all and --pid");
    }
    let signo: number;
    try {
      signo = parseSignal(f.nArg() === 2 ? f.arg(1) : "TERM");
    } catch (e) {
      return failWith(ctx, e);
    }
    try {
      const c = loadContainer(linux, ctx, f.arg(0));
      if (this.pid.value !== 0) {
        if (c.liveState().status === "stopped") {
          throw new ContainerError("not-running", "container not running");
        }
        c.control().signal(c.id, signo, SignalMode.Process, this.pid.value);
      } else {
        signalContainer(c, signo, this.all.value);
      }
    } catch (e) {
      return failWith(ctx, e);
    }
    return ExitStatus.Success;
  }
}

/** The kill command. */
export function createCommand(): Command {
  return new Kill();
}
