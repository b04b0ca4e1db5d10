/**
 * What the reliability suite shares: a World (a state root, bundles and a tag that marks every process
 * it starts), runts in the foreground or background, pause points (src/util/test_pause.ts), and leak
 * probes for processes, mounts, cgroup directories and files under the root.
 *
 * Processes are found by their tag: every runts command gets RUNTS_TEST_TAG=<tag> in its environment
 * (boot and init inherit it) and every container process gets it through spec.process.env, so the
 * probes see this world's processes and nobody else's, even while other test suites run.
 */
import assert from "node:assert/strict";
import { makeBundle } from "../util/rootfs.ts";
import type { Spec } from "../../src/specutils/spec.ts";
import { type Result, RUNTS } from "../cli/helpers.ts";

export { RUNTS };
export type { Result };

const decoder = new TextDecoder();

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `pred` every 20 ms until it holds or `timeoutMs` passes (then throws naming `what`). */
export async function waitFor(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A runts command running in the background. */
export interface Running {
  /** Its pid (the shell execs the launcher, which execs deno: one pid throughout). */
  pid: number;
  /** Resolves when it exits. */
  done: Promise<Result>;
  /** SIGKILLs it and waits for its exit. */
  kill(): Promise<Result>;
}

/** The state document `runts state` prints. */
export interface StateDoc {
  id: string;
  status: string;
  pid: number;
  bundle: string;
}

/** Options of World.bundle. */
export interface BundleOptions {
  /** Give the container a pid namespace (default true, as in runts spec). */
  pidns?: boolean;
  rootfs?: string;
  mutate?: (spec: Spec) => void;
}

/** One isolated setting for runts: a root, bundles, a pause directory, and a tag on every process. */
export class World {
  readonly tag = `rel${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  readonly root: string;
  readonly pauseDir: string;
  readonly #scratch: string;
  readonly #cleanups: Array<() => void> = [];
  readonly #mountsBefore: Set<string>;
  #pausePoints: string[] = [];

  constructor(root?: string) {
    this.#scratch = Deno.makeTempDirSync({ prefix: "runts-rel-" });
    this.root = root ?? `${this.#scratch}/root`;
    this.pauseDir = `${this.#scratch}/pause`;
    Deno.mkdirSync(this.pauseDir);
    this.#mountsBefore = new Set(mountLines());
  }

  /** The cgroupsPath parent of this world's containers. */
  get cgroupParent(): string {
    return `runts-${this.tag}`;
  }

  /** A busybox bundle running `args`, with the tag in its environment and a cgroupsPath under ours. */
  bundle(args: string[], opts: BundleOptions = {}): string {
    const b = makeBundle({
      args,
      rootfs: opts.rootfs,
      mutate: (spec) => {
        spec.process!.env = [...(spec.process!.env ?? []), `RUNTS_TEST_TAG=${this.tag}`];
        spec.linux ??= {};
        spec.linux.cgroupsPath = `/${this.cgroupParent}/${crypto.randomUUID().slice(0, 8)}`;
        if (opts.pidns === false) {
          spec.linux.namespaces = (spec.linux.namespaces ?? []).filter((n) => n.type !== "pid");
        }
        opts.mutate?.(spec);
      },
    });
    this.#cleanups.push(b.cleanup);
    return b.dir;
  }

  /** Sets the pause points the next runts commands stop at ([] for none). */
  pauseAt(...points: string[]): void {
    this.#pausePoints = points;
  }

  /** The environment of a runts command of this world. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    const env: Record<string, string> = { RUNTS_TEST_TAG: this.tag, ...extra };
    if (this.#pausePoints.length) {
      env.RUNTS_TEST_PAUSE = this.#pausePoints.join(",");
      env.RUNTS_TEST_PAUSE_DIR = this.pauseDir;
    }
    return env;
  }

  /** Starts `runts --root <root> args...` in the background; `prefix` runs before it (e.g. a ulimit). */
  start(args: string[], opts: { prefix?: string; root?: string } = {}): Running {
    const io = Deno.makeTempDirSync({ dir: this.#scratch, prefix: "io-" });
    const script = `${opts.prefix ?? ""} exec "$0" "$@" </dev/null >"$OUT" 2>"$ERR"`;
    const child = new Deno.Command("/bin/sh", {
      args: ["-c", script, RUNTS, "--root", opts.root ?? this.root, ...args],
      env: { ...this.env(), OUT: `${io}/out`, ERR: `${io}/err` },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const done = child.status.then((st) => {
      const r = {
        code: st.code,
        stdout: readOr(`${io}/out`),
        stderr: readOr(`${io}/err`),
      };
      try {
        Deno.removeSync(io, { recursive: true });
      } catch {
        // the world was cleaned up first (a failed test)
      }
      return r;
    });
    return {
      pid: child.pid,
      done,
      kill: () => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already exited
        }
        return done;
      },
    };
  }

  /** Runs runts to completion. */
  run(args: string[], opts: { prefix?: string; root?: string } = {}): Promise<Result> {
    return this.start(args, opts).done;
  }

  /** Runs runts and requires exit 0; its stdout. */
  async ok(args: string[]): Promise<string> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(`runts ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** `runts state id`, parsed; null when runts says the container does not exist. */
  async state(id: string): Promise<StateDoc | null> {
    const r = await this.run(["state", id]);
    if (r.code !== 0) {
      assert.match(r.stderr, /does not exist/, `state ${id}: ${r.stderr}`);
      return null;
    }
    return JSON.parse(r.stdout);
  }

  /** The record runts keeps for `id` (state.json). */
  record(id: string): { bootPid: number; pid: number; status: string } {
    return JSON.parse(Deno.readTextFileSync(`${this.root}/${id}/state.json`));
  }

  /** Waits until a process stops at `point`; its pid. */
  async paused(point: string, timeoutMs = 15_000): Promise<number> {
    let pid = 0;
    await waitFor(
      () => {
        for (const e of Deno.readDirSync(this.pauseDir)) {
          if (e.name.startsWith(`${point}.`)) pid = Number(e.name.slice(point.length + 1));
        }
        return pid > 0;
      },
      `a process paused at ${point}`,
      timeoutMs,
    );
    assert.ok(pid > 1, `pause marker of ${point} names pid ${pid}`);
    return pid;
  }

  /** Lets the process paused at `point` go on (a no-op once it is gone). */
  release(point: string): void {
    for (const e of Deno.readDirSync(this.pauseDir)) {
      if (e.name.startsWith(`${point}.`)) Deno.removeSync(`${this.pauseDir}/${e.name}`);
    }
  }

  /** Live processes carrying this world's tag (runts wrappers, boots, inits, apps and their children). */
  processes(): number[] {
    return taggedProcesses(this.tag);
  }

  /**
   * Asserts that nothing of this world is left: no process, no file under the root, no new mount that
   * names one of its paths or its tag, no cgroup directory under its cgroup parent. Processes get a
   * moment to finish exiting.
   */
  async assertClean(what: string): Promise<void> {
    try {
      await waitFor(() => this.processes().length === 0, "processes to exit", 5000);
    } catch {
      assert.deepEqual(describe(this.processes()), [], `${what}: processes left`);
    }
    assert.deepEqual(filesUnder(this.root), [], `${what}: files left under --root`);
    const leaked = mountLines().filter((l) =>
      !this.#mountsBefore.has(l) && (l.includes(this.#scratch) || l.includes(this.tag))
    );
    assert.deepEqual(leaked, [], `${what}: mounts left`);
    assert.deepEqual(cgroupLeaves(this.cgroupParent), [], `${what}: cgroup directories left`);
  }

  /** Force-deletes what is left, kills stragglers by pid, and removes the world's files. */
  async cleanup(): Promise<void> {
    this.#pausePoints = [];
    for (const e of safeReadDir(this.pauseDir)) Deno.removeSync(`${this.pauseDir}/${e}`);
    for (const id of safeReadDir(this.root)) await this.run(["delete", "--force", id]);
    for (const pid of this.processes()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    removeCgroupParent(this.cgroupParent);
    Deno.removeSync(this.#scratch, { recursive: true });
    for (const c of this.#cleanups) c();
  }
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function safeReadDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** The pids whose environment holds RUNTS_TEST_TAG=`tag` (zombies have no environment and don't count). */
export function taggedProcesses(tag: string): number[] {
  const needle = `RUNTS_TEST_TAG=${tag}\0`;
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^[0-9]+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      if (decoder.decode(Deno.readFileSync(`/proc/${e.name}/environ`)).includes(needle)) {
        pids.push(Number(e.name));
      }
    } catch {
      // exited, or a kernel thread
    }
  }
  return pids;
}

/** "pid cmdline" for each pid, for assertion messages. */
export function describe(pids: number[]): string[] {
  return pids.map((p) => `${p} ${readOr(`/proc/${p}/cmdline`).replaceAll("\0", " ").trim()}`);
}

/** The lines of the host's /proc/self/mountinfo, without the mount ids (which change on remounts). */
export function mountLines(path = "/proc/self/mountinfo"): string[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l).map((l) => l.split(" ").slice(4).join(" "));
}

/** Every file and directory under `dir`, relative; [] when it does not exist. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of safeReadDir(d)) {
      out.push(rel + e);
      try {
        if (Deno.lstatSync(`${d}/${e}`).isDirectory) walk(`${d}/${e}`, `${rel}${e}/`);
      } catch {
        // vanished meanwhile
      }
    }
  };
  walk(dir, "");
  return out.sort();
}

/** The cgroup hierarchies mounted under /sys/fs/cgroup (each v1 controller, the unified tree, or v2). */
export function cgroupHierarchies(): string[] {
  const base = "/sys/fs/cgroup";
  const out: string[] = [];
  try {
    if (Deno.statSync(`${base}/cgroup.controllers`).isFile) out.push(base);
  } catch {
    // not a v2 root
  }
  for (const e of safeReadDir(base)) {
    const p = `${base}/${e}`;
    try {
      if (Deno.lstatSync(p).isDirectory && Deno.statSync(`${p}/cgroup.procs`).isFile) out.push(p);
    } catch {
      // not a hierarchy
    }
  }
  return out;
}

/** Directories below `<hierarchy>/<parent>` in any hierarchy (the containers' own cgroups). */
export function cgroupLeaves(parent: string): string[] {
  const out: string[] = [];
  for (const h of cgroupHierarchies()) {
    for (const e of safeReadDir(`${h}/${parent}`)) {
      try {
        if (Deno.lstatSync(`${h}/${parent}/${e}`).isDirectory) out.push(`${h}/${parent}/${e}`);
      } catch {
        // gone
      }
    }
  }
  return out;
}

/** Removes the (empty) `<hierarchy>/<parent>` directories runts may have created as parents. */
export function removeCgroupParent(parent: string): void {
  for (const h of cgroupHierarchies()) {
    try {
      Deno.removeSync(`${h}/${parent}`);
    } catch {
      // absent, or still in use (then assertClean has reported it)
    }
  }
}

/** True while `pid` runs (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** SIGKILLs `pid`, ignoring a process that is already gone. */
export function kill9(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}
