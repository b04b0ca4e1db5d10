/**
 * What the OCI wrapper commands (create, start, state, kill, delete, exec ...) share: runc's exit code 1
 * for a failed operation, and loading the container a command names.
 */
import { type CommandContext, ExitStatus } from "./command.ts";
import { errorf } from "./cmd.ts";
import type { Kernel } from "../../ffi/kernel.ts";
import { Container, stateRoot } from "../wrapper/container.ts";

/** runc's exit code for a failed `exec` (its fatalWithCode(…, 255)); other operations fail with 1. */
export const EXEC_FAILURE_CODE = 255;

/**
 * Reports `msg` like errorf (stderr, and a JSON error line in the --log file) but makes the process
 * exit `code`, 1 unless told, as runc does for a failed operation (engines match its messages, e.g.
 * "container not running", "container ID does not exist"). Usage errors keep runsc's 128.
 */
export function fail(ctx: CommandContext, msg: string, code = 1): ExitStatus {
  errorf(msg);
  ctx.waitStatus = code << 8;
  return ExitStatus.Success;
}

/** fail() with the message of `e`. */
export function failWith(ctx: CommandContext, e: unknown, code = 1): ExitStatus {
  const msg = e instanceof Error ? e.message : String(e);
  // Out of file descriptors, the message names a syscall; say what to look at.
  const hint = /\bEMFILE\b|Too many open files/.test(msg) && !msg.includes("RLIMIT_NOFILE")
    ? " (too many open files: is the open-file limit, RLIMIT_NOFILE, too low?)"
    : /\bENOSPC\b/.test(msg)
    ? " (no space left on device)"
    : "";
  return fail(ctx, msg + hint, code);
}

/** Loads the container `id` under the configured state root. */
export function loadContainer(k: Kernel, ctx: CommandContext, id: string): Container {
  return Container.load(k, stateRoot(ctx.conf), id);
}

/** Left-aligned text columns, `gap` spaces apart (the last column is not padded). */
export function textTable(header: readonly string[], cells: readonly string[][], gap: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: readonly string[]) =>
    c.map((v, i) => i === c.length - 1 ? v : v.padEnd(widths[i] + gap)).join("") + "\n";
  return line(header) + cells.map(line).join("");
}
