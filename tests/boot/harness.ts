/**
 * Plays the wrapper for `runts boot` against the real kernel: writes a bundle, opens the spec, binds (but
 * does not listen on) the control socket, makes the start-sync pipe, opens the rootfs as the root io-fd,
 * gives the app pipes for stdio, and spawns boot with an exact fd map. Everything that can block is
 * bounded by a deadline (epoll with a timeout), so a broken boot fails a test instead of hanging it.
 */
import { EPOLL, Errno, isErrno, linux as k, O, P, SIGNALS, SOCK, W } from "../../ffi/mod.ts";
import { cachedRootfs } from "../util/rootfs.ts";
import { defaultSpec } from "../../src/specutils/default_spec.ts";
import type { Mount, Spec } from "../../src/specutils/spec.ts";
import { UrpcClient } from "../../src/urpc/client.ts";
import type { WorkerJob, WorkerMessage } from "./client_worker.ts";
import { encodeRequest, MessageReader } from "../../src/urpc/wire.ts";

/** The repository root, from this file's location. */
export const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Boot's fd numbers in the map the harness hands posix_spawn. */
export const FD = {
  bootStdout: 1,
  bootStderr: 2,
  spec: 3,
  controller: 4,
  startSync: 5,
  root: 6,
  mounts: 7,
  appStdin: 10,
  appStdout: 11,
  appStderr: 12,
  userLog: 13,
  /** The first bind-source io-fd; the others follow. */
  firstBind: 14,
} as const;

const decoder = new TextDecoder();
/** An environment variable of every app the harness starts; its value is the run's directory. */
const APP_MARKER = "RUNTS_BOOT_TEST";
const SYNC_TIMEOUT_MS = 15_000;
const EXIT_TIMEOUT_MS = 15_000;

/** How to run one boot. */
export interface BootOptions {
  /** The app's argv; default `["/bin/sh", "-c", script]`. */
  args?: string[];
  /** Shell script for the default argv. */
  script?: string;
  /** Last changes to the spec (from defaultSpec, root = the cached rootfs). */
  mutate?: (spec: Spec) => void;
  /** The root filesystem (root.path and the root io-fd); default: the cached one all tests share. */
  rootfs?: string;
  /** Raw config.json text instead of the spec (for broken specs). */
  specText?: string;
  /** Mount list sent through --mounts-fd (absent: no --mounts-fd). */
  mounts?: Mount[];
  /** Raw text for --mounts-fd. */
  mountsText?: string;
  /** Pass --pidns (default true). */
  pidns?: boolean;
  /** Pass the rootfs as --io-fds (default true). */
  ioRoot?: boolean;
  /** Host paths opened O_PATH and passed as io-fds after the root, one per bind mount in mounts order. */
  bindSources?: string[];
  /** Pass --stdio-fds with pipes (default true). */
  stdio?: boolean;
  /** Pass --user-log-fd with a pipe. */
  userLog?: boolean;
  /** More boot flags (before the id). */
  flags?: string[];
  /** Give every `--flag=value` of the harness's own as two arguments (`--flag value`), as Go's flag allows. */
  separateValues?: boolean;
  /** Global flags (before "boot"). */
  globalFlags?: string[];
  /** Container ids on the command line; default one fresh id. */
  ids?: string[];
  /** Leave these required flags out. */
  omit?: Array<"spec-fd" | "controller-fd" | "start-sync-fd">;
  /**
   * Spawn boot through this launcher, which gets boot's argv appended and boot's fds at the same numbers
   * (plus LAUNCHER_OUT for its own report). Used to give boot a parent that can die.
   */
  launcher?: string[];
}

/** The launcher's report pipe (below 10: dash redirects only single-digit fds). */
export const LAUNCHER_OUT = 9;

/** A finished boot. */
export interface BootExit {
  /** Exit code, or 128+signal when boot was killed. */
  code: number;
  /** True when boot was killed by a signal. */
  signaled: boolean;
  stdout: string;
  stderr: string;
  appStdout: string;
  appStderr: string;
  userLog: string;
}

/** What the sync pipe said. */
export type SyncResult = "byte" | "eof" | "timeout";

