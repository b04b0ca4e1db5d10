/**
 * `deno task bench [--quick] [--runtimes=runts,runc,runsc,crun] [--runts=PATH] [--out=DIR] [--no-bundle]
 * [--note=TEXT] [--extra=NAME=PATH]`: runts against the runtimes installed here (runc and runsc are
 * installed from Debian packages when missing; crun is used when it can run a container on this host), on
 * one busybox root filesystem, runs alternating between runtimes. Writes latest.md, latest.svg and
 * latest.json to bench/results/ (or --out). A checkout's bin/runts gets its bundle built first
 * (scripts/bundle.ts) unless --no-bundle. --extra adds another runts launcher as a column of its own
 * (an older checkout, for a before/after in one run); --note adds a line to the report.
 *
 * Scenarios: `run` of `true`; `create` then `start` (start latency alone); `exec true` in a running
 * container; `state` and `kill 0` round trips; the PSS of the long-lived processes a runtime leaves per
 * idle container; 10/25/50 containers created and started concurrently, then deleted. Run as root.
 */
import { makeBundle } from "../tests/util/rootfs.ts";
import { buildBundle, bundleFresh } from "./bundle.ts";
import type { Spec } from "../src/specutils/spec.ts";
import {
  type BenchReport,
  median,
  type Metric,
  renderMarkdown,
  renderSvg,
  type RuntimeInfo,
} from "./bench_lib.ts";

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** What one mode measures. */
interface Plan {
  mode: "quick" | "full";
  runSamples: number;
  startSamples: number;
  execSamples: number;
  controlSamples: number;
  memoryContainers: number;
  concurrency: number[];
}

