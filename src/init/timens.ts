/**
 * linux.timeOffsets for a new time namespace. unshare(CLONE_NEWTIME) makes the namespace for init's
 * children only (time_for_children); the kernel takes offsets until the first process enters it, and
 * execve moves init (the app from then on) into it. So: unshare, write /proc/self/timens_offsets, exec.
 *
 * An existing time namespace cannot be joined from init: setns(CLONE_NEWTIME) needs a process alone in
 * its address space (EUSERS otherwise), and init shares boot's until execve. So a spec may not join one
 * by path (validation says so), and an exec'd process gets a new one with the offsets of the
 * container's (read from its app): the same offsets show the same clocks.
 */
import type { Kernel } from "../../ffi/mod.ts";
import { O } from "../../ffi/mod.ts";
import type { LinuxTimeOffset } from "../specutils/spec.ts";

/** The /proc/PID/timens_offsets text for `offsets`: one `<clock> <secs> <nanosecs>` line per clock. */
export function timeOffsetsText(offsets: Record<string, LinuxTimeOffset>): string {
  return Object.entries(offsets).map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`).join("");
}

/** Parses /proc/PID/timens_offsets (`<clock> <secs> <nanosecs>` lines) into linux.timeOffsets form. */
export function parseTimeOffsets(text: string): Record<string, LinuxTimeOffset> {
  const out: Record<string, LinuxTimeOffset> = {};
  for (const line of text.split("\n")) {
    const [clock, secs, nanosecs] = line.trim().split(/\s+/);
    if (clock && secs !== undefined) out[clock] = { secs: Number(secs), nanosecs: Number(nanosecs ?? 0) };
  }
  return out;
}

/**
 * Writes the offsets of the time namespace init's children (and its own execve) will enter. `/proc` is
 * still boot's here, where /proc/self is init.
 */
export function applyTimeOffsets(k: Kernel, offsets: Record<string, LinuxTimeOffset> | undefined): void {
  if (!offsets || Object.keys(offsets).length === 0) return;
  const text = timeOffsetsText(offsets);
  const fd = k.open("/proc/self/timens_offsets", O.WRONLY | O.CLOEXEC);
  try {
    // One write: the kernel parses the whole buffer at once.
    k.write(fd, new TextEncoder().encode(text));
  } catch (e) {
    throw new Error(`linux.timeOffsets (${text.trim().replaceAll("\n", ", ")}): ${(e as Error).message}`);
  } finally {
    k.close(fd);
  }
}
