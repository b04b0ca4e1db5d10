/**
 * One container as the wrapper sees it (runsc's container.Container): create spawns boot and records
 * the state; every later operation loads the record and talks to boot over its control socket.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { O, SIGNALS } from "../../ffi/consts.ts";
import { Errno, errnoText } from "../../ffi/errno.ts";
import { isErrno, SyscallError } from "../../ffi/error.ts";
import type { Config } from "../config/config.ts";
import { log, nowRfc3339Nano, warnCaller } from "../log/log.ts";
import type { Process, Spec } from "../specutils/spec.ts";
import { absOf, clean } from "../specutils/path.ts";
import { controlAddress } from "../sandbox/boot_args.ts";
import { Control, type ExecArgs, SignalMode } from "../sandbox/control.ts";
import { resolveMounts } from "../sandbox/mounts.ts";
import {
  closeConsoleChannel,
  type ConsoleChannel,
  openConsoleChannel,
  receiveConsole,
  sendConsole,
  sendFd,
} from "../sandbox/pty.ts";
import {
  abandonCreate,
  confirmCreated,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from "../sandbox/sandbox.ts";
import type { Loader } from "../boot/loader.ts";
import { sleepSync } from "../util/sleep.ts";
import { testPause } from "../boot/test_pause.ts";
import { RemoteError } from "../urpc/client.ts";
import { NoReplyError, PendingCall } from "../sandbox/pending_call.ts";
import { ContainerError } from "./errors.ts";
import { type HookState, runHooks, runHooksBestEffort } from "./hooks.ts";
import { validateID } from "./id.ts";
import { FileLock } from "./lock.ts";
import { isAlive, readProcStat } from "./proc.ts";
import { type LiveState, resolveLiveState } from "./status.ts";
import { type ContainerRecord, StateDir, type Status } from "./state_file.ts";
import { writeFileAtomic } from "./atomic.ts";
import { stage } from "../util/stages.ts";

/**
 * Modules that only create, delete and exec need (spec validation, cgroups, exec spawning): imported on
 * demand, each by the commands that use it, so that state, kill, start, ps and list start faster.
 */
interface HeavyModules {
  readSpecFromFile: typeof import("../specutils/specutils.ts").readSpecFromFile;
  cgroups: typeof import("../cgroups/container.ts");
  spawnDetachedExec: typeof import("../sandbox/exec.ts").spawnDetachedExec;
  inProcess: typeof import("../sandbox/in_process.ts") | null;
}

/** The groups of HeavyModules a command loads. */
export type ContainerModule = "specutils" | "cgroups" | "exec";

const heavy: Partial<HeavyModules> = {};

/** Loads the modules of `parts` (all by default); call before the Container methods that need them. */
export async function loadContainerModules(
  parts: readonly ContainerModule[] = ["specutils", "cgroups", "exec"],
): Promise<void> {
  await Promise.all(parts.map(async (part) => {
    switch (part) {
      case "specutils":
        heavy.readSpecFromFile ??= (await import("../specutils/specutils.ts")).readSpecFromFile;
        break;
      case "cgroups":
        heavy.cgroups ??= await import("../cgroups/container.ts");
        break;
      case "exec":
        heavy.spawnDetachedExec ??= (await import("../sandbox/exec.ts")).spawnDetachedExec;
        break;
    }
  }));
}

/** src/sandbox/in_process.ts (the loader and everything boot needs), loaded only by a foreground `run`. */
async function loadInProcess(): Promise<typeof import("../sandbox/in_process.ts")> {
  heavy.inProcess ??= await import("../sandbox/in_process.ts");
  return heavy.inProcess;
}

function loaded<K extends keyof HeavyModules>(key: K): NonNullable<HeavyModules[K]> {
  const m = heavy[key];
  if (!m) throw new Error(`internal error: loadContainerModules() did not load ${key}`);
  return m as NonNullable<HeavyModules[K]>;
}

function modules(): Omit<HeavyModules, "inProcess"> {
  return {
    get readSpecFromFile() {
      return loaded("readSpecFromFile");
    },
    get cgroups() {
      return loaded("cgroups");
    },
    get spawnDetachedExec() {
      return loaded("spawnDetachedExec");
    },
  };
}

