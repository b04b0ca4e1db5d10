/**
 * One container as the wrapper sees it (runsc's container.Container): create spawns boot and records
 * the state; every later operation loads the record and talks to boot over its control socket.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { O, SIGNALS } from "../../ffi/consts.ts";
import type { Config } from "../config/config.ts";
import { log } from "../log/log.ts";
import type { Process, Spec } from "../specutils/spec.ts";
import { readSpecFromFile } from "../specutils/specutils.ts";
import { absOf } from "../specutils/path.ts";
import { controlAddress } from "../sandbox/boot_args.ts";
import { Control, type ExecArgs, SignalMode } from "../sandbox/control.ts";
import { resolveMounts } from "../sandbox/mounts.ts";
import { openPty, type Pty, sendConsole, sendFd } from "../sandbox/pty.ts";
import { sleepSync, startSandbox } from "../sandbox/sandbox.ts";
import { RemoteError } from "../urpc/client.ts";
import { ContainerError } from "./errors.ts";
import { type HookState, runHooks, runHooksBestEffort } from "./hooks.ts";
import { validateID } from "./id.ts";
import { FileLock } from "./lock.ts";
import { isAlive } from "./proc.ts";
import { type LiveState, resolveLiveState } from "./status.ts";
import { type ContainerRecord, StateDir, type Status } from "./state_file.ts";
import { writeFileAtomic } from "./atomic.ts";

/** The runtime-spec version of the state documents runts prints. */
export const OCI_VERSION = "1.2.0";

/** How long delete waits for boot to go after killing the container. */
const STOP_TIMEOUT_MS = 10_000;

/** rmdir attempts (20 ms apart) on a cgroup whose last processes are still leaving. */
const CGROUP_RMDIR_ATTEMPTS = 50;

/** The runtime-spec state document (`runts state`). */
export interface StateDocument {
  ociVersion: string;
  id: string;
  status: Status;
  pid: number;
  bundle: string;
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
}

/** The state root as an absolute path. */
export function stateRoot(conf: Config): string {
  return absOf(Deno.cwd(), conf.root);
}

