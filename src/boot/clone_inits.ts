/** Whether inits start as clone children here: a module of its own, so `features` can ask cheaply. */
import { cloneChildSupported } from "../../ffi/clone_child.ts";

/**
 * True when inits run as clone children (src/boot/start_init.ts): x86_64 glibc, unless RUNTS_INIT=process
 * asks for the `runts init` process.
 */
export function clonedInits(): boolean {
  return cloneChildSupported && Deno.env.get("RUNTS_INIT") !== "process";
}