/** The runtime-spec version of the state documents runts prints. */
export const OCI_VERSION = "1.2.0";

/** How long delete waits for boot to go after killing the container. */
const STOP_TIMEOUT_MS = 10_000;

/** How long delete waits for boot to answer its kill request before killing boot itself. */
const BOOT_ANSWER_MS = 2_000;

/** How long delete waits for the host's init to reap an orphaned zombie of the container's process. */
const ZOMBIE_WAIT_MS = 5_000;

/** The runtime-spec state document (`runts state`), with runc's extra fields, in runc's order. */
export interface StateDocument {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  /** The root filesystem's absolute path. */
  rootfs: string;
  /** When create began, RFC 3339 in UTC. */
  created: string;
  /** Always empty, as in runc's state (only `list` names the owner). */
  owner: string;
  annotations?: Record<string, string>;
}

/** Options of Container.create. */
export interface CreateOptions {
  id: string;
  /** The bundle directory as given (relative to the current directory or absolute). */
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  /** runc's --pidfd-socket: receives a pidfd of the container's process. */
  pidfdSocket?: string;
  /** Number of fds above stdio (3, 4, ...) to hand to the container (--preserve-fds). */
  preserveFds?: number;
  /** `run` without --detach: boot dies with the wrapper, and a terminal may be relayed. */
  attached?: boolean;
  /** chroot instead of pivot_root (--no-pivot). */
  noPivot?: boolean;
  /** `run` in the foreground: this process hosts the loader (src/sandbox/in_process.ts) where it can. */
  inProcess?: boolean;
}

/** The loader of a container that this process hosts (`run`), and whether it is released. */
interface HostedLoader {
  loader: Loader;
  released: boolean;
  destroyed: Promise<void>;
}

/** A spec create accepts: it names a process and a root. */
export type CreatableSpec = Spec & { process: Process; root: { path: string; readonly?: boolean } };

/**
 * Opens `bundle`/config.json and reads it as create does (validated, paths made absolute, warnings to
 * `warn`); the spec must name a process and a root. Returns the spec and the open fd, which boot is handed
 * and the caller closes. Needs loadContainerModules().
 */
export function openBundleSpec(
  k: Kernel,
  bundle: string,
  warn: (w: string) => void,
): { spec: CreatableSpec; specFd: number } {
  let specFd: number;
  try {
    specFd = k.open(`${bundle}/config.json`, O.RDONLY | O.CLOEXEC);
  } catch (e) {
    throw new ContainerError("invalid", `cannot open ${bundle}/config.json: ${(e as Error).message}`);
  }
  try {
    const spec = modules().readSpecFromFile(k, bundle, specFd, warn);
    if (!spec.process) throw new ContainerError("invalid", "spec has no process");
    if (!spec.root?.path) throw new ContainerError("invalid", "spec has no root.path");
    return { spec: spec as CreatableSpec, specFd };
  } catch (e) {
    k.close(specFd);
    throw e;
  }
}

/** The state root as an absolute path. */
export function stateRoot(conf: Config): string {
  return absOf(Deno.cwd(), conf.root);
}

/** A loaded container. */
export class Container {
  /** The lock this process took with lock(), if any. */
  #ownLock: FileLock | undefined;
  /** This process's loader, when `run` hosts it. */
  #hosted: HostedLoader | undefined;

  private constructor(
    private readonly k: Kernel,
    readonly dir: StateDir,
    public rec: ContainerRecord,
  ) {}

  /** Loads container `id` from the state root; ContainerError("not-exist") when it is unknown. */
  static load(k: Kernel, root: string, id: string): Container {
    validateID(id);
    const dir = new StateDir(root, id);
    return new Container(k, dir, dir.load());
  }

