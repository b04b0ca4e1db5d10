/**
 * The subcommand shape, after google/subcommands as runsc uses it: a name, a synopsis, a usage line,
 * flag registration, and an execute step that returns an exit status.
 */
import type { FlagSet } from "../flag/flag.ts";
import type { Config } from "../config/config.ts";

/** subcommands.ExitStatus: main turns anything but Success into exit code 128. */
export enum ExitStatus {
  Success = 0,
  Failure = 1,
  UsageError = 2,
}

/** What main hands every subcommand. */
export interface CommandContext {
  /** The configuration built from the global flags. */
  conf: Config;
  /**
   * The wait status main turns into the process exit code on Success (runsc's `*unix.WaitStatus`):
   * `(code << 8) | signal`, as Linux encodes it. Left at 0 it means exit 0.
   */
  waitStatus: number;
}

/** One subcommand. */
export interface Command {
  readonly name: string;
  readonly synopsis: string;
  /** The usage line, e.g. `boot [flags] <container id>`. */
  readonly usage: string;
  /** Help group: user-facing commands or "internal use only". */
  readonly group?: "internal use only";
  setFlags(f: FlagSet): void;
  execute(ctx: CommandContext, f: FlagSet): ExitStatus | Promise<ExitStatus>;
}

/** The help group of the commands only runts itself invokes. */
export const INTERNAL = "internal use only";

/** One registered subcommand (src/cmd/registry.ts). */
export interface Entry {
  /** One line for the command list; must equal the command's own synopsis. */
  synopsis: string;
  /** Help group: user-facing when absent. */
  group?: typeof INTERNAL;
  /** Imports the command's module and creates the command. */
  load: () => Promise<Command>;
}

/** The subcommands by name. */
export type Registry = Readonly<Record<string, Entry>>;
