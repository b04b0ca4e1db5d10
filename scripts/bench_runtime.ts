/**
 * The runtimes, processes and bundles `deno task bench` (scripts/bench.ts) measures: the plans, the
 * command runners and timers, the cleanup between runs, and the memory readings.
 */
import { makeBundle } from "../tests/util/rootfs.ts";
import type { Spec } from "../src/specutils/spec.ts";
import { median, type RuntimeInfo } from "./bench_lib.ts";

/** The checkout this script runs from. */
export const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** What one mode measures. */
export interface Plan {
  mode: "quick" | "full";
  runSamples: number;
  startSamples: number;
  execSamples: number;
  controlSamples: number;
  memoryContainers: number;
  concurrency: number[];
}

/** How many runs and containers each mode takes. */
export const PLANS: Record<"quick" | "full", Plan> = {
  quick: {
    mode: "quick",
    runSamples: 5,
    startSamples: 4,
    execSamples: 5,
    controlSamples: 5,
    memoryContainers: 3,
    concurrency: [10],
  },
  full: {
    mode: "full",
    runSamples: 21,
    startSamples: 11,
    execSamples: 21,
    controlSamples: 21,
    memoryContainers: 10,
    concurrency: [10, 25, 50],
  },
};

/** A runtime's command line prefix and its private state root. */
export interface Runtime {
  name: string;
  /** The executable and its global flags. */
  argv: string[];
  root: string;
  /** The signal the `kill` round trip sends: "0", or "CONT" when the runtime rejects signal 0. */
  killSignal: string;
}

/** The app of the long-lived containers; its cmdline tells app processes from runtime processes. */
export const SLEEP_ARGS = ["sleep", "86400"];

/** One decoder for command output. */
export const decoder = new TextDecoder();

