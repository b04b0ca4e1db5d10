/** `resume ID`: thaws a paused container (boot's Resume). */
import type { Command } from "./command.ts";
import { PauseResume } from "./pause.ts";

/** The resume command. */
export function createCommand(): Command {
  return new PauseResume(false);
}
