/**
 * The process-wide logger. Two sinks, both optional:
 * - the debug log (--debug-log): everything at info level, and debug lines with --debug, in a
 *   glog-like text form for people;
 * - the log engines read (--log): warnings and errors (plus info and debug with --debug), as text or
 *   JSON lines per --log-format.
 * Nothing is logged when neither is configured (stderr may belong to the container).
 * All writes are synchronous: processes change namespaces and roots, and async fs ops would run on
 * threads that did not follow.
 */
import type { Config } from "../config/config.ts";

/** The levels, least severe first. */
export type Level = "debug" | "info" | "warning" | "error";

/** A leveled logger. */
export interface Logger {
  debug(m: string): void;
  info(m: string): void;
  warning(m: string): void;
  error(m: string): void;
}

/** Something log lines can be written to synchronously. */
export interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

const RANK: Record<Level, number> = { debug: 0, info: 1, warning: 2, error: 3 };
const GLOG_LETTER: Record<Level, string> = { debug: "D", info: "I", warning: "W", error: "E" };
const LOGRUS_LEVEL: Record<Level, string> = {
  debug: "debug",
  info: "info",
  warning: "warning",
  error: "error",
};

interface Sink {
  writer: SyncWriter;
  min: Level;
  format: "glog" | "text" | "json";
}

let debugSink: Sink | null = null;
let engineLog: { writer: SyncWriter; sink: Sink } | null = null;

const encoder = new TextEncoder();

/** Writes all of `p`, looping over short writes. */
export function writeAll(w: SyncWriter, p: Uint8Array): void {
  let off = 0;
  while (off < p.length) off += w.writeSync(p.subarray(off));
}

/** The wall clock with microseconds: the Date for the seconds, performance.now() for the fraction. */
function now(): { date: Date; micros: number } {
  const t = performance.timeOrigin * 1000 + Math.round(performance.now() * 1000);
  const micros = Math.floor(t % 1_000_000);
  return { date: new Date(Math.floor(t / 1000)), micros };
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Go's time.RFC3339Nano in UTC: fractional digits without trailing zeros. */
export function rfc3339Nano(date: Date, micros: number): string {
  const base = date.toISOString().slice(0, 19);
  const frac = pad(micros, 6).replace(/0+$/, "");
  return `${base}${frac ? "." + frac : ""}Z`;
}

/** Now, as rfc3339Nano gives it. */
export function nowRfc3339Nano(): string {
  const { date, micros } = now();
  return rfc3339Nano(date, micros);
}

/** One formatted line, ending in a newline. */
export function formatLine(format: Sink["format"], level: Level, msg: string): string {
  const { date, micros } = now();
  switch (format) {
    case "json":
      return JSON.stringify({ level: LOGRUS_LEVEL[level], msg, time: rfc3339Nano(date, micros) }) + "\n";
    case "text":
      return `time=${JSON.stringify(rfc3339Nano(date, micros))} level=${LOGRUS_LEVEL[level]} msg=${
        JSON.stringify(msg)
      }\n`;
    case "glog": {
      const stamp = `${pad(date.getMonth() + 1)}${pad(date.getDate())} ${pad(date.getHours())}:` +
        `${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(micros, 6)}`;
      return `${GLOG_LETTER[level]}${stamp} ${String(Deno.pid).padStart(7)}] ${msg}\n`;
    }
  }
}

function emit(sink: Sink | null, level: Level, msg: string): void {
  if (!sink || RANK[level] < RANK[sink.min]) return;
  try {
    writeAll(sink.writer, encoder.encode(formatLine(sink.format, level, msg)));
  } catch {
    // A broken log must not take the runtime down with it.
  }
}

function logAt(level: Level, msg: string): void {
  emit(debugSink, level, msg);
  emit(engineLog?.sink ?? null, level, msg);
}

/** The process-wide logger; silent until configureLogging() gives it somewhere to write. */
export const log: Logger = {
  debug: (m) => logAt("debug", m),
  info: (m) => logAt("info", m),
  warning: (m) => logAt("warning", m),
  error: (m) => logAt("error", m),
};

/**
 * A warning for whoever ran this wrapper command (a failed poststart or poststop hook): the logger's
 * sinks get it, and stderr too unless a --log file takes it, where runc's logrus would write it. Only for
 * commands whose stderr is the caller's.
 */
export function warnCaller(msg: string): void {
  log.warning(msg);
  if (engineLog) return;
  try {
    writeAll(Deno.stderr, encoder.encode(formatLine("text", "warning", msg)));
  } catch {
    // A closed stderr must not fail the command the warning is about.
  }
}

/** True when debug lines are being written somewhere. */
export function debugEnabled(): boolean {
  return (debugSink?.min ?? engineLog?.sink.min) === "debug";
}

function openAppend(path: string, mode: number): Deno.FsFile {
  return Deno.openSync(path, { write: true, append: true, create: true, mode });
}

/**
 * The debug log file for `pattern` (runsc's DebugLogFile): a trailing "/" means a directory, in which
 * the file `runts.log.<YYYYMMDD-HHMMSS.ffffff>.<subcommand>` is created; `%TIMESTAMP%` and `%COMMAND%`
 * are substituted. The directory is created as needed.
 */
export function debugLogPath(pattern: string, subcommand: string): string {
  if (pattern.endsWith("/")) pattern += "runts.log.%TIMESTAMP%.%COMMAND%";
  const { date, micros } = now();
  const stamp = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}.${pad(micros, 6)}`;
  return pattern.replaceAll("%TIMESTAMP%", stamp).replaceAll("%COMMAND%", subcommand);
}

/**
 * Points the process-wide logger at the files `conf` names (--debug-log, --log) with the levels
 * --debug chooses. Throws when a file cannot be opened.
 */
export function configureLogging(conf: Config, subcommand: string): void {
  debugSink = null;
  engineLog = null;
  if (conf.debugLog) {
    const path = debugLogPath(conf.debugLog, subcommand);
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir) Deno.mkdirSync(dir, { recursive: true, mode: 0o775 });
    debugSink = { writer: openAppend(path, 0o664), min: conf.debug ? "debug" : "info", format: "glog" };
  }
  if (conf.log) {
    const writer = openAppend(conf.log, 0o644);
    engineLog = { writer, sink: { writer, min: conf.debug ? "debug" : "warning", format: conf.logFormat } };
  }
}

/**
 * Opens only the --log file, for reporting an error that happened before the configuration was
 * complete (e.g. a bad global flag value). Does nothing when the file cannot be opened.
 */
export function configureErrorLog(path: string): void {
  if (!path || engineLog) return;
  try {
    const writer = openAppend(path, 0o644);
    engineLog = { writer, sink: { writer, min: "error", format: "json" } };
  } catch {
    // Nowhere to report to; stderr still gets the message.
  }
}

/** Replaces the debug log target (e.g. a file opened from an inherited fd), or removes it with null. */
export function setDebugLogWriter(writer: SyncWriter | null, debug = true): void {
  debugSink = writer ? { writer, min: debug ? "debug" : "info", format: "glog" } : null;
}

/**
 * Records a fatal error the way runsc's Errorf does: "FATAL ERROR: msg" as a warning in the debug log,
 * and a JSON line `{"level":"error","msg":…,"time":…}` appended to the --log file whatever its format
 * (engines look for that line).
 */
export function recordFatal(msg: string): void {
  emit(debugSink, "warning", `FATAL ERROR: ${msg}`);
  if (engineLog) emit({ writer: engineLog.writer, min: "error", format: "json" }, "error", msg);
}
