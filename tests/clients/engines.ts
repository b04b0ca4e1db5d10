/**
 * What the engine tests share: installing an engine from Debian when it is missing, a namespace holder
 * that keeps every engine's state private (a mount namespace with tmpfs over /run and /dev/shm, and a
 * network namespace of its own), commands run inside it with a hard timeout, clean-up by pid, and the
 * runts-versus-runc scenario table.
 */
import { cachedRootfs, exists } from "../util/rootfs.ts";

/** The launcher under test. */
export const RUNTS = new URL("../../bin/runts", import.meta.url).pathname;

/** A runtime an engine is pointed at: runts, and runc as the reference. */
export interface Runtime {
  name: "runts" | "runc";
  path: string;
}

/** What one command produced. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The first of `names` found in the usual binary directories, or null. */
export function which(name: string): string | null {
  for (const dir of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    if (exists(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

async function aptGet(args: string[]): Promise<boolean> {
  const out = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output().catch(() => null);
  return out?.success === true;
}

/**
 * Makes sure `binaries` exist, installing `packages` with apt-get when one is missing (root only).
 * Returns null when all are there, else the reason to skip, naming what could not be installed.
 */
export async function ensureInstalled(packages: string[], binaries: string[]): Promise<string | null> {
  const missing = () => binaries.filter((b) => which(b) === null);
  if (missing().length === 0) return null;
  if (Deno.uid() !== 0) {
    return `needs root to install ${packages.join(" ")} (missing: ${missing().join(" ")})`;
  }
  const install = ["install", "-y", "-qq", ...packages];
  if (!(await aptGet(install))) {
    await aptGet(["update", "-qq"]);
    await aptGet(install);
  }
  const still = missing();
  return still.length ? `apt-get install ${packages.join(" ")} failed: ${still.join(" ")} missing` : null;
}

/** The runtimes to compare: runts always; runc when present (installed with the engines' packages). */
export function runtimes(): Runtime[] {
  const rts: Runtime[] = [{ name: "runts", path: RUNTS }];
  const runc = which("runc");
  if (runc) rts.push({ name: "runc", path: runc });
  return rts;
}

/** Quotes `s` for sh. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

function nsLink(pid: number, ns: string): string | null {
  try {
    return Deno.readLinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Options of Holder.run. */
export interface RunOptions {
  /** Text fed on stdin (default: /dev/null). */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** SIGKILL after this long (default 60 s); the result then has code 137 and says so on stderr. */
  timeoutMs?: number;
}

/**
 * A `sleep infinity` in a new mount namespace and network namespace, with tmpfs over /run and /dev/shm:
 * whatever an engine keeps there (runtime state, shim sockets, netns files, CNI leases, libpod's shm
 * locks) stays private and goes with the namespaces; bridges and firewall rules stay in the private
 * network namespace.
 */
export class Holder {
  readonly dir: string;
  #process: Deno.ChildProcess;
  #mntns = "";

  private constructor(readonly pid: number, process: Deno.ChildProcess, dir: string) {
    this.#process = process;
    this.dir = dir;
  }

  /** Starts a holder; `dir` is a private temp dir for the caller's files (removed by stop()). */
  static async start(prefix: string): Promise<Holder> {
    const dir = Deno.makeTempDirSync({ prefix: `runts-${prefix}-` });
    const child = new Deno.Command("unshare", {
      args: ["--mount", "--net", "--propagation", "private", "sleep", "infinity"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const h = new Holder(child.pid, child, dir);
    try {
      for (let i = 0; i < 100 && h.#mntns === ""; i++) {
        const ns = nsLink(child.pid, "mnt");
        if (ns !== null && ns !== nsLink(Deno.pid, "mnt")) h.#mntns = ns;
        else await sleep(10);
      }
      if (h.#mntns === "") throw new Error("the namespace holder did not start");
      const setup = [
        "mount -t tmpfs -o mode=0755 tmpfs /run",
        "mkdir -p /run/lock",
        "mount -t tmpfs -o mode=1777 tmpfs /dev/shm",
        "ip link set lo up",
      ].join(" && ");
      const r = await h.run(["sh", "-c", setup]);
      if (r.code !== 0) throw new Error(`setting up the namespace holder: ${r.stderr}`);
    } catch (e) {
      await h.stop();
      throw e;
    }
    return h;
  }

  /** Runs `cmd` inside the holder's namespaces; stdout and stderr go through files, not pipes. */
  async run(cmd: string[], opts: RunOptions = {}): Promise<Result> {
    const io = Deno.makeTempDirSync({ dir: this.dir, prefix: "io-" });
    try {
      let stdin = "/dev/null";
      if (opts.stdin !== undefined) {
        stdin = `${io}/in`;
        Deno.writeTextFileSync(stdin, opts.stdin);
      }
      // Files, because a daemon started by the command (conmon, a shim) may keep them open.
      const script = `exec nsenter -t "$HOLDER" -m -n -- "$@" <"$IN" >"$OUT" 2>"$ERR"`;
      const child = new Deno.Command("/bin/sh", {
        args: ["-c", script, "sh", ...cmd],
        env: { HOLDER: String(this.pid), IN: stdin, OUT: `${io}/out`, ERR: `${io}/err`, ...opts.env },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          Deno.kill(child.pid, "SIGKILL");
        } catch { /* it exited meanwhile */ }
      }, opts.timeoutMs ?? 60_000);
      const status = await child.status;
      clearTimeout(timer);
      const stderr = Deno.readTextFileSync(`${io}/err`);
      return {
        code: status.code,
        stdout: Deno.readTextFileSync(`${io}/out`),
        stderr: timedOut ? `${stderr}\n(killed after ${opts.timeoutMs ?? 60_000} ms)` : stderr,
      };
    } finally {
      Deno.removeSync(io, { recursive: true });
    }
  }

  /** Starts a long-lived process inside the holder, its output appended to `log`; its pid. */
  daemon(cmd: string[], log: string): number {
    const script = `exec nsenter -t "$HOLDER" -m -n -- "$@" </dev/null >>"$LOG" 2>&1`;
    const child = new Deno.Command("/bin/sh", {
      args: ["-c", script, "sh", ...cmd],
      env: { HOLDER: String(this.pid), LOG: log },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.status.catch(() => {});
    return child.pid;
  }

  /** Pids of every process in the holder's mount namespace except the holder itself. */
  processes(): number[] {
    const pids: number[] = [];
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      const pid = Number(e.name);
      if (pid !== this.pid && nsLink(pid, "mnt") === this.#mntns) pids.push(pid);
    }
    return pids;
  }

  /**
   * Ends everything left in the namespaces, by pid (TERM, then KILL after a second), then the holder,
   * and removes the temp dir.
   */
  async stop(): Promise<void> {
    for (const sig of ["SIGTERM", "SIGKILL"] as const) {
      const left = this.#mntns ? this.processes() : [];
      for (const pid of left) {
        try {
          Deno.kill(pid, sig);
        } catch { /* gone already */ }
      }
      for (let i = 0; i < 50 && left.some(alive); i++) await sleep(20);
    }
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch { /* gone already */ }
    await this.#process.status;
    Deno.removeSync(this.dir, { recursive: true });
  }
}

/** A tarball of the test rootfs (numeric owners, no leading "./" surprises), written to `path`. */
export async function rootfsTarball(path: string): Promise<void> {
  const rootfs = Deno.realPathSync(cachedRootfs());
  const out = await new Deno.Command("tar", {
    args: ["--numeric-owner", "-C", rootfs, "-cf", path, "."],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`tar: ${new TextDecoder().decode(out.stderr)}`);
}

/** Polls `pred` every 50 ms until it holds or `timeoutMs` passes (then throws naming `what`). */
export async function waitFor(pred: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Scenario outcomes per runtime, printed side by side at the end of an engine's test. */
export class ScenarioTable {
  readonly #rows = new Map<string, Map<string, string>>();

  constructor(readonly engine: string, readonly runtimes: readonly string[]) {}

  /** Records one outcome ("pass", "FAIL", "skip: …"). */
  record(scenario: string, runtime: string, outcome: string): void {
    if (!this.#rows.has(scenario)) this.#rows.set(scenario, new Map());
    this.#rows.get(scenario)!.set(runtime, outcome);
  }

  /** The table as Markdown. */
  markdown(): string {
    const head = `| ${this.engine} scenario | ${this.runtimes.join(" | ")} |`;
    const rule = `| --- | ${this.runtimes.map(() => "---").join(" | ")} |`;
    const rows = [...this.#rows].map(([s, r]) =>
      `| ${s} | ${this.runtimes.map((rt) => r.get(rt) ?? "-").join(" | ")} |`
    );
    return [head, rule, ...rows].join("\n");
  }

  /** Prints the table, and appends it to $RUNTS_SCENARIO_TABLE when that names a file. */
  print(): void {
    const md = this.markdown();
    console.log(`\n${md}\n`);
    const file = Deno.env.get("RUNTS_SCENARIO_TABLE");
    if (file) Deno.writeTextFileSync(file, md + "\n\n", { append: true });
  }
}

/** What a scenario step gets. */
export interface ScenarioContext {
  rt: Runtime;
  /** A name unique to this scenario and runtime (container names, ids). */
  name: string;
}

/** One scenario: run once per runtime. */
export interface Scenario<E> {
  name: string;
  fn: (env: E, ctx: ScenarioContext) => Promise<void>;
}

/**
 * Runs every scenario with every runtime as test steps named "<runtime>: <scenario>", recording each
 * outcome in `table`. A failing step fails the test, whichever runtime it was. $RUNTS_SCENARIO_FILTER
 * narrows the scenarios to those whose names match it.
 */
export async function runScenarios<E>(
  t: Deno.TestContext,
  env: E,
  scenarios: readonly Scenario<E>[],
  rts: readonly Runtime[],
  table: ScenarioTable,
): Promise<void> {
  let n = 0;
  // RUNTS_SCENARIO_FILTER (a regular expression) runs only the scenarios whose names match it.
  const only = Deno.env.get("RUNTS_SCENARIO_FILTER");
  for (const s of scenarios) {
    if (only && !new RegExp(only).test(s.name)) continue;
    for (const rt of rts) {
      const name = `${rt.name}-${(n++).toString(36)}-${crypto.randomUUID().slice(0, 6)}`;
      const passed = await t.step(`${rt.name}: ${s.name}`, () => s.fn(env, { rt, name }));
      table.record(s.name, rt.name, passed ? "pass" : "FAIL");
    }
  }
}