  /**
   * Creates the container (runsc's container.New + the create half of Start): spawns boot, waits until
   * it created the container, runs the create hooks and records status "created". Returns the
   * container and, for a terminal relayed by `run`, the pty master the caller now owns.
   */
  static async create(
    k: Kernel,
    conf: Config,
    opts: CreateOptions,
  ): Promise<{ container: Container; ttyMaster?: number }> {
    validateID(opts.id);
    stage("create");
    await loadContainerModules(["specutils", "cgroups"]);
    stage("container modules loaded");
    const bundle = absOf(Deno.cwd(), opts.bundle);
    const dir = new StateDir(stateRoot(conf), opts.id);
    dir.createExclusive();
    let lock: FileLock | undefined;
    let specFd = -1;
    let pty: ConsoleChannel | undefined;
    let c: Container | undefined;
    let sandbox: Sandbox | undefined;
    let cgroupFds: number[] = [];
    let ttyMaster: number | undefined;
    let pidFileWritten = false;
    try {
      lock = FileLock.acquire(k, dir.lockPath, true)!;
      const opened = openBundleSpec(k, bundle, (w) => log.warning(w));
      specFd = opened.specFd;
      const spec = opened.spec;
      const terminal = spec.process.terminal === true;
      checkTerminal(k, terminal, opts.consoleSocket, opts.attached === true);

      const random = crypto.randomUUID().slice(0, 8);
      c = new Container(k, dir, {
        version: 1,
        id: opts.id,
        bundle,
        rootfs: spec.root.path,
        status: "creating",
        pid: 0,
        bootPid: 0,
        bootStartTime: "",
        controlAddress: controlAddress(dir.socketPath, opts.id, random),
        created: nowRfc3339Nano(),
        owner: userName(k.getuid()),
        annotations: spec.annotations ?? {},
        spec,
      });
      // First saved with the cgroups it plans (each save costs a file creation and a rename).
      stage("spec read and validated");
      log.debug(`container ${opts.id}: spec read and validated`);
      // The cgroups exist, limits set, before boot starts; init joins them before it execs the app.
      c.rec.cgroups = modules().cgroups.setUpCgroups(k, spec, opts.id, {
        systemd: conf.systemdCgroup,
        rootless: conf.rootless,
        warn: (m) => log.warning(m),
        record: (rec) => (c!.rec.cgroups = rec, c!.save()),
      }) ?? undefined;
      c.save(); // a no-op when the cgroups' last record was saved as it is
      if (c.rec.cgroups) cgroupFds = modules().cgroups.openCgroupDirs(k, c.rec.cgroups);
      stage("cgroups ready");
      log.debug(`container ${opts.id}: cgroups ready`);

      let stdio: [number, number, number] = [0, 1, 2];
      if (terminal) {
        // init makes the pty inside the container and sends the master back (src/init/console.ts).
        pty = openConsoleChannel(k);
        stdio = [pty.inner, pty.inner, pty.inner];
      }
      const pidns = spec.linux?.namespaces?.some((ns) => ns.type === "pid" && !ns.path) ?? false;
      const preserved = Array.from({ length: opts.preserveFds ?? 0 }, (_, i) => 3 + i);
      const sandboxOpts: SandboxOptions = {
        id: opts.id,
        bundle,
        rootfs: spec.root.path,
        mounts: resolveMounts(spec.mounts, bundle),
        specFd,
        stdio,
        preserved,
        controlAddress: c.rec.controlAddress,
        bootLog: dir.bootLogPath,
        globalFlags: conf.toFlags(),
        pidns,
        attached: opts.attached === true,
        noPivot: opts.noPivot === true,
        exitStatusFile: dir.exitStatusPath,
        cgroupFds,
        totalMemory: totalMemoryFlag(spec),
        onSpawned: (pid) => {
          // Recorded before boot is ready, so that delete can find a boot whose creator died.
          c!.rec.bootPid = pid;
          c!.rec.bootStartTime = readProcStat(pid)?.startTime ?? "";
          c!.save();
        },
      };
      const inProcess = opts.inProcess ? await loadInProcess() : null;
      if (inProcess?.canHostLoader(sandboxOpts)) {
        const hosted = inProcess.startInProcess(k, conf, spec, sandboxOpts);
        sandbox = hosted.sandbox;
        c.#hosted = { loader: hosted.loader, released: false, destroyed: Promise.resolve() };
      } else {
        sandbox = startSandbox(k, sandboxOpts);
      }
      stage("boot reports created");
      log.debug(`container ${opts.id}: boot ${sandbox.pid} reports it created`);
      c.rec.bootPid = sandbox.pid;
      c.rec.bootStartTime = sandbox.startTime;
      c.rec.pid = c.control().state(opts.id).pid;
      c.rec.pidStartTime = readProcStat(c.rec.pid)?.startTime;
      c.save();
      testPause("create-after-sync");

      if (pty) {
        const master = receiveConsole(k, pty);
        pty = undefined;
        if (opts.consoleSocket) {
          try {
            sendConsole(k, opts.consoleSocket, master);
          } finally {
            k.close(master);
          }
        } else {
          ttyMaster = master;
        }
      }

      // "created": the runtime-spec lifecycle gives that status once the environment exists (step 2), which
      // is before these hooks; crun and runtime-tools' hooks_stdin agree (runc passes "creating").
      const hookState = c.hookState("created");
      await runHooks(k, "prestart", spec.hooks, hookState);
      await runHooks(k, "createRuntime", spec.hooks, hookState);
      await runHooks(k, "createContainer", spec.hooks, hookState);

      c.rec.status = "created";
      c.save();
      stage("created");
      log.debug(`container ${opts.id}: created`);
      if (opts.pidFile) {
        writeFileAtomic(absOf(Deno.cwd(), opts.pidFile), String(c.rec.pid));
        pidFileWritten = true;
      }
      if (opts.pidfdSocket) {
        const pidfd = k.pidfdOpen(c.rec.pid);
        try {
          sendFd(k, opts.pidfdSocket, pidfd, opts.id);
        } finally {
          k.close(pidfd);
        }
      }
      confirmCreated(k, sandbox);
      return { container: c, ttyMaster };
    } catch (e) {
      // Undo everything; a failing step here must not hide the error that brought us here. Fds go
      // first: the error may be EMFILE, and the undoing needs a few.
      const undo = (what: string, fn: () => void) => {
        try {
          fn();
        } catch (err) {
          log.warning(`creating container ${opts.id} failed; ${what}: ${(err as Error).message}`);
        }
      };
      if (pty) {
        const p = pty;
        undo("closing the console channel", () => closeConsoleChannel(k, p));
      }
      if (ttyMaster !== undefined) {
        const m = ttyMaster;
        undo("closing the terminal", () => k.close(m));
      }
      if (pidFileWritten && opts.pidFile) {
        const path = absOf(Deno.cwd(), opts.pidFile);
        undo("removing the pid file", () => Deno.removeSync(path));
      }
      if (specFd >= 0) undo("closing the spec", () => k.close(specFd));
      specFd = -1;
      if (sandbox) {
        const sb = sandbox;
        undo("releasing boot", () => abandonCreate(k, sb));
      }
      if (c && c.rec.bootPid > 0) undo("killing the container", () => c!.kill());
      if (c?.rec.cgroups) {
        undo("removing its cgroups", () => modules().cgroups.removeCgroups(k, c!.rec.cgroups!));
      }
      undo("removing its state", () => dir.remove());
      throw e;
    } finally {
      if (specFd >= 0) k.close(specFd);
      for (const fd of cgroupFds) k.close(fd);
      lock?.release();
    }
  }