/** The command line's options (see scripts/bench.ts). */
export function parseArgs(args: string[]) {
  const opt = {
    quick: false,
    runtimes: ["runts", "runc", "runsc", "crun"],
    runts: `${repo}/bin/runts`,
    out: "",
    bundle: true,
    note: "",
    /** More runts launchers to measure side by side, e.g. an older checkout: name → bin/runts path. */
    extra: new Map<string, string>(),
  };
  const usage =
    "usage: bench.ts [--quick] [--runtimes=a,b] [--runts=PATH] [--out=DIR] [--no-bundle] [--note=TEXT] [--extra=NAME=/path/to/bin/runts]";
  for (const a of args) {
    if (a === "--quick") opt.quick = true;
    else if (a.startsWith("--runtimes=")) opt.runtimes = a.slice(11).split(",").filter(Boolean);
    else if (a.startsWith("--runts=")) opt.runts = a.slice(8);
    else if (a.startsWith("--out=")) opt.out = a.slice(6);
    else if (a === "--no-bundle") opt.bundle = false;
    else if (a.startsWith("--note=")) opt.note = a.slice(7);
    else if (/^--extra=[a-z0-9._-]+=\//.test(a)) {
      const [name, path] = [a.slice(8, a.indexOf("=", 8)), a.slice(a.indexOf("=", 8) + 1)];
      opt.extra.set(name, path);
    } else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  opt.runtimes.push(...opt.extra.keys());
  opt.out ||= `${repo}/bench/results`;
  return opt;
}

/** The path of `bin` in the usual system directories, or null. */
export function which(bin: string): string | null {
  for (const dir of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    try {
      if (Deno.statSync(`${dir}/${bin}`).isFile) return `${dir}/${bin}`;
    } catch {
      // not there
    }
  }
  return null;
}

/** Runs `cmd` to completion; whether it succeeded, and its stdout and stderr. */
export function runSync(cmd: string, args: string[]): { ok: boolean; out: string } {
  try {
    const r = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
    return { ok: r.success, out: (decoder.decode(r.stdout) + decoder.decode(r.stderr)).trim() };
  } catch (e) {
    return { ok: false, out: (e as Error).message };
  }
}

/** Installs Debian package `pkg` when `bin` is missing; returns the binary's path or null. */
export function ensureInstalled(bin: string, pkg: string): string | null {
  const found = which(bin);
  if (found) return found;
  console.log(`${bin} is missing: apt-get install -y ${pkg}`);
  if (!runSync("apt-get", ["install", "-y", "-qq", pkg]).ok) {
    runSync("apt-get", ["update", "-qq"]);
    const r = runSync("apt-get", ["install", "-y", "-qq", pkg]);
    if (!r.ok) console.log(`apt-get install ${pkg} failed: ${r.out.split("\n").slice(-2).join("; ")}`);
  }
  return which(bin);
}

/** The first line of `s`, trimmed. */
export function firstLine(s: string): string {
  return s.split("\n")[0].trim();
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The run's scratch directory and the `true` bundle, set by main() before anything runs. */
export const dirs = { scratch: "", trueBundle: "" };

/** Runs argv with stdio on /dev/null; its wall time and exit code. */
export async function timed(argv: string[]): Promise<{ ms: number; code: number }> {
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const st = await child.status;
  return { ms: performance.now() - t0, code: st.code };
}

/**
 * Runs argv through sh with its stderr in a file (a container that outlives the command may hold the
 * stdio it was given, so pipes would never reach EOF); the exit code and the last stderr lines.
 */
export async function checked(argv: string[]): Promise<{ ms: number; code: number; err: string }> {
  const errFile = Deno.makeTempFileSync({ dir: dirs.scratch, prefix: "err-" });
  const r = await timed(["/bin/sh", "-c", 'exec "$@" >/dev/null 2>"$0"', errFile, ...argv]);
  let err = "";
  try {
    err = Deno.readTextFileSync(errFile).trim().split("\n").slice(-3).join("; ");
  } finally {
    Deno.removeSync(errFile);
  }
  return { ...r, err };
}

/** `rt`'s command line for `args`, with its own state root. */
export function cmd(rt: Runtime, ...args: string[]): string[] {
  return [...rt.argv, "--root", rt.root, ...args];
}

let serial = 0;
/** A container id unique to this run. */
export function newId(rt: Runtime, what: string): string {
  return `rtsbench-${rt.name}-${what}-${Deno.pid}-${serial++}`;
}

/** Removes what a failed run left of container `id` in the cgroup hierarchies. */
export function sweepCgroups(id: string): void {
  let controllers: string[] = [];
  try {
    controllers = [...Deno.readDirSync("/sys/fs/cgroup")].filter((e) => e.isDirectory).map((e) => e.name);
  } catch {
    return;
  }
  for (const c of ["", ...controllers]) {
    try {
      Deno.removeSync(`/sys/fs/cgroup/${c ? c + "/" : ""}${id}`);
    } catch {
      // absent, or not empty yet: nothing more to do in a benchmark
    }
  }
}

/** Kills and deletes container `id` (force), then sweeps its cgroups. */
export async function destroy(rt: Runtime, id: string): Promise<number> {
  const r = await timed(cmd(rt, "delete", "--force", id));
  sweepCgroups(id);
  return r.code;
}

/** create + start of a sleeping container; throws with the runtime's error on failure. */
export async function startSleeper(rt: Runtime, bundle: string, id: string): Promise<void> {
  const c = await checked(cmd(rt, "create", "--bundle", bundle, id));
  if (c.code !== 0) throw new Error(`${rt.name} create: exit ${c.code}: ${c.err}`);
  const s = await checked(cmd(rt, "start", id));
  if (s.code !== 0) {
    await destroy(rt, id);
    throw new Error(`${rt.name} start: exit ${s.code}: ${s.err}`);
  }
}

/** The runtimes in a different order each round, so none always goes first. */
export function rotation<T>(xs: readonly T[], round: number): T[] {
  const k = round % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** Samples `fn` for every runtime, alternating; the samples per runtime (failures are counted apart). */
export async function alternate(
  rts: Runtime[],
  n: number,
  fn: (rt: Runtime, round: number) => Promise<number | null>,
): Promise<{ samples: Map<string, number[]>; failures: Map<string, number> }> {
  const samples = new Map(rts.map((rt) => [rt.name, [] as number[]]));
  const failures = new Map(rts.map((rt) => [rt.name, 0]));
  for (let i = 0; i < n; i++) {
    for (const rt of rotation(rts, i)) {
      const v = await fn(rt, i);
      if (v === null) failures.set(rt.name, failures.get(rt.name)! + 1);
      else samples.get(rt.name)!.push(v);
    }
  }
  return { samples, failures };
}

/** The median of each sample list (null for none). */
export function medians(samples: Map<string, number[]>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, xs] of samples) out[name] = xs.length ? median(xs) : null;
  return out;
}

/** A note per runtime that failed some of `n` runs. */
export function failureNotes(failures: Map<string, number>, n: number): Record<string, string> {
  const notes: Record<string, string> = {};
  for (const [name, f] of failures) if (f > 0) notes[name] = `${f}/${n} failed`;
  return notes;
}

/** PSS in KiB from smaps_rollup, 0 when the process is gone. */
export function pssKb(pid: number): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    return Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** One process of /proc: pid, parent and command. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string[];
}

