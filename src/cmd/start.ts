/** `start`: runs the process of a created container (runc's and runsc's start). */
import type { FlagSet } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import { failWith, loadContainer } from "./oci.ts";
import { startContainer } from "../wrapper/container_start.ts";

class Start implements Command {
  readonly name = "start";
  readonly synopsis = "start a secure container";
  readonly usage = "start <container id> - start a secure container\n";

  setFlags(_f: FlagSet): void {}

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    if (f.nArg() !== 1) return ExitStatus.UsageError;
    try {
      await startContainer(loadContainer(linux, ctx, f.arg(0)));
    } catch (e) {
      return failWith(ctx, e);
    }
    return ExitStatus.Success;
  }
}

/** The start command. */
export function createCommand(): Command {
  return new Start();
}