  /** The container's id. */
  get id(): string {
    return this.rec.id;
  }

  /** The container's spec, as read at create time. */
  get spec(): Spec {
    return this.rec.spec;
  }

  /** A client for boot's controller (this process's own loader, when `run` hosts it). */
  control(): Control {
    const h = this.#hosted;
    if (h && !h.released) {
      return new Control(this.k, this.rec.controlAddress, (m, a) => h.loader.callLocal(m, a));
    }
    return new Control(this.k, this.rec.controlAddress);
  }

  /**
   * Stops this process's loader (`run` hosts it) once the app has exited and its waiters are answered,
   * or at once (`graceMs` 0) to tear the container down; from then on the container is as a stopped one
   * whose boot is gone. A no-op for a container with a separate boot.
   */
  async releaseHosted(graceMs = 2000): Promise<void> {
    const h = this.#hosted;
    if (!h) return;
    if (!h.released) {
      h.released = true;
      h.destroyed = h.loader.destroy(graceMs);
    }
    await h.destroyed;
  }

  /** Takes the container's lock (exclusive); reloads the record under it. */
  lock(): FileLock {
    let l: FileLock;
    try {
      l = FileLock.acquire(this.k, this.dir.lockPath, true)!;
    } catch (e) {
      // A delete removed the whole directory since we loaded the record.
      if (isErrno(e, Errno.ENOENT)) {
        throw new ContainerError("not-exist", `container ${this.id} does not exist`);
      }
      throw e;
    }
    try {
      this.rec = this.dir.load();
    } catch (e) {
      l.release();
      throw e;
    }
    this.#ownLock = l;
    return l;
  }