/** Every process of /proc now. */
export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0").filter((s) => s !== "");
      out.push({ pid: Number(e.name), ppid, cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * The long-lived processes of runtime `rt`: those whose command line names its state root, and their
 * descendants (runsc's stubs), minus the container apps themselves.
 */
export function supervisorPids(rt: Runtime): number[] {
  const procs = processes();
  const mine = new Set(procs.filter((p) => p.cmdline.some((a) => a.includes(rt.root))).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  const isApp = (p: ProcInfo) => p.cmdline.join(" ") === SLEEP_ARGS.join(" ");
  return procs.filter((p) => mine.has(p.pid) && !isApp(p)).map((p) => p.pid);
}

/**
 * A bundle whose config.json is the one `runc spec` writes (what every engine-less user starts from), with
 * only process.args, terminal and root.path changed; null without runc.
 */
export function runcSpecBundle(runc: string, args: string[]): string | null {
  const dir = Deno.makeTempDirSync({ dir: dirs.scratch, prefix: "runc-spec-" });
  const r = new Deno.Command(runc, { args: ["spec"], cwd: dir, stdout: "null", stderr: "null" }).outputSync();
  if (!r.success) return null;
  const spec = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`)) as Spec;
  spec.process!.args = args;
  spec.process!.terminal = false;
  spec.root = {
    path: JSON.parse(Deno.readTextFileSync(`${dirs.trueBundle}/config.json`)).root.path,
    readonly: true,
  };
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(spec, null, 2));
  return dir;
}

/** Writes the container spec with `args`, shared rootfs, and an ociVersion every runtime here accepts. */
export function bundle(args: string[]): string {
  const b = makeBundle({
    args,
    hostname: "bench",
    mutate: (spec: Spec) => {
      spec.ociVersion = "1.0.2"; // crun 1.8 and runsc 2022 refuse newer versions
    },
  });
  return b.dir;
}

/** Why `rt` cannot run a container here, or null when it can. */
export async function probe(rt: Runtime, trueBundle: string, sleepBundle: string): Promise<string | null> {
  const id = newId(rt, "probe");
  const r = await checked(cmd(rt, "run", "--bundle", trueBundle, id));
  if (r.code !== 0) {
    await destroy(rt, id);
    return `run true: exit ${r.code}: ${r.err}`;
  }
  const sid = newId(rt, "probe");
  try {
    await startSleeper(rt, sleepBundle, sid);
  } catch (e) {
    return (e as Error).message;
  }
  const k = await checked(cmd(rt, "kill", sid, "0"));
  if (k.code !== 0) rt.killSignal = "CONT";
  await destroy(rt, sid);
  return null;
}

/**
 * The runtimes `opt` names, each found (installed from Debian when missing), asked its version and
 * probed: those that can run a container here, and a report line for every one.
 */
export async function findRuntimes(
  opt: ReturnType<typeof parseArgs>,
  scratch: string,
  trueBundle: string,
  sleepBundle: string,
): Promise<{ infos: RuntimeInfo[]; rts: Runtime[] }> {
  const infos: RuntimeInfo[] = [];
  const rts: Runtime[] = [];
  for (const name of opt.runtimes) {
    let bin: string | null;
    let flags: string[] = [];
    if (name === "runts") bin = opt.runts;
    else if (name === "runc") bin = ensureInstalled("runc", "runc");
    else if (name === "runsc") {
      bin = ensureInstalled("runsc", "runsc");
      flags = ["--network=none"];
    } else if (name === "crun") bin = which("crun");
    else if (opt.extra.has(name)) bin = opt.extra.get(name)!;
    else throw new Error(`unknown runtime ${name}`);
    if (!bin) {
      infos.push({ name, version: "", usable: false, note: "not installed" });
      continue;
    }
    const version = firstLine(runSync(bin, ["--version"]).out).replace(/^runts version /, "");
    const rt: Runtime = { name, argv: [bin, ...flags], root: `${scratch}/root-${name}`, killSignal: "0" };
    Deno.mkdirSync(rt.root, { recursive: true });
    const why = await probe(rt, trueBundle, sleepBundle);
    if (why) {
      console.log(`${name}: cannot run containers here: ${why}`);
      infos.push({ name, version, usable: false, note: why });
      continue;
    }
    infos.push({ name, version: flags.length ? `${version} (${flags.join(" ")})` : version, usable: true });
    rts.push(rt);
  }
  return { infos, rts };
}