/** A loaded container. */
export class Container {
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
    const bundle = absOf(Deno.cwd(), opts.bundle);
    const dir = new StateDir(stateRoot(conf), opts.id);
    dir.createExclusive();
    const lock = FileLock.acquire(k, dir.lockPath, true)!;
    let specFd = -1;
    let pty: Pty | undefined;
    let c: Container | undefined;
    try {
      try {
        specFd = k.open(`${bundle}/config.json`, O.RDONLY | O.CLOEXEC);
      } catch (e) {
        throw new ContainerError("invalid", `cannot open ${bundle}/config.json: ${(e as Error).message}`);
      }
      const spec = readSpecFromFile(k, bundle, specFd, (w) => log.warning(w));
      if (!spec.process) throw new ContainerError("invalid", "spec has no process");
      if (!spec.root?.path) throw new ContainerError("invalid", "spec has no root.path");
      const terminal = spec.process.terminal === true;
      checkTerminal(terminal, opts.consoleSocket, opts.attached === true);

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
        created: new Date().toISOString(),
        owner: userName(k.getuid()),
        annotations: spec.annotations ?? {},
        spec,
      });
      c.save();

      let stdio: [number, number, number] = [0, 1, 2];
      if (terminal) {
        pty = openPty(k);
        stdio = [pty.slave, pty.slave, pty.slave];
      }
      const pidns = spec.linux?.namespaces?.some((ns) => ns.type === "pid" && !ns.path) ?? false;
      const preserved = Array.from({ length: opts.preserveFds ?? 0 }, (_, i) => 3 + i);
      const sandbox = startSandbox(k, {
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
      });
      c.rec.bootPid = sandbox.pid;
      c.rec.bootStartTime = sandbox.startTime;
      c.rec.pid = c.control().state(opts.id).pid;
      c.save();

      let ttyMaster: number | undefined;
      if (pty) {
        k.close(pty.slave);
        if (opts.consoleSocket) {
          sendConsole(k, opts.consoleSocket, pty.master);
          k.close(pty.master);
        } else {
          ttyMaster = pty.master;
        }
        pty = undefined;
      }

      const hookState = c.hookState("creating");
      await runHooks(k, "prestart", spec.hooks, hookState);
      await runHooks(k, "createRuntime", spec.hooks, hookState);
      await runHooks(k, "createContainer", spec.hooks, hookState);

      c.rec.status = "created";
      c.save();
      if (opts.pidFile) writeFileAtomic(absOf(Deno.cwd(), opts.pidFile), String(c.rec.pid));
      if (opts.pidfdSocket) {
        const pidfd = k.pidfdOpen(c.rec.pid);
        try {
          sendFd(k, opts.pidfdSocket, pidfd, opts.id);
        } finally {
          k.close(pidfd);
        }
      }
      return { container: c, ttyMaster };
    } catch (e) {
      if (pty) {
        k.close(pty.master);
        k.close(pty.slave);
      }
      if (c && c.rec.bootPid > 0) c.kill();
      dir.remove();
      throw e;
    } finally {
      if (specFd >= 0) k.close(specFd);
      lock.release();
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

  /** A client for boot's controller. */
  control(): Control {
    return new Control(this.k, this.rec.controlAddress);
  }

  /** Takes the container's lock (exclusive); reloads the record under it. */
  lock(): FileLock {
    const l = FileLock.acquire(this.k, this.dir.lockPath, true)!;
    try {
      this.rec = this.dir.load();
    } catch (e) {
      l.release();
      throw e;
    }
    return l;
  }

  /** Writes the record. */
  save(): void {
    this.dir.save(this.rec);
  }

  /** The live status and pid (see status.ts). */
  liveState(): LiveState {
    return resolveLiveState(this.rec, {
      createInProgress: () => FileLock.isHeld(this.k, this.dir.lockPath),
      bootAlive: (rec) => this.bootAlive(rec),
      bootState: (rec) => {
        try {
          return this.control().state(rec.id);
        } catch (e) {
          if (e instanceof RemoteError) throw e;
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
      status: live.status,
      pid: live.status === "stopped" ? 0 : live.pid,
      bundle: this.rec.bundle,
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
    const lock = this.lock();
    try {
      const live = this.liveState();
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
      this.control().startRoot(this.id);
      this.rec.status = "running";
      this.save();
    } finally {
      lock.release();
    }
    await runHooksBestEffort(
      this.k,
      "poststart",
      this.spec.hooks,
      this.hookState("running"),
      (m) => log.warning(m),
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
      if (!this.bootAlive(this.rec)) throw new ContainerError("not-running", "container not running");
      throw e;
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
    const lock = this.lock();
    try {
      const live = this.liveState();
      if ((live.status === "running" || live.status === "paused") && !force) {
        throw new ContainerError(
          "bad-state",
          `cannot delete container ${this.id} that is not stopped: ${live.status}`,
        );
      }
      if (live.status !== "stopped" || this.bootAlive(this.rec)) this.kill();
      if (this.rec.bootPid > 0 && this.rec.status !== "creating") {
        await runHooksBestEffort(
          this.k,
          "poststop",
          this.spec.hooks,
          this.hookState("stopped"),
          (m) => log.warning(m),
        );
      }
      this.removeCgroup();
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
    try {
      this.control().signal(this.id, SIGNALS.KILL, SignalMode.All);
    } catch (e) {
      log.debug(`killing container ${this.id} through boot: ${(e as Error).message}`);
    }
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (this.bootAlive(this.rec) && Date.now() < deadline) sleepSync(20);
    if (this.bootAlive(this.rec)) {
      try {
        this.k.kill(this.rec.bootPid, SIGNALS.KILL);
      } catch (e) {
        log.debug(`killing boot ${this.rec.bootPid}: ${(e as Error).message}`);
      }
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
    return this.control().executeAsync(args, stdio);
  }

  /** True when this container's boot process still runs. */
  bootAlive(rec: ContainerRecord = this.rec): boolean {
    return rec.bootPid > 0 && isAlive(rec.bootPid, rec.bootStartTime || undefined);
  }

  /** Removes the container's cgroup directory when runts recorded one (retrying while it drains). */
  private removeCgroup(): void {
    const cg = this.rec.cgroupDir;
    if (!cg) return;
    for (let i = 0; i < CGROUP_RMDIR_ATTEMPTS; i++) {
      try {
        Deno.removeSync(cg);
        return;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return;
        if (i === CGROUP_RMDIR_ATTEMPTS - 1) log.warning(`removing cgroup ${cg}: ${(e as Error).message}`);
        sleepSync(20);
      }
    }
  }
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

/** runc's checks on process.terminal against --console-socket. */
function checkTerminal(terminal: boolean, consoleSocket: string | undefined, attached: boolean): void {
  if (terminal && !consoleSocket && !attached) {
    throw new ContainerError(
      "invalid",
      "cannot allocate tty if runts will detach without setting console socket",
    );
  }
  if (!terminal && consoleSocket) {
    throw new ContainerError("invalid", "cannot use console socket if runts will not detach or allocate tty");
  }
}