/** Resolves true when `fd` becomes readable (or hangs up) within `timeoutMs`. */
export async function waitReadable(fd: number, timeoutMs: number): Promise<boolean> {
  const ep = k.epollCreate();
  try {
    k.epollCtl(ep, EPOLL.CTL_ADD, fd, EPOLL.IN);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = Math.max(0, Math.ceil(deadline - performance.now()));
      let ready: Array<[number, number]>;
      try {
        ready = await k.epollWait(ep, 1, left);
      } catch {
        if (performance.now() < deadline) continue; // interrupted
        return false;
      }
      if (ready.length) return true;
      if (performance.now() >= deadline) return false;
    }
  } finally {
    k.close(ep);
  }
}

/** Reads a non-blocking fd until EOF, or until nothing more arrives within `timeoutMs`. */
export async function drain(fd: number, timeoutMs = 3000): Promise<string> {
  const buf = new Uint8Array(65536);
  let out = "";
  for (;;) {
    let n: number;
    try {
      n = k.read(fd, buf);
    } catch (e) {
      if (!isErrno(e, Errno.EAGAIN)) throw e;
      if (!(await waitReadable(fd, timeoutMs))) return out;
      continue;
    }
    if (n === 0) return out;
    out += decoder.decode(buf.subarray(0, n), { stream: true });
  }
}

/** Reads from a non-blocking fd until `text` has appeared (or the deadline passes); returns all read. */
export async function readUntil(fd: number, text: string, timeoutMs = 10_000): Promise<string> {
  const buf = new Uint8Array(4096);
  const deadline = performance.now() + timeoutMs;
  let out = "";
  while (!out.includes(text)) {
    const left = deadline - performance.now();
    if (left <= 0) {
      throw new Error(`timed out waiting for ${JSON.stringify(text)}; got ${JSON.stringify(out)}`);
    }
    try {
      const n = k.read(fd, buf);
      if (n === 0) throw new Error(`EOF before ${JSON.stringify(text)}; got ${JSON.stringify(out)}`);
      out += decoder.decode(buf.subarray(0, n), { stream: true });
    } catch (e) {
      if (!isErrno(e, Errno.EAGAIN)) throw e;
      await waitReadable(fd, left);
    }
  }
  return out;
}

/** A pipe whose read end (ours) is non-blocking; both ends CLOEXEC. */
function pipe(): [number, number] {
  const [r, w] = k.pipe2(O.CLOEXEC);
  setNonBlocking(r);
  return [r, w];
}

function setNonBlocking(fd: number): void {
  const F_GETFL = 3, F_SETFL = 4;
  k.fcntl(fd, F_SETFL, k.fcntl(fd, F_GETFL) | O.NONBLOCK);
}

function tryClose(fd: number): void {
  try {
    k.close(fd);
  } catch { /* already closed */ }
}

function tryKill(pid: number): void {
  try {
    k.kill(pid, SIGNALS.KILL);
  } catch { /* gone */ }
}