  /** Writes the record. */
  save(): void {
    this.dir.save(this.rec);
  }

  /** The live status and pid (see status.ts). */
  liveState(): LiveState {
    return resolveLiveState(this.rec, {
      recordedExit: () => this.dir.readExitStatus(this.rec.pid),
      // flock conflicts between our own open files too: while this command holds the lock, no create runs.
      createInProgress: () => !this.#ownLock?.held && FileLock.isHeld(this.k, this.dir.lockPath),
      bootAlive: (rec) => this.bootAlive(rec),
      bootState: (rec) => {
        try {
          return this.control().state(rec.id, BOOT_ANSWER_MS);
        } catch (e) {
          // A boot that answers with an error, or not at all, still runs: the record is the best guess.
          if (e instanceof RemoteError || e instanceof NoReplyError) throw e;
          return null;
        }
      },
    });
  }

  /** The runtime-spec state document for `live`. */
  stateDocument(live: LiveState = this.liveState()): StateDocument {
    const doc: StateDocument = {
      ociVersion: OCI_VERSION,
      id: this.id,
      pid: live.status === "stopped" ? 0 : live.pid,
      status: live.status,
      bundle: this.rec.bundle,
      rootfs: clean(absOf(this.rec.bundle, this.rec.rootfs)),
      created: this.rec.created,
      owner: "",
    };
    if (Object.keys(this.rec.annotations).length > 0) doc.annotations = this.rec.annotations;
    return doc;
  }

  /** The state a hook reads on stdin, with `status`. */
  hookState(status: Status): HookState {
    const s: HookState = {
      ociVersion: OCI_VERSION,
      id: this.id,
      status,
      pid: this.rec.pid,
      bundle: this.rec.bundle,
    };
    if (Object.keys(this.rec.annotations).length > 0) s.annotations = this.rec.annotations;
    return s;
  }

  /**
   * Starts a created container: startContainer hooks, StartRoot, status "running", poststart hooks.
   * Takes the lock itself.
   */
  async start(): Promise<void> {
    // A failing startContainer hook kills the container, which thaws its cgroups first.
    if (this.spec.hooks?.startContainer?.length) await loadContainerModules(["cgroups"]);
    stage("start: modules");
    const lock = this.lock();
    stage("start: locked");
    try {
      const live = this.liveState();
      stage("start: live state");
      if (live.status !== "created") {
        const why = live.status === "stopped"
          ? "cannot start a container that has stopped"
          : live.status === "creating"
          ? "cannot start a container that is being created"
          : `cannot start an already ${live.status} container`;
        throw new ContainerError("bad-state", why);
      }
      try {
        await runHooks(this.k, "startContainer", this.spec.hooks, this.hookState("created"));
      } catch (e) {
        this.kill();
        throw e;
      }
      testPause("start-before-startroot");
      this.control().startRoot(this.id);
      stage("start: StartRoot");
      this.rec.status = "running";
      try {
        this.save();
      } catch (e) {
        // The app runs: failing start now would misreport it. The record is a hint; boot tells the truth.
        log.warning(`container ${this.id} started; ${(e as Error).message}`);
      }
    } finally {
      lock.release();
    }
    await runHooksBestEffort(
      this.k,
      "poststart",
      this.spec.hooks,
      this.hookState("running"),
      warnCaller,
    );
  }

