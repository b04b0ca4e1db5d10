/** `state`: prints the runtime-spec state of a container, and nothing else. */
import type { FlagSet } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import { writeStdout } from "./cmd.ts";
import { failWith, loadContainer } from "./oci.ts";

class State implements Command {
  readonly name = "state";
  readonly synopsis = "get the state of a container";
  readonly usage = "state [flags] <container id> - get the state of a container\n";

  setFlags(_f: FlagSet): void {}

  execute(ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() !== 1) return ExitStatus.UsageError;
    let text: string;
    try {
      text = JSON.stringify(loadContainer(linux, ctx, f.arg(0)).stateDocument(), null, 2);
    } catch (e) {
      return failWith(ctx, e);
    }
    writeStdout(text);
    return ExitStatus.Success;
  }
}

/** The state command. */
export function createCommand(): Command {
  return new State();
}