const PLANS: Record<"quick" | "full", Plan> = {
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
interface Runtime {
  name: string;
  /** The executable and its global flags. */
  argv: string[];
  root: string;
  /** The signal the `kill` round trip sends: "0", or "CONT" when the runtime rejects signal 0. */
  killSignal: string;
}

/** The app of the long-lived containers; its cmdline tells app processes from runtime processes. */
const SLEEP_ARGS = ["sleep", "86400"];

const decoder = new TextDecoder();

function parseArgs(args: string[]) {
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

function which(bin: string): string | null {
  for (const dir of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    try {
      if (Deno.statSync(`${dir}/${bin}`).isFile) return `${dir}/${bin}`;
    } catch {
      // not there
    }
  }
  return null;
}

function runSync(cmd: string, args: string[]): { ok: boolean; out: string } {
  try {
    const r = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
    return { ok: r.success, out: (decoder.decode(r.stdout) + decoder.decode(r.stderr)).trim() };
  } catch (e) {
    return { ok: false, out: (e as Error).message };
  }
}

/** Installs Debian package `pkg` when `bin` is missing; returns the binary's path or null. */
function ensureInstalled(bin: string, pkg: string): string | null {
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

function firstLine(s: string): string {
  return s.split("\n")[0].trim();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let scratch = "";

/** Runs argv with stdio on /dev/null; its wall time and exit code. */
async function timed(argv: string[]): Promise<{ ms: number; code: number }> {
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
async function checked(argv: string[]): Promise<{ ms: number; code: number; err: string }> {
  const errFile = Deno.makeTempFileSync({ dir: scratch, prefix: "err-" });
  const r = await timed(["/bin/sh", "-c", 'exec "$@" >/dev/null 2>"$0"', errFile, ...argv]);
  let err = "";
  try {
    err = Deno.readTextFileSync(errFile).trim().split("\n").slice(-3).join("; ");
  } finally {
    Deno.removeSync(errFile);
  }
  return { ...r, err };
}

function cmd(rt: Runtime, ...args: string[]): string[] {
  return [...rt.argv, "--root", rt.root, ...args];
}

let serial = 0;
function newId(rt: Runtime, what: string): string {
  return `rtsbench-${rt.name}-${what}-${Deno.pid}-${serial++}`;
}

function sweepCgroups(id: string): void {
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
async function destroy(rt: Runtime, id: string): Promise<number> {
  const r = await timed(cmd(rt, "delete", "--force", id));
  sweepCgroups(id);
  return r.code;
}

/** create + start of a sleeping container; throws with the runtime's error on failure. */
async function startSleeper(rt: Runtime, bundle: string, id: string): Promise<void> {
  const c = await checked(cmd(rt, "create", "--bundle", bundle, id));
  if (c.code !== 0) throw new Error(`${rt.name} create: exit ${c.code}: ${c.err}`);
  const s = await checked(cmd(rt, "start", id));
  if (s.code !== 0) {
    await destroy(rt, id);
    throw new Error(`${rt.name} start: exit ${s.code}: ${s.err}`);
  }
}

/** The runtimes in a different order each round, so none always goes first. */
function rotation<T>(xs: readonly T[], round: number): T[] {
  const k = round % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** Samples `fn` for every runtime, alternating; the samples per runtime (failures are counted apart). */
async function alternate(
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

function medians(samples: Map<string, number[]>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, xs] of samples) out[name] = xs.length ? median(xs) : null;
  return out;
}

function failureNotes(failures: Map<string, number>, n: number): Record<string, string> {
  const notes: Record<string, string> = {};
  for (const [name, f] of failures) if (f > 0) notes[name] = `${f}/${n} failed`;
  return notes;
}

/** PSS in KiB from smaps_rollup, 0 when the process is gone. */
function pssKb(pid: number): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
    return Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string[];
}

function processes(): ProcInfo[] {
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
function supervisorPids(rt: Runtime): number[] {
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
function runcSpecBundle(runc: string, args: string[]): string | null {
  const dir = Deno.makeTempDirSync({ dir: scratch, prefix: "runc-spec-" });
  const r = new Deno.Command(runc, { args: ["spec"], cwd: dir, stdout: "null", stderr: "null" }).outputSync();
  if (!r.success) return null;
  const spec = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`)) as Spec;
  spec.process!.args = args;
  spec.process!.terminal = false;
  spec.root = {
    path: JSON.parse(Deno.readTextFileSync(`${trueBundleDir}/config.json`)).root.path,
    readonly: true,
  };
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(spec, null, 2));
  return dir;
}

let trueBundleDir = "";

/** Writes the container spec with `args`, shared rootfs, and an ociVersion every runtime here accepts. */
function bundle(args: string[]): string {
  const b = makeBundle({
    args,
    hostname: "bench",
    mutate: (spec: Spec) => {
      spec.ociVersion = "1.0.2"; // crun 1.8 and runsc 2022 refuse newer versions
    },
  });
  return b.dir;
}

async function probe(rt: Runtime, trueBundle: string, sleepBundle: string): Promise<string | null> {
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

async function main(): Promise<void> {
  const opt = parseArgs(Deno.args);
  const plan = opt.quick ? PLANS.quick : PLANS.full;
  if (Deno.uid() !== 0) throw new Error("bench.ts must run as root");
  scratch = Deno.makeTempDirSync({ prefix: "runts-bench-" });
  const t0 = performance.now();
  // A checkout's bin/runts runs its dist/bundle/main.js while no source file is newer (see bundle.ts).
  const checkout = opt.runts.endsWith("/bin/runts") ? opt.runts.slice(0, -"/bin/runts".length) : null;
  if (checkout && opt.bundle) buildBundle(checkout);

  const infos: RuntimeInfo[] = [];
  const rts: Runtime[] = [];
  const trueBundle = bundle(["true"]);
  trueBundleDir = trueBundle;
  const sleepBundle = bundle(SLEEP_ARGS);
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
  if (!rts.length) throw new Error("no runtime can run containers here");
  console.log(`runtimes: ${rts.map((r) => r.name).join(", ")} (${plan.mode} mode)`);
  const metrics: Metric[] = [];
  const remarks: string[] = [];

  // 1. run of true, end to end.
  {
    const { samples, failures } = await alternate(rts, plan.runSamples, async (rt) => {
      const id = newId(rt, "run");
      const r = await timed(cmd(rt, "run", "--bundle", trueBundle, id));
      if (r.code !== 0) {
        await destroy(rt, id);
        return null;
      }
      return r.ms;
    });
    metrics.push({
      id: "run",
      label: "run `true`, end to end",
      unit: "ms",
      values: medians(samples),
      notes: failureNotes(failures, plan.runSamples),
      samples: plan.runSamples,
      targets: [
        { kind: "ratio", against: "runsc", max: 0.25 },
        { kind: "ratio", against: "runc", max: 1.0 },
      ],
    });
    console.log("run done");
  }

  // 1b. the same with the unmodified `runc spec` default (only args, terminal and root changed).
  {
    const runcBin = which("runc");
    const specBundle = runcBin ? runcSpecBundle(runcBin, ["true"]) : null;
    if (specBundle) {
      const { samples, failures } = await alternate(rts, plan.runSamples, async (rt) => {
        const id = newId(rt, "runcspec");
        const r = await timed(cmd(rt, "run", "--bundle", specBundle, id));
        if (r.code !== 0) {
          await destroy(rt, id);
          return null;
        }
        return r.ms;
      });
      metrics.push({
        id: "run-runc-spec",
        label: "run `true`, the `runc spec` bundle",
        unit: "ms",
        values: medians(samples),
        notes: failureNotes(failures, plan.runSamples),
        samples: plan.runSamples,
        targets: [
          { kind: "ratio", against: "runsc", max: 0.25 },
          { kind: "ratio", against: "runc", max: 1.0 },
        ],
      });
      console.log("run (runc spec) done");
    } else remarks.push("the `runc spec` bundle was not measured: runc spec failed or runc is missing");
  }

  // 2. create, then start alone (the app is running when start returns).
  {
    const creates = new Map(rts.map((rt) => [rt.name, [] as number[]]));
    const both = new Map(rts.map((rt) => [rt.name, [] as number[]]));
    const { samples, failures } = await alternate(rts, plan.startSamples, async (rt) => {
      const id = newId(rt, "start");
      const c = await timed(cmd(rt, "create", "--bundle", sleepBundle, id));
      if (c.code !== 0) {
        await destroy(rt, id);
        return null;
      }
      creates.get(rt.name)!.push(c.ms);
      const s = await timed(cmd(rt, "start", id));
      await destroy(rt, id);
      if (s.code === 0) both.get(rt.name)!.push(c.ms + s.ms);
      return s.code === 0 ? s.ms : null;
    });
    metrics.push({
      id: "start",
      label: "start (created → app running)",
      unit: "ms",
      values: medians(samples),
      notes: failureNotes(failures, plan.startSamples),
      samples: plan.startSamples,
    });
    metrics.push({
      id: "create",
      label: "create (sleeping app)",
      unit: "ms",
      values: medians(creates),
      samples: plan.startSamples,
    });
    metrics.push({
      id: "create-start",
      label: "create + start",
      unit: "ms",
      values: medians(both),
      samples: plan.startSamples,
      targets: [{ kind: "ratio", against: "runc", max: 2.0 }],
    });
    console.log("start done");
  }

  // 3 and 6. exec, state and kill in one running container per runtime.
  {
    const ids = new Map<string, string>();
    for (const rt of rts) {
      const id = newId(rt, "ctl");
      await startSleeper(rt, sleepBundle, id);
      ids.set(rt.name, id);
    }
    const exec = await alternate(rts, plan.execSamples, async (rt) => {
      const r = await timed(cmd(rt, "exec", ids.get(rt.name)!, "true"));
      return r.code === 0 ? r.ms : null;
    });
    metrics.push({
      id: "exec",
      label: "exec `true` in a running container",
      unit: "ms",
      values: medians(exec.samples),
      notes: failureNotes(exec.failures, plan.execSamples),
      samples: plan.execSamples,
      targets: [{ kind: "ratio", against: "runc", max: 1.5 }],
    });
    const state = await alternate(rts, plan.controlSamples, async (rt) => {
      const r = await timed(cmd(rt, "state", ids.get(rt.name)!));
      return r.code === 0 ? r.ms : null;
    });
    metrics.push({
      id: "state",
      label: "state",
      unit: "ms",
      values: medians(state.samples),
      notes: failureNotes(state.failures, plan.controlSamples),
      samples: plan.controlSamples,
      targets: [{ kind: "ratio", against: "runsc", max: 0.8 }],
    });
    const kill = await alternate(rts, plan.controlSamples, async (rt) => {
      const r = await timed(cmd(rt, "kill", ids.get(rt.name)!, rt.killSignal));
      return r.code === 0 ? r.ms : null;
    });
    const killNotes = failureNotes(kill.failures, plan.controlSamples);
    for (const rt of rts) {
      if (rt.killSignal !== "0") {
        killNotes[rt.name] = "rejects signal 0: SIGCONT";
        remarks.push(
          `${rt.name} rejects \`kill ID 0\`; its kill round trip sends SIGCONT to the sleeping app.`,
        );
      }
    }
    metrics.push({
      id: "kill",
      label: "kill 0",
      unit: "ms",
      values: medians(kill.samples),
      notes: killNotes,
      samples: plan.controlSamples,
      targets: [{ kind: "ratio", against: "runsc", max: 0.8 }],
    });
    for (const rt of rts) await destroy(rt, ids.get(rt.name)!);
    console.log("exec/state/kill done");
  }

  // 4. supervisor memory per idle container.
  {
    const values: Record<string, number | null> = {};
    const notes: Record<string, string> = {};
    for (const rt of rts) {
      const ids: string[] = [];
      try {
        for (let i = 0; i < plan.memoryContainers; i++) {
          const id = newId(rt, "mem");
          await startSleeper(rt, sleepBundle, id);
          ids.push(id);
        }
        await sleep(1500); // let start-up allocations settle
        const pids = supervisorPids(rt);
        const total = pids.reduce((s, pid) => s + pssKb(pid), 0);
        values[rt.name] = total / 1024 / ids.length;
        notes[rt.name] = `${pids.length} procs`;
      } catch (e) {
        values[rt.name] = null;
        notes[rt.name] = (e as Error).message.slice(0, 80);
      } finally {
        await Promise.all(ids.map((id) => destroy(rt, id)));
      }
    }
    metrics.push({
      id: "memory",
      label: `supervisor PSS per idle container (${plan.memoryContainers} running)`,
      unit: "MiB",
      values,
      notes,
      targets: [{ kind: "max", value: 12 }],
    });
    console.log("memory done");
  }

  // 5. N containers created and started concurrently, then deleted concurrently.
  {
    const perContainer = new Map<number, Record<string, number | null>>();
    for (const n of plan.concurrency) {
      const wall: Record<string, number | null> = {};
      const del: Record<string, number | null> = {};
      const fails: Record<string, number | null> = {};
      for (const rt of rotation(rts, n)) {
        const ids = Array.from({ length: n }, () => newId(rt, `c${n}`));
        const start = performance.now();
        const results = await Promise.all(ids.map((id) =>
          timed([
            "/bin/sh",
            "-c",
            'b=$0 id=$1; shift; "$@" create --bundle "$b" "$id" >/dev/null 2>&1 && "$@" start "$id" >/dev/null 2>&1',
            sleepBundle,
            id,
            ...rt.argv,
            "--root",
            rt.root,
          ])
        ));
        wall[rt.name] = performance.now() - start;
        const d0 = performance.now();
        const deleted = await Promise.all(ids.map((id) => destroy(rt, id)));
        del[rt.name] = performance.now() - d0;
        fails[rt.name] = results.filter((r) => r.code !== 0).length + deleted.filter((c) => c !== 0).length;
        await sleep(300);
      }
      perContainer.set(
        n,
        Object.fromEntries(Object.entries(wall).map(([k, v]) => [k, v == null ? null : v / n])),
      );
      metrics.push({
        id: `conc${n}`,
        label: `${n}× create+start, concurrent (wall)`,
        unit: "ms",
        values: wall,
        targets: n === 50 ? [{ kind: "ratio", against: "runc", max: 1.5 }] : undefined,
      });
      metrics.push({
        id: `del${n}`,
        label: `${n}× delete, concurrent (wall)`,
        unit: "ms",
        values: del,
        noChart: true,
      });
      metrics.push({
        id: `fail${n}`,
        label: `${n}× failures (create, start or delete)`,
        unit: "count",
        values: fails,
        noChart: true,
        targets: n === 50 ? [{ kind: "max", value: 0 }] : undefined,
      });
      console.log(`concurrency ${n} done`);
    }
    const lo = Math.min(...plan.concurrency), hi = Math.max(...plan.concurrency);
    if (hi > lo) {
      const values: Record<string, number | null> = {};
      for (const rt of rts) {
        const a = perContainer.get(lo)![rt.name], b = perContainer.get(hi)![rt.name];
        values[rt.name] = a && b ? b / a : null;
      }
      metrics.push({
        id: "scaling",
        label: `scaling: time per container at ${hi} ÷ at ${lo} (1 = linear)`,
        unit: "x",
        values,
        noChart: true,
        targets: [{ kind: "max", value: 1.25 }],
      });
    }
  }

  const load = firstLine(Deno.readTextFileSync("/proc/loadavg"));
  remarks.push(
    `Same busybox root filesystem for every runtime; samples alternate between runtimes; ` +
      `wall times include spawning the CLI (${Math.round((performance.now() - t0) / 1000)} s in all; ` +
      `load average at the end ${load.split(" ").slice(0, 3).join(" ")}).`,
  );
  remarks.push(
    "Supervisor memory: PSS of the processes that stay per container besides the app: runts' boot, " +
      "runsc's sandbox, gofer and stubs; runc leaves none.",
  );
  if (checkout) {
    const rev = runSync("git", ["-C", checkout, "describe", "--always", "--dirty"]);
    const at = rev.ok ? ` at ${firstLine(rev.out)}` : "";
    if (!opt.bundle) remarks.push(`runts ran as bin/runts${at} from the TypeScript sources (--no-bundle).`);
    else if (bundleFresh(checkout)) {
      remarks.push(
        `runts ran as bin/runts${at} with the bundle from \`deno task bundle\` (dist/bundle/main.js).`,
      );
    } else {
      remarks.push(
        `runts ran as bin/runts${at}; sources changed during the run, so some runs used them instead of the bundle.`,
      );
    }
  }
  if (opt.note) remarks.push(opt.note);
  for (const i of infos) if (!i.usable) remarks.push(`${i.name} not measured: ${i.note}`);
  const report: BenchReport = {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    host: `${Deno.osRelease()}, ${navigator.hardwareConcurrency} CPUs`,
    mode: plan.mode,
    runtimes: infos,
    metrics,
    remarks,
  };
  Deno.mkdirSync(opt.out, { recursive: true });
  Deno.writeTextFileSync(`${opt.out}/latest.md`, renderMarkdown(report));
  Deno.writeTextFileSync(`${opt.out}/latest.svg`, renderSvg(report));
  Deno.writeTextFileSync(`${opt.out}/latest.json`, JSON.stringify(report, null, 2) + "\n");
  console.log(renderMarkdown(report));
  console.log(`wrote ${opt.out}/latest.{md,svg,json}`);
  for (const dir of [trueBundle, sleepBundle, scratch]) Deno.removeSync(dir, { recursive: true });
}

if (import.meta.main) await main();