  /** Sends `signo` to the container's process, or to all its processes. Created containers accept it. */
  signal(signo: number, all: boolean): void {
    const live = this.liveState();
    if (live.status === "stopped") throw new ContainerError("not-running", "container not running");
    if (live.status === "creating") {
      throw new ContainerError("bad-state", `container ${this.id} is being created`);
    }
    try {
      this.control().signal(this.id, signo, all ? SignalMode.All : SignalMode.Process);
    } catch (e) {
      throw this.notRunningOr(e);
    }
  }

  /**
   * `e` from a call to boot, or "container not running" when it is a connection failure because boot
   * is gone or no longer serving (it stops listening as soon as the app has exited).
   */
  notRunningOr(e: unknown): unknown {
    if (e instanceof RemoteError || this.bootServing()) return e;
    return new ContainerError("not-running", "container not running");
  }

  /**
   * The wait status of exec'd process `pid` when WaitPID could not be asked (boot stopped serving
   * meanwhile): boot records it before it stops, so this waits for boot to finish and reads the record.
   * Null when there is none.
   */
  recordedExecStatus(pid: number): number | null {
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    for (;;) {
      const ws = this.dir.readExitStatus(pid);
      if (ws !== null || !this.bootAlive(this.rec) || Date.now() > deadline) {
        return ws ?? this.dir.readExitStatus(pid);
      }
      sleepSync(20);
    }
  }

  /** Freezes (pause) or thaws (resume) the container through boot. Takes the lock itself. */
  setPaused(paused: boolean): void {
    const lock = this.lock();
    try {
      const live = this.liveState();
      const want = paused ? "running" : "paused";
      if (live.status !== want) {
        throw new ContainerError("bad-state", `container ${this.id} is ${live.status}, not ${want}`);
      }
      if (paused) this.control().pause(this.id);
      else this.control().resume(this.id);
      this.rec.status = paused ? "paused" : "running";
      this.save();
    } finally {
      lock.release();
    }
  }

  /**
   * Deletes the container (runsc's Destroy): refuses a running or paused one unless `force`, kills
   * what is left, waits for boot to go, runs the poststop hooks and removes the state. Takes the lock.
   */
  async delete(force: boolean): Promise<void> {
    await loadContainerModules(["cgroups"]);
    stage("delete: modules");
    const lock = this.lock();
    try {
      const live = this.liveState();
      stage("delete: live state");
      if ((live.status === "running" || live.status === "paused") && !force) {
        throw new ContainerError(
          "bad-state",
          `cannot delete container ${this.id} that is not stopped: ${live.status}`,
        );
      }
      if (live.status !== "stopped" || this.bootAlive(this.rec)) this.kill();
      else this.awaitOrphanReaped();
      stage("delete: killed");
      if (this.rec.bootPid > 0 && this.rec.status !== "creating") {
        await runHooksBestEffort(
          this.k,
          "poststop",
          this.spec.hooks,
          this.hookState("stopped"),
          warnCaller,
        );
      }
      await this.releaseHosted(0);
      testPause("delete-before-remove");
      this.removeCgroup();
      stage("delete: cgroups removed");
      this.dir.remove();
    } finally {
      lock.release();
    }
  }

  /**
   * Kills every process of the container and waits (up to 10 s) for boot to exit; boot itself gets
   * SIGKILL if it lingers. Errors are logged: this is the path of last resort.
   */
  kill(): void {
    let hung = false;
    if (this.#hosted && !this.#hosted.released) {
      try {
        this.control().signal(this.id, SIGNALS.KILL, SignalMode.All);
      } catch (e) {
        log.debug(`killing container ${this.id}: ${(e as Error).message}`);
      }
      // Destroying kills what is left of the app; delete() awaits it.
      this.releaseHosted(0).catch((e) => log.warning(`stopping the loader: ${(e as Error).message}`));
    } else {
      hung = this.killThroughBoot();
    }
    this.reapBootAndApp(hung);
  }

