/** `pause ID`: freezes all processes of a container (boot's Pause). */
import type { FlagSet } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import { failWith, loadContainer } from "./oci.ts";
import { setPaused } from "../wrapper/container_pause.ts";

/** pause or resume. */
export class PauseResume implements Command {
  readonly name: string;
  readonly synopsis: string;
  readonly usage: string;

  constructor(private readonly pause: boolean) {
    this.name = pause ? "pause" : "resume";
    this.synopsis = pause
      ? "pause suspends all processes in a container"
      : "resume un-pauses a paused container";
    this.usage = `${this.name} <container id>\n`;
  }

  setFlags(_f: FlagSet): void {}

  execute(ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() !== 1) return ExitStatus.UsageError;
    try {
      setPaused(loadContainer(linux, ctx, f.arg(0)), this.pause);
    } catch (e) {
      return failWith(ctx, e);
    }
    return ExitStatus.Success;
  }
}

/** The pause command. */
export function createCommand(): Command {
  return new PauseResume(true);
}