/** True while `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Polls until `pid` is gone or a zombie; false on timeout. */
export async function waitGone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (alive(pid)) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** A field of /proc/PID/status (e.g. "Uid", "CapEff"), or null. */
export function procStatus(pid: number, field: string): string | null {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    return new RegExp(`^${field}:\\s*(.*)$`, "m").exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Host pids whose command line contains `needle`. */
export function pidsWithArg(needle: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmdline.split("\0").some((a) => a.includes(needle))) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** Host pids whose environment contains the entry `entry` (e.g. "TMPDIR=/x"). */
export function pidsWithEnv(entry: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/environ`).split("\0").includes(entry)) {
        out.push(Number(e.name));
      }
    } catch { /* gone, or a kernel thread */ }
  }
  return out;
}

let counter = 0;

/** A fresh container id (unique across concurrent test processes). */
export function freshId(prefix = "bt"): string {
  return `${prefix}-${Deno.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The wrapper's (non-blocking) read ends; -1 where unused. */
interface WrapperFds {
  syncR: number;
  stdoutR: number;
  stderrR: number;
  appOutR: number;
  appErrR: number;
  userLogR: number;
  launcherR: number;
  /** Write end of the app's stdin: closing it releases an app blocked in `read`. */
  gateW: number;
}

/** One boot process and the wrapper's ends of its fds. */
export class BootRun {
  readonly id: string;
  readonly dir: string;
  /** The control socket's path. */
  readonly address: string;
  /** boot's pid (the launcher's when one is used, until bootPid is learned). */
  readonly pid: number;
  /** Milliseconds from spawn to the sync byte (or EOF). */
  syncMs = NaN;
  sync: SyncResult = "timeout";
  /** What /proc/PID/fd/{0,1,2} of the app should read: our three stdio pipes ("pipe:[ino]"). */
  appStdioNames: string[] = [];
  #bootPid: number;
  #exit: BootExit | null = null;
  #clients: UrpcClient[] = [];
  #workers: WorkerCalls[] = [];
  #raw: RawCall[] = [];
  readonly #fds: WrapperFds;
  readonly #spawnedAt: number;

  private constructor(
    id: string,
    dir: string,
    pid: number,
    fds: WrapperFds,
    spawnedAt: number,
  ) {
    this.id = id;
    this.dir = dir;
    this.address = `${dir}/ctl.sock`;
    this.pid = pid;
    this.#bootPid = pid;
    this.#fds = fds;
    this.#spawnedAt = spawnedAt;
  }

  /** Writes the bundle, spawns boot and returns at once (call waitSync next). */
  static spawn(opts: BootOptions = {}): BootRun {
    const id = opts.ids?.[0] ?? freshId();
    const dir = Deno.makeTempDirSync({ prefix: "runts-boot-test-" });
    Deno.mkdirSync(`${dir}/tmp`);
    const rootfs = Deno.realPathSync(opts.rootfs ?? cachedRootfs());
    let specText = opts.specText;
    if (specText === undefined) {
      const spec = defaultSpec({ args: opts.args ?? ["/bin/sh", "-c", opts.script ?? "true"] });
      spec.root = { path: rootfs, readonly: true };
      // Marks the app, so cleanup finds it even when boot is gone (init's setsid takes it out of boot's group).
      spec.process!.env!.push(`${APP_MARKER}=${dir}`);
      opts.mutate?.(spec);
      specText = JSON.stringify(spec);
    }
    Deno.writeTextFileSync(`${dir}/config.json`, specText);

    const ours: number[] = []; // parent-side fds to close after the spawn
    const track = <T extends number>(fd: T) => (ours.push(fd), fd);
    const fds = new Map<number, number>();
    const omit = new Set(opts.omit ?? []);
    const flags: string[] = [`--bundle=${dir}`];

    fds.set(0, track(k.open("/dev/null", O.RDONLY | O.CLOEXEC)));
    const [stdoutR, stdoutW] = pipe();
    const [stderrR, stderrW] = pipe();
    fds.set(FD.bootStdout, track(stdoutW)).set(FD.bootStderr, track(stderrW));

    fds.set(FD.spec, track(k.open(`${dir}/config.json`, O.RDONLY | O.CLOEXEC)));
    if (!omit.has("spec-fd")) flags.push(`--spec-fd=${FD.spec}`);

    const ctl = track(k.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0));
    k.bind(ctl, `${dir}/ctl.sock`);
    fds.set(FD.controller, ctl);
    if (!omit.has("controller-fd")) flags.push(`--controller-fd=${FD.controller}`);

    const [syncR, syncW] = pipe();
    fds.set(FD.startSync, track(syncW));
    if (!omit.has("start-sync-fd")) flags.push(`--start-sync-fd=${FD.startSync}`);

    if (opts.ioRoot ?? true) {
      fds.set(FD.root, track(k.open(rootfs, O.PATH | O.DIRECTORY | O.CLOEXEC)));
      flags.push(`--io-fds=${FD.root}`);
    }
    (opts.bindSources ?? []).forEach((path, i) => {
      fds.set(FD.firstBind + i, track(k.open(path, O.PATH | O.CLOEXEC)));
      flags.push(`--io-fds=${FD.firstBind + i}`);
    });
    if (opts.mounts !== undefined || opts.mountsText !== undefined) {
      const [r, w] = k.pipe2(O.CLOEXEC);
      const bytes = new TextEncoder().encode(opts.mountsText ?? JSON.stringify(opts.mounts));
      for (let off = 0; off < bytes.length;) off += k.write(w, bytes.subarray(off)); // small: fits the pipe
      k.close(w);
      fds.set(FD.mounts, track(r));
      flags.push(`--mounts-fd=${FD.mounts}`);
    }

    let appOutR = -1, appErrR = -1, gateW = -1;
    if (opts.stdio ?? true) {
      const [inR, inW] = k.pipe2(O.CLOEXEC);
      gateW = inW;
      fds.set(FD.appStdin, track(inR));
      const [outR, outW] = pipe();
      const [errR, errW] = pipe();
      appOutR = outR;
      appErrR = errR;
      fds.set(FD.appStdout, track(outW)).set(FD.appStderr, track(errW));
      flags.push(`--stdio-fds=${FD.appStdin}`, `--stdio-fds=${FD.appStdout}`, `--stdio-fds=${FD.appStderr}`);
    }
    let userLogR = -1;
    if (opts.userLog) {
      const [r, w] = pipe();
      userLogR = r;
      fds.set(FD.userLog, track(w));
      flags.push(`--user-log-fd=${FD.userLog}`);
    }
    if (opts.pidns ?? true) flags.push("--pidns");
    if (opts.separateValues) flags.splice(0, flags.length, ...flags.flatMap((a) => a.split(/(?<=^[^=]*)=/)));
    flags.push(...opts.flags ?? []);

    let launcherR = -1;
    let argv = [
      Deno.execPath(),
      "run",
      "-A",
      `${REPO}/main.ts`,
      ...opts.globalFlags ?? [],
      "boot",
      ...flags,
      ...opts.ids ?? [id],
    ];
    if (opts.launcher) {
      const [r, w] = pipe();
      launcherR = r;
      fds.set(LAUNCHER_OUT, track(w));
      argv = [...opts.launcher, ...argv];
    }
    const env = Object.entries({ ...Deno.env.toObject(), TMPDIR: `${dir}/tmp`, NO_COLOR: "1" })
      .map(([n, v]) => `${n}=${v}`);
    const stdioNames = [FD.appStdin, FD.appStdout, FD.appStderr].flatMap((child) => {
      const fd = fds.get(child);
      return fd === undefined ? [] : [`pipe:[${k.fileId(fd).split(":")[1]}]`];
    });
    const spawnedAt = performance.now();
    let pid: number;
    try {
      pid = k.spawn({ path: argv[0], argv, env, fds, setsid: true });
    } catch (e) {
      for (const fd of [syncR, stdoutR, stderrR, appOutR, appErrR, userLogR, launcherR, gateW]) {
        if (fd >= 0) tryClose(fd);
      }
      ours.forEach(tryClose);
      Deno.removeSync(dir, { recursive: true });
      throw e;
    }
    ours.forEach(tryClose);
    const wrapper = { syncR, stdoutR, stderrR, appOutR, appErrR, userLogR, launcherR, gateW };
    const run = new BootRun(id, dir, pid, wrapper, spawnedAt);
    run.appStdioNames = stdioNames;
    return run;
  }

  /** Spawns boot and waits for its sync byte; throws (after cleanup) with boot's stderr if none comes. */
  static async start(opts: BootOptions = {}): Promise<BootRun> {
    const run = BootRun.spawn(opts);
    const sync = await run.waitSync();
    if (sync !== "byte") {
      const exit = await run.exit();
      await run.cleanup();
      throw new Error(`boot gave no sync byte (${sync}); exit ${exit.code}; stderr:\n${exit.stderr}`);
    }
    return run;
  }

  /** boot's pid (under a launcher: read from the launcher's report). */
  get bootPid(): number {
    return this.#bootPid;
  }

  /** Under a launcher: reads boot's pid from the launcher's report pipe. */
  async learnBootPid(): Promise<number> {
    const line = await readUntil(this.#fds.launcherR, "\n");
    this.#bootPid = Number(line.trim());
    return this.#bootPid;
  }

  /** Waits for the sync pipe: one byte, or EOF when boot failed. */
  async waitSync(timeoutMs = SYNC_TIMEOUT_MS): Promise<SyncResult> {
    if (!(await waitReadable(this.#fds.syncR, timeoutMs))) return this.sync = "timeout";
    const buf = new Uint8Array(2);
    const n = k.read(this.#fds.syncR, buf);
    this.syncMs = performance.now() - this.#spawnedAt;
    this.sync = n === 0 ? "eof" : "byte";
    return this.sync;
  }

  /** A new connection to boot's controller (closed by cleanup). */
  client(): UrpcClient {
    const c = UrpcClient.connect(k, this.address);
    this.#clients.push(c);
    return c;
  }

  /** Calls `containerManager.<method>` on a shared connection. */
  call<T = unknown>(method: string, arg: unknown = this.id): T {
    if (!this.#clients.length) this.client();
    return this.#clients[0].call<T>(`containerManager.${method}`, arg);
  }

  /** StartRoot, returning the app's host pid (from State). */
  startRoot(): number {
    this.call("StartRoot");
    return this.call<{ pid: number }>("State").pid;
  }

  /** The app's host pid. */
  appPid(): number {
    return this.call<{ pid: number }>("State").pid;
  }

  /** Closes the app's stdin: an app gated on `read` goes on. */
  release(): void {
    if (this.#fds.gateW >= 0) tryClose(this.#fds.gateW);
    this.#fds.gateW = -1;
  }

  /**
   * Sends Wait on a new connection and resolves once it is surely in flight; `status` then resolves with
   * the wait status, or rejects after `timeoutMs` (killing boot's process group).
   */
  async waitAsync(timeoutMs = EXIT_TIMEOUT_MS): Promise<{ status: Promise<number> }> {
    const call = RawCall.send(this.address, encodeRequest("containerManager.Wait", this.id));
    this.#raw.push(call);
    // Give boot's idle loop a moment to read the request: one still unread when the app exits meets a
    // closed connection (runsc behaves the same; its wrapper then falls back to boot's exit status).
    await delay(50);
    const status = call.reply(timeoutMs).then((raw) => {
      const r = JSON.parse(raw) as { success: boolean; err: string; result: number };
      if (!r.success) throw new Error(`Wait failed: ${r.err}`);
      return r.result;
    }, (e) => {
      this.kill();
      throw e;
    });
    status.catch(() => {}); // the caller may never await it when an earlier step throws
    return { status };
  }

  /** StartRoot, Wait in flight, then release the app's stdin; resolves with the wait status. */
  async startAndWait(timeoutMs = EXIT_TIMEOUT_MS): Promise<number> {
    this.call("StartRoot");
    const { status } = await this.waitAsync(timeoutMs);
    this.release();
    return await status;
  }

  /** Reads the app's stdout until `text` appears (the app keeps running). */
  async appOutputUntil(text: string, timeoutMs?: number): Promise<string> {
    return await readUntil(this.#fds.appOutR, text, timeoutMs);
  }

  /**
   * Waits (bounded) for boot to exit and collects everything it and the app wrote. On timeout boot's
   * process group is killed, and the result says signaled.
   */
  async exit(timeoutMs = EXIT_TIMEOUT_MS): Promise<BootExit> {
    if (this.#exit) return this.#exit;
    const pidfd = k.pidfdOpen(this.pid);
    let info;
    try {
      if (!(await waitReadable(pidfd, timeoutMs))) this.kill();
      info = await k.waitidBlocking(P.PID, this.pid, W.EXITED);
    } finally {
      k.close(pidfd);
    }
    if (!info) throw new Error(`waitid ${this.pid}: nothing`);
    const signaled = info.code !== 1; // CLD_EXITED
    const read = async (fd: number) => fd < 0 ? "" : await drain(fd, 2000);
    this.#exit = {
      code: signaled ? 128 + info.status : info.status,
      signaled,
      stdout: await read(this.#fds.stdoutR),
      stderr: await read(this.#fds.stderrR),
      appStdout: await read(this.#fds.appOutR),
      appStderr: await read(this.#fds.appErrR),
      userLog: await read(this.#fds.userLogR),
    };
    return this.#exit;
  }

  /** SIGKILLs boot's process group (boot, init and the app share it unless the app moved). */
  kill(): void {
    tryKill(-this.pid);
    tryKill(this.pid);
  }

  /** Kills whatever is left, reaps boot, closes every fd and removes the bundle directory. */
  async cleanup(): Promise<void> {
    for (const c of this.#clients) c.close();
    this.#clients = [];
    this.release();
    if (!this.#exit) this.kill();
    // Whatever is left of this run: the app (marked in its environment; init's setsid took it out of boot's
    // group), boot and init (by their TMPDIR). The app must go before exit() drains its pipes.
    for (const p of [...pidsWithEnv(`${APP_MARKER}=${this.dir}`), ...pidsWithEnv(`TMPDIR=${this.dir}/tmp`)]) {
      tryKill(p);
    }
    if (!this.#exit) await this.exit(5000).catch(() => undefined);
    for (const w of this.#workers) await w.finish();
    this.#workers = [];
    for (const c of this.#raw) c.close();
    this.#raw = [];
    for (const fd of Object.values(this.#fds)) if (fd >= 0) tryClose(fd);
    Deno.removeSync(this.dir, { recursive: true });
  }
}

/**
 * One urpc request written on a new connection from the test's own thread; the reply is read through a
 * non-blocking socket and epoll, so waiting for it does not block the thread.
 */
export class RawCall {
  readonly #fd: number;
  #closed = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Connects to `address` and writes `request` (raw bytes). */
  static send(address: string, request: Uint8Array): RawCall {
    const fd = k.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
    try {
      k.connect(fd, address);
      for (let off = 0; off < request.length;) {
        off += k.sendmsg(fd, request.subarray(off), [], SOCK.MSG_NOSIGNAL);
      }
      setNonBlocking(fd);
    } catch (e) {
      k.close(fd);
      throw e;
    }
    return new RawCall(fd);
  }

  /** The reply's raw text (one JSON message); rejects on EOF, reset or timeout. */
  async reply(timeoutMs = EXIT_TIMEOUT_MS): Promise<string> {
    const reader = new MessageReader();
    const buf = new Uint8Array(65536);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const got = k.recvmsg(this.#fd, buf, 0);
      if (got === null) {
        const left = deadline - performance.now();
        if (left <= 0 || !(await waitReadable(this.#fd, left))) {
          throw new Error(`no reply within ${timeoutMs} ms`);
        }
        continue;
      }
      if (got.n === 0) {
        const last = reader.finish();
        if (last) return decoder.decode(last);
        throw new Error("connection closed before a reply");
      }
      const done = reader.push(buf.subarray(0, got.n));
      if (done) return decoder.decode(done.message);
    }
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (!this.#closed) tryClose(this.#fd);
    this.#closed = true;
  }
}

/** One urpc answer from a worker. */
export interface Answer {
  ok: boolean;
  result?: unknown;
  error?: string;
  /** Date.now() when the answer arrived in the worker. */
  at: number;
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Calls made in order on one connection from a Worker, so they may block without stalling the test. */
export class WorkerCalls {
  readonly sending: Promise<void>[];
  readonly #answers: Array<{ promise: Promise<Answer>; resolve: (a: Answer) => void }>;
  readonly #done = deferred<void>();
  readonly #worker: Worker;

  private constructor(worker: Worker, count: number) {
    this.#worker = worker;
    const sending = Array.from({ length: count }, () => deferred<void>());
    this.sending = sending.map((d) => d.promise);
    this.#answers = Array.from({ length: count }, () => deferred<Answer>());
    worker.onmessage = (ev: MessageEvent<WorkerMessage>) => {
      const m = ev.data;
      if (m.type === "sending") sending[m.index].resolve();
      else if (m.type === "done") this.#done.resolve();
      else if (m.index < 0) {
        const failed = { ok: false, error: m.error, at: m.at };
        for (let i = 0; i < count; i++) sending[i].resolve(), this.#answers[i].resolve(failed);
      } else this.#answers[m.index].resolve({ ok: m.ok, result: m.result, error: m.error, at: m.at });
    };
  }

  /** Starts a worker making `calls` on a new connection to `address`. */
  static run(address: string, calls: WorkerJob["calls"]): WorkerCalls {
    const worker = new Worker(new URL("./client_worker.ts", import.meta.url), { type: "module" });
    const w = new WorkerCalls(worker, calls.length);
    worker.postMessage({ address, calls } satisfies WorkerJob);
    return w;
  }

  /** The answer to call `i`; rejects after `timeoutMs`. */
  answer(i: number, timeoutMs = EXIT_TIMEOUT_MS): Promise<Answer> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer to call ${i} within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.#answers[i].promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** Waits (bounded) for the worker to finish its calls, then terminates it. */
  async finish(timeoutMs = 5000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#done.promise, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
    this.#worker.terminate();
  }
}

/** Runs `fn` with a started boot and always cleans up. */
export async function withBoot<T>(opts: BootOptions, fn: (b: BootRun) => Promise<T> | T): Promise<T> {
  const b = await BootRun.start(opts);
  try {
    return await fn(b);
  } finally {
    await b.cleanup();
  }
}

/** What runToExit saw. */
export interface RunResult {
  /** The answer to Wait. */
  waitStatus: number;
  exit: BootExit;
  /** The app's host pid (from State). */
  appPid: number;
  /** Spawn to sync byte, ms. */
  syncMs: number;
}

/**
 * Starts boot, runs the app to its end, and returns the Wait status with boot's exit. A `script` app is
 * gated on its stdin (`read`) so that Wait is in flight before it can exit.
 */
export async function runToExit(opts: BootOptions): Promise<RunResult> {
  const gated = opts.args === undefined
    ? { ...opts, script: `read -r _gate; ${opts.script ?? "true"}` }
    : opts;
  const b = await BootRun.start(gated);
  try {
    b.call("StartRoot");
    const appPid = b.appPid();
    const { status } = await b.waitAsync();
    b.release();
    const waitStatus = await status;
    const exit = await b.exit();
    return { waitStatus, exit, appPid, syncMs: b.syncMs };
  } finally {
    await b.cleanup();
  }
}