  /** Asks boot to kill every process; true when boot did not answer in time. */
  private killThroughBoot(): boolean {
    let hung = false;
    try {
      // Bounded: a boot that does not answer (stopped, wedged) is killed instead of waited for.
      PendingCall.send(this.k, this.rec.controlAddress, "containerManager.Signal", {
        CID: this.id,
        Signo: SIGNALS.KILL,
        PID: 0,
        Mode: SignalMode.All,
      }).finish(BOOT_ANSWER_MS);
    } catch (e) {
      hung = e instanceof NoReplyError;
      log.debug(`killing container ${this.id} through boot: ${(e as Error).message}`);
    }
    return hung;
  }

  /** After the kill: thaws, waits for boot to go (killing it if it lingers), and kills the app if left. */
  private reapBootAndApp(hung: boolean): void {
    // Frozen (paused) processes do not die until they are thawed.
    if (this.rec.cgroups) {
      try {
        modules().cgroups.thawCgroups(this.k, this.rec.cgroups);
      } catch (e) {
        log.warning(`thawing container ${this.id}: ${(e as Error).message}`);
      }
    }
    const deadline = hung ? 0 : Date.now() + STOP_TIMEOUT_MS;
    // boot usually goes within a few ms: poll fast first, then every 20 ms.
    for (let ms = 1; this.bootAlive(this.rec) && Date.now() < deadline; ms = Math.min(2 * ms, 20)) {
      sleepSync(ms);
    }
    if (this.bootAlive(this.rec)) {
      try {
        this.k.kill(this.rec.bootPid, SIGNALS.KILL);
      } catch (e) {
        log.debug(`killing boot ${this.rec.bootPid}: ${(e as Error).message}`);
      }
    }
    // The app dies with boot (parent-death signal), unless it undid that itself or exec'd a set-id
    // program: kill it directly if it is still the process we recorded.
    const appAlive = () => isAlive(this.rec.pid, this.rec.pidStartTime);
    if (this.rec.pid > 0 && this.rec.pidStartTime && appAlive()) {
      try {
        this.k.kill(this.rec.pid, SIGNALS.KILL);
      } catch (e) {
        log.debug(`killing the container's process ${this.rec.pid}: ${(e as Error).message}`);
      }
      // With a pid namespace its end takes every other process of the namespace along: wait for it.
      const end = Date.now() + BOOT_ANSWER_MS;
      for (let ms = 1; appAlive() && Date.now() < end; ms = Math.min(2 * ms, 20)) sleepSync(ms);
    }
    this.awaitOrphanReaped();
  }

  /**
   * A zombie of the container's process whose parent (boot, or the `run` that hosted the loader) was
   * killed goes to the host's init, which may take a second or two to reap it; until then it holds the pid
   * namespace. Waits for that, up to ZOMBIE_WAIT_MS.
   */
  private awaitOrphanReaped(): void {
    const zombie = () => {
      const st = this.rec.pid > 0 && this.rec.pidStartTime ? readProcStat(this.rec.pid) : null;
      return st !== null && st.startTime === this.rec.pidStartTime && st.state === "Z";
    };
    const end = Date.now() + ZOMBIE_WAIT_MS;
    for (let ms = 1; zombie() && !this.bootAlive(this.rec) && Date.now() < end; ms = Math.min(2 * ms, 50)) {
      sleepSync(ms);
    }
  }

  /**
   * Blocks until the container's process exits; its raw wait status. When boot is gone (or stops
   * serving while we ask), the status boot left in the state directory; null when there is none.
   */
  waitStatus(): number | null {
    const live = this.liveState();
    if (live.status !== "stopped") {
      try {
        return this.control().wait(this.id);
      } catch (e) {
        if (e instanceof RemoteError || this.bootServing()) throw e;
      }
    }
    const ws = live.exitStatus ?? this.dir.readExitStatus(this.rec.pid);
    // A delete that ran meanwhile took the status with it: for this caller the container is gone.
    if (ws === null && !this.dir.exists()) {
      throw new ContainerError("not-exist", `container ${this.id} does not exist`);
    }
    return ws;
  }

  /** True when boot runs and its controller answers. */
  private bootServing(): boolean {
    if (!this.bootAlive(this.rec)) return false;
    try {
      this.control().state(this.id, BOOT_ANSWER_MS);
      return true;
    } catch (e) {
      // A remote error, or no answer in time from a boot that still runs (stopped, say): it is there.
      return e instanceof RemoteError || e instanceof NoReplyError;
    }
  }

