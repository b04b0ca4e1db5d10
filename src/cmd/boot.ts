/**
 * `runts boot`: runsc's boot command with a native loader (internal; started by a wrapper). Its flags
 * are the wrapper → boot protocol (src/protocol/boot_flags.ts); the work is src/boot/boot.ts.
 */
import type { Command, CommandContext } from "./command.ts";
import { ExitStatus } from "./command.ts";
import type { FlagSet } from "../flag/flag.ts";
import { linux } from "../../ffi/mod.ts";
import { fatalf } from "./cmd.ts";
import { BootFlags, type BootRequest } from "../protocol/boot_flags.ts";
import { runBoot } from "../boot/boot.ts";

class Boot implements Command {
  readonly name = "boot";
  readonly synopsis = "launch a sandbox process (internal use only)";
  readonly usage = "boot [flags] <container id>";
  readonly group = "internal use only" as const;
  #flags!: BootFlags;

  setFlags(f: FlagSet): void {
    this.#flags = new BootFlags(f);
  }

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    let req: BootRequest | null;
    try {
      req = this.#flags.decode(f);
    } catch (e) {
      fatalf((e as Error).message);
    }
    if (!req) return ExitStatus.UsageError;
    ctx.waitStatus = await runBoot(linux, ctx.conf, req, f, fatalf);
    return ExitStatus.Success;
  }
}

/** The boot subcommand. */
export function createCommand(): Command {
  return new Boot();
}
