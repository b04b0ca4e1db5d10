/**
 * What every subcommand shares: runsc's Fatalf/Errorf, the global flag set, and the mapping from a
 * result to the process exit code.
 */
import { FlagSet, type Ref } from "../flag/flag.ts";
import { type Config, registerFlags } from "../config/config.ts";
import { recordFatal, writeAll } from "../log/log.ts";
import { ExitStatus } from "./command.ts";

/** The exit code of every failure ("unlikely to be used by the application"). */
export const FAILURE_EXIT_CODE = 128;

/** The version main prints for --version. */
export const VERSION = "0.1.0";

/** The OCI runtime-spec version this runtime implements. */
export const SPEC_VERSION = "1.2.0";

const encoder = new TextEncoder();

/** Writes `text` to stderr synchronously, ignoring failures (stderr may be closed). */
export function writeStderr(text: string): void {
  try {
    writeAll(Deno.stderr, encoder.encode(text));
  } catch {
    // Nothing else to tell.
  }
}

/** Writes `text` to stdout synchronously. */
export function writeStdout(text: string): void {
  writeAll(Deno.stdout, encoder.encode(text));
}

/**
 * Reports an error like runsc's Errorf: the message on stderr, "FATAL ERROR: msg" in the debug log,
 * and a JSON error line in the --log file when one is set. Returns ExitStatus.Failure.
 */
export function errorf(msg: string): ExitStatus {
  writeStderr(msg.endsWith("\n") ? msg : msg + "\n");
  recordFatal(msg.trimEnd());
  return ExitStatus.Failure;
}

/** errorf, then exit 128 at once: no cleanup, no finally blocks, no pending work. */
export function fatalf(msg: string): never {
  errorf(msg);
  Deno.exit(FAILURE_EXIT_CODE);
}

/** The process exit code for a wait status (runsc's main): the exit code, or 128+signal. */
export function exitCodeFromWaitStatus(ws: number): number {
  const sig = ws & 0x7f;
  return sig !== 0 ? 128 + sig : (ws >> 8) & 0xff;
}

/** The global flag set: the Config flags plus --version. */
export interface GlobalFlags {
  flags: FlagSet;
  /** Builds and validates the Config after flags.parse(); throws ConfigError. */
  config: () => Config;
  version: Ref<boolean>;
}

/** Creates the global flag set for the program `name`. */
export function globalFlags(name = "runts"): GlobalFlags {
  const flags = new FlagSet(name);
  const config = registerFlags(flags);
  const version = flags.bool("version", false, "show version and exit.");
  return { flags, config, version };
}
