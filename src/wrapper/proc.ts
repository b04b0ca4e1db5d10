/** Facts about host processes read from /proc (identity across pid reuse, liveness). */

/** The parts of /proc/PID/stat runts uses. */
export interface ProcStat {
  /** One-letter state: R, S, D, Z, X, T ... */
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot (field 22), as a decimal string. */
  startTime: string;
}

/** Parses the text of /proc/PID/stat; null when it is malformed. */
export function parseProcStat(text: string): ProcStat | null {
  // The command name (field 2) is in parentheses and may itself contain ") ", so split after the last ")".
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const fields = text.slice(close + 2).trim().split(" ");
  if (fields.length < 20) return null;
  return { state: fields[0], ppid: Number(fields[1]), startTime: fields[19] };
}

/**
 * Reads /proc/PID/stat (through `read`, the file reader); null when there is no such process, which
 * includes one reaped between the open and the read of its file (ESRCH, which Deno names by number only).
 */
export function readProcStat(
  pid: number,
  read: (path: string) => string = Deno.readTextFileSync,
): ProcStat | null {
  if (!(pid > 0)) return null;
  try {
    return parseProcStat(read(`/proc/${pid}/stat`));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || /\(os error 3\)$/.test((e as Error).message)) return null;
    throw e;
  }
}

/**
 * True when process `pid` runs and is the one that started at `startTime` (when given). A zombie counts
 * as gone: it has exited and only waits for its parent (or an engine's subreaper) to reap it.
 */
export function isAlive(
  pid: number,
  startTime?: string,
  read: (pid: number) => ProcStat | null = readProcStat,
): boolean {
  const st = read(pid);
  if (!st) return false;
  if (startTime && st.startTime !== startTime) return false;
  return st.state !== "Z" && st.state !== "X";
}