  /** Starts `process` in the running container with `stdio`; its host pid. */
  execute(process: Process, stdio: [number, number, number], detached = false): number {
    const live = this.liveState();
    if (live.status !== "running") {
      throw new ContainerError("bad-state", `cannot exec in a ${live.status} container`);
    }
    const args: ExecArgs = {
      Filename: process.args?.[0] ?? "",
      argv: process.args ?? [],
      envv: process.env ?? [],
      wd: process.cwd,
      KUID: process.user.uid,
      KGID: process.user.gid,
      ExtraKGIDs: process.user.additionalGids ?? [],
      Capabilities: process.capabilities ?? null,
      StdioIsPty: process.terminal === true,
      ContainerID: this.id,
      ProcessJSON: JSON.stringify(process),
      Detached: detached,
    };
    try {
      // Detached: our own child, so that it ends up with the engine's subreaper (src/sandbox/exec.ts).
      if (detached) return modules().spawnDetachedExec(this.k, this.control(), args, stdio);
      return this.control().executeAsync(args, stdio);
    } catch (e) {
      throw this.notRunningOr(e);
    }
  }

  /** True when this container's boot process still runs (for a hosted loader: until it is released). */
  bootAlive(rec: ContainerRecord = this.rec): boolean {
    // This process as the container's boot (`run` hosting the loader), or a loader that failed to start.
    if (rec.bootPid === Deno.pid) return this.#hosted !== undefined && !this.#hosted.released;
    return rec.bootPid > 0 && isAlive(rec.bootPid, rec.bootStartTime || undefined);
  }

  /** Kills what is left in the container's cgroups and removes the directories runts made. */
  private removeCgroup(): void {
    if (!this.rec.cgroups) return;
    try {
      modules().cgroups.removeCgroups(this.k, this.rec.cgroups);
    } catch (e) {
      log.warning(`container ${this.id}: ${(e as Error).message}`);
    }
  }
}

/**
 * boot's --total-memory for a container with a memory limit (informational: the wrapper's cgroup
 * enforces it), left out when unlimited, as runsc does.
 */
export function totalMemoryFlag(spec: Spec): bigint | undefined {
  const limit = spec.linux?.resources?.memory?.limit;
  return limit !== undefined && limit > 0 && limit < 0x7ffffffffffff000
    ? BigInt(Math.trunc(limit))
    : undefined;
}

/** The name /etc/passwd gives `uid`, else the number (runc's owner field). */
function userName(uid: number): string {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f.length > 2 && f[2] === String(uid)) return f[0];
    }
  } catch {
    // no passwd file
  }
  return String(uid);
}

/**
 * runc's checks on process.terminal against --console-socket; an attached terminal without a console
 * socket also needs a terminal of ours to relay it to (hostConsole()).
 */
export function checkTerminal(
  k: Kernel,
  terminal: boolean,
  consoleSocket: string | undefined,
  attached: boolean,
): void {
  if (terminal && !consoleSocket && !attached) {
    throw new ContainerError(
      "invalid",
      "cannot allocate tty if runts will detach without setting console socket",
    );
  }
  if (!terminal && consoleSocket) {
    throw new ContainerError("invalid", "cannot use console socket if runts will not detach or allocate tty");
  }
  if (terminal && !consoleSocket) hostConsole(k);
}

/**
 * Fails unless this process has a terminal: one of stderr, stdout and stdin, or else its controlling tty
 * (runc's initHostConsole, with its error text: `open /dev/tty: no such device or address`).
 */
function hostConsole(k: Kernel): void {
  if (Deno.stderr.isTerminal() || Deno.stdout.isTerminal() || Deno.stdin.isTerminal()) return;
  let fd: number;
  try {
    fd = k.open("/dev/tty", O.RDONLY | O.CLOEXEC);
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    throw new ContainerError(
      "invalid",
      `open /dev/tty: ${errnoText(e.errno)} (process.terminal without --console-socket needs a terminal)`,
    );
  }
  k.close(fd);
}
