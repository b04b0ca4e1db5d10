/**
 * The native loader, in the shape of runsc's boot.Loader: New creates the container (init waiting for
 * its start byte) and starts the control server; WaitForStartSignal, Run, WaitExit and Destroy follow.
 * The app is boot's child but boot never reaps it (waitid WNOWAIT), so an engine's subreaper can; only an
 * attached boot (`run`, no engine's subreaper to hand it to; src/boot/creator.ts) or one whose parent is
 * init (no subreaper adopted it) reaps it as it ends.
 */
import { CLD, EPOLL, Errno, isErrno, type Kernel, MNT_DETACH, O, P, SIGNALS, W } from "../../ffi/mod.ts";
import type { Process } from "../specutils/spec.ts";
import { log } from "../log/log.ts";
import { EventLoop } from "../urpc/eventloop.ts";
import { type Handler, UrpcServer } from "../urpc/server.ts";
import { applyFinalAffinity } from "../init/scheduling.ts";
import { NOBODY } from "./capability.ts";
import { mountNamespaceKind } from "../init/namespaces.ts";
import type { InitSpawn } from "./spawn_init.ts";
import type { BootStatus } from "../protocol/control.ts";
import type { LoaderArgs } from "../protocol/loader_args.ts";
import type { ExecInitPlan } from "../protocol/init_config.ts";
import { createInit, execInit, initEnv, type InitProcess, initSpawnFor, pidNamespace } from "./start_init.ts";
import { Controller } from "./controller.ts";
import { execSpawnFor } from "./exec_plan.ts";
import { testPause } from "../util/test_pause.ts";
import { containerPids, exiting } from "./procs.ts";
import { type CgroupView, viewFromFds } from "../cgroups/view.ts";
import { cgroupPids } from "../cgroups/manager.ts";
import { CREATOR_DEATH_SIGNAL, killMembers } from "./creator.ts";
import { flushStages } from "../util/stages.ts";

/** The container's life as boot sees it. */
export type Status = BootStatus;

/** Signals boot forwards to the app (runsc forwards 1–33 except SIGURG; Deno can listen to these). */
const FORWARDED = "SIGHUP SIGINT SIGQUIT SIGTERM SIGUSR1 SIGUSR2 SIGALRM SIGWINCH SIGCONT SIGTSTP"
  .split(" ") as Deno.Signal[];

/** Encodes a waitid result as a Linux wait status: (code << 8) or the signal (+0x80 for a core dump). */
export function waitStatus(code: number, status: number): number {
  if (code === CLD.EXITED) return (status & 0xff) << 8;
  return (status & 0x7f) | (code === CLD.DUMPED ? 0x80 : 0);
}

/** An exec'd process that boot started and reaps. */
interface Execed {
  pid: number;
  status: Promise<number>;
}

/** The loader. */
export class Loader {
  readonly loop: EventLoop;
  status: Status = "created";
  readonly init: InitProcess;
  exitStatus: number | null = null;
  readonly ownPidNs: boolean;
  readonly #k: Kernel;
  readonly #args: LoaderArgs;
  readonly #server: UrpcServer;
  readonly #exited: Promise<number>;
  #started!: () => void;
  readonly #startSignal: Promise<void>;
  readonly #execs = new Map<number, Execed>();
  readonly #listeners: Array<[Deno.Signal, () => void]> = [];
  #pidfd = -1;
  /** The container's root mount when it lives in boot's own mount namespace (no mount entry), else -1. */
  #sharedRoot = -1;
  #cgroups: CgroupView | undefined;
  #exitStatusFd = -1;
  /** Exec'd processes not reaped yet. */
  readonly #unreaped = new Set<number>();
  #loopDone: Promise<void> = Promise.resolve();
  #handlers: Record<string, Handler> = {};

  private constructor(k: Kernel, args: LoaderArgs, init: InitProcess, server: UrpcServer, loop: EventLoop) {
    this.#k = k;
    this.#args = args;
    this.init = init;
    this.#server = server;
    this.loop = loop;
    this.ownPidNs = pidNamespace(args.spec).kind === "new";
    this.#startSignal = new Promise((resolve) => this.#started = resolve);
    this.#exited = this.#watchExit();
  }

  /** Spawns init, waits until it is ready, and starts serving the control socket (runsc's boot.New). */
  static create(k: Kernel, args: LoaderArgs): Loader {
    const spec = args.spec;
    let init: InitProcess;
    const t0 = performance.now();
    try {
      init = createInit(k, initSpawnFor(args), initEnv());
    } catch (e) {
      throw new Error(`creating container: ${(e as Error).message}`);
    }
    log.debug(
      `container ${args.id} built by a ${init.kind} init, pid ${init.pid}, in ${
        (performance.now() - t0).toFixed(1)
      } ms`,
    );
    flushStages(log.debug);
    const sharedRoot = mountNamespaceKind(spec) === "shared"
      ? k.open(`/proc/${init.pid}/root`, O.PATH | O.DIRECTORY | O.CLOEXEC)
      : -1;
    const loop = new EventLoop(k);
    const handlers: Record<string, Handler> = {};
    const server = new UrpcServer(k, loop, args.controllerFd, handlers, log);
    // As nobody (after --setup-root), boot shares its uid with every other nobody process: serve root only.
    if (k.getuid() === NOBODY) server.allowOnly(0);
    const loader = new Loader(k, args, init, server, loop);
    loader.#sharedRoot = sharedRoot;
    Object.assign(handlers, new Controller(k, loader).handlers());
    loader.#handlers = handlers;
    server.start();
    loader.#loopDone = loop.run();
    if (args.forwardSignals !== false) loader.#forwardSignals();
    // boot's creator (an attached wrapper) died: src/boot/creator.ts. A hosted loader is its own creator.
    if (args.attached && args.forwardSignals !== false) {
      loader.#listen(CREATOR_DEATH_SIGNAL, () => loader.#creatorDied());
    }
    return loader;
  }

  /**
   * Calls a controller method in this process, as the urpc server would for a client (peer: ourselves).
   * For `run`, which hosts the loader and must not call its own socket synchronously.
   */
  callLocal(method: string, arg: unknown): unknown {
    const h = this.#handlers[method];
    if (!h) throw new Error(`unknown method ${method}`);
    return h(arg, [], { pid: Deno.pid, uid: this.#k.getuid(), gid: this.#k.getgid() });
  }

  /** The host pids of the container's processes; [] once the app has exited. */
  pids(): number[] {
    if (this.exitStatus !== null) return [];
    // The container's cgroups hold every process it started, daemonized ones included.
    const members = this.cgroups ? cgroupPids(this.cgroups) : [];
    return members.length ? members : containerPids(this.pid, this.ownPidNs);
  }

  /** The container id. */
  get id(): string {
    return this.#args.id;
  }

  /** The app's host pid. */
  get pid(): number {
    return this.init.pid;
  }

  /** The container's cgroups, through the fds boot was given; null without any. */
  get cgroups(): CgroupView | null {
    const fds = this.#args.cgroupFds ?? [];
    if (!fds.length) return null;
    this.#cgroups ??= viewFromFds(this.#k, fds);
    return this.#cgroups;
  }

  /** Resolves when StartRoot arrives, or when the container dies before it does. */
  async waitForStartSignal(): Promise<void> {
    await Promise.race([this.#startSignal, this.#exited]);
  }

  /**
   * Records every exit boot observes in `fd`, one line `<host pid> <wait status>` per process (the app
   * and each exec'd one), before any waiter is answered or the listener closes: a caller that finds boot
   * gone, or refusing connections, can still read the status. Owns `fd`.
   */
  recordExitTo(fd: number): void {
    this.#exitStatusFd = fd;
  }

  /**
   * Watches `fd`, boot's end of a start-sync socket, for the creator's confirmation byte. EOF first means
   * the creator died or gave up before the container was recorded as created: the container is killed,
   * and boot exits as it does for any app exit.
   */
  awaitConfirmation(fd: number): void {
    this.loop.add(fd, EPOLL.IN, () => {
      let n = 0;
      try {
        n = this.#k.read(fd, new Uint8Array(1));
      } catch (e) {
        log.debug(`reading the creator's confirmation: ${(e as Error).message}`);
      }
      this.loop.remove(fd);
      this.#k.close(fd);
      if (n === 1 || this.exitStatus !== null) return;
      log.warning(`container ${this.id}: its creator went away before confirming it; destroying it`);
      try {
        this.#k.kill(this.pid, SIGNALS.KILL);
      } catch (e) {
        if (!isErrno(e, Errno.ESRCH)) throw e;
      }
    });
  }

  /** Starts the app: one byte to init, then EOF on the ready pipe means the execve succeeded. */
  run(): void {
    if (this.status !== "created") throw new Error(`container is ${this.status}, not created`);
    testPause("boot-before-start");
    try {
      this.init.start();
    } catch (e) {
      throw new Error(`starting container: ${(e as Error).message}`);
    }
    this.status = "running";
    applyFinalAffinity(this.#k, this.pid, this.#args.spec.process!);
  }

  /** StartRoot: run once, and let boot's main flow go on. */
  startRoot(): void {
    this.run();
    this.#started();
  }

  /** Resolves with the app's wait status once it has exited (without reaping it). */
  waitExit(): Promise<number> {
    return this.#exited;
  }

  /**
   * How an exec'd process joins this container: the init configuration and fds for spawnInit. boot spawns
   * it for ExecuteAsync; for `exec --detach` the wrapper gets it through PrepareExec and spawns it itself,
   * so that the process descends from the engine's exec supervisor (docs/architecture.md, "exec").
   */
  execSpawn(process: Process, stdio: [number, number, number], detached = false): InitSpawn<ExecInitPlan> {
    if (this.status !== "running") throw new Error(`cannot exec in a ${this.status} container`);
    return execSpawnFor(this.#k, this.#args, this.pid, process, stdio, detached);
  }

  /** Starts an exec'd process in the running container as boot's child (ExecuteAsync); its host pid. */
  execute(process: Process, stdio: [number, number, number]): number {
    try {
      const pid = execInit(this.#k, this.execSpawn(process, stdio), initEnv());
      this.#execs.set(pid, { pid, status: this.#reap(pid) });
      return pid;
    } catch (e) {
      // Racing the container's end, the spawn fails oddly (ENOMEM: a dying pid namespace takes no new
      // process; or init is killed with it): say what happened instead.
      if (this.exitStatus !== null || exiting(this.pid)) throw new Error("container not running");
      throw e;
    }
  }

  /** The wait status of the app or of an exec'd process. */
  waitPid(pid: number): Promise<number> {
    if (pid === 0 || pid === this.pid) return this.#exited;
    const e = this.#execs.get(pid);
    if (!e) return Promise.reject(new Error(`process ${pid} is not known in this container`));
    return e.status;
  }

  /** Stops serving and releases everything (runsc's Destroy). Kills the app if it never started. */
  async destroy(graceMs = 2000): Promise<void> {
    for (const [sig, fn] of this.#listeners) Deno.removeSignalListener(sig, fn);
    this.#listeners.length = 0;
    this.init.close();
    if (this.exitStatus === null) {
      try {
        this.#k.kill(this.pid, SIGNALS.KILL);
      } catch (e) {
        if (!isErrno(e, Errno.ESRCH)) throw e;
      }
    }
    // Exec'd processes would die with boot anyway (parent-death signal); killed now, they are reaped and
    // their waiters answered while the server drains.
    for (const pid of this.#unreaped) {
      try {
        this.#k.kill(pid, SIGNALS.KILL);
      } catch (e) {
        if (!isErrno(e, Errno.ESRCH)) throw e;
      }
    }
    await this.#server.stop(graceMs);
    this.loop.stop();
    await this.#loopDone;
    if (this.#pidfd >= 0) this.#k.close(this.#pidfd);
    this.#pidfd = -1;
    if (this.#exitStatusFd >= 0) this.#k.close(this.#exitStatusFd);
    this.#exitStatusFd = -1;
    // Nobody else would reap the app in time, and its zombie holds the pid namespace: attached (no engine
    // waits for it), or boot's parent is init (no engine's subreaper adopted boot, so none adopts the app:
    // an init that reaps orphans only now and then, as this VM's does, kept it for about 2 s).
    if ((this.#args.attached || Deno.ppid <= 1) && this.exitStatus !== null) {
      try {
        this.#k.waitid(P.PID, this.pid, W.EXITED | W.NOHANG);
      } catch (e) {
        if (!isErrno(e, Errno.ECHILD)) throw e; // reaped by an earlier destroy
      }
    }
    this.#unmountSharedRoot();
  }

  /**
   * A container in boot's mount namespace has its root and mounts there, below the root directory; once
   * it is gone they are detached, so that nothing of it stays mounted in the runtime's namespace (runc
   * leaves them). Lazily: a process of the container that outlived the app keeps its view.
   */
  #unmountSharedRoot(): void {
    if (this.#sharedRoot < 0) return;
    try {
      this.#k.umount2(`/proc/self/fd/${this.#sharedRoot}`, MNT_DETACH);
    } catch (e) {
      log.warning(`container ${this.id}: detaching its root mount: ${(e as Error).message}`);
    } finally {
      this.#k.close(this.#sharedRoot);
      this.#sharedRoot = -1;
    }
  }

  #listen(sig: Deno.Signal, fn: () => void): void {
    Deno.addSignalListener(sig, fn);
    this.#listeners.push([sig, fn]);
  }

  /** The attached creator died (src/boot/creator.ts): the container goes, boot follows as it ends. */
  #creatorDied(): void {
    if (this.exitStatus !== null) return;
    log.warning(`container ${this.id}: its attached creator died; destroying the container`);
    try {
      killMembers(this.#k, [this.pid, ...this.pids()], this.cgroups);
    } catch (e) {
      log.warning(`destroying container ${this.id}: ${(e as Error).message}`);
    }
  }

  #forwardSignals(): void {
    for (const sig of FORWARDED) {
      const fn = () => {
        try {
          this.#k.kill(this.pid, SIGNALS[sig.slice(3)]);
        } catch (e) {
          log.debug(`forwarding ${sig}: ${(e as Error).message}`);
        }
      };
      try {
        this.#listen(sig, fn);
      } catch (e) {
        log.debug(`cannot forward ${sig}: ${(e as Error).message}`);
      }
    }
  }

  /** Watches the app through a pidfd on the loop; WNOWAIT leaves the zombie for whoever reaps it. */
  #watchExit(): Promise<number> {
    return new Promise((resolve) => {
      this.#pidfd = this.#k.pidfdOpen(this.init.pid);
      const check = () => {
        const info = this.#k.waitid(P.PID, this.init.pid, W.EXITED | W.NOWAIT | W.NOHANG);
        if (!info) return;
        this.loop.remove(this.#pidfd);
        this.exitStatus = waitStatus(info.code, info.status);
        this.status = "stopped";
        this.#recordExit(this.init.pid, this.exitStatus);
        this.#started(); // a container killed before start must not leave boot waiting
        resolve(this.exitStatus);
      };
      this.loop.add(this.#pidfd, EPOLL.IN, check);
    });
  }

  #recordExit(pid: number, ws: number): void {
    if (this.#exitStatusFd < 0) return;
    try {
      const bytes = new TextEncoder().encode(`${pid} ${ws}\n`);
      if (this.#k.write(this.#exitStatusFd, bytes) !== bytes.length) throw new Error("short write");
    } catch (e) {
      log.warning(`recording the exit status of ${pid}: ${(e as Error).message}`);
    }
  }

  /** Reaps an exec'd process (boot's own child) through a pidfd. */
  #reap(pid: number): Promise<number> {
    this.#unreaped.add(pid);
    return new Promise((resolve) => {
      const fd = this.#k.pidfdOpen(pid);
      this.loop.add(fd, EPOLL.IN, () => {
        const info = this.#k.waitid(P.PID, pid, W.EXITED | W.NOHANG);
        if (!info) return;
        this.loop.remove(fd);
        this.#k.close(fd);
        this.#unreaped.delete(pid);
        const ws = waitStatus(info.code, info.status);
        this.#recordExit(pid, ws);
        resolve(ws);
      });
    });
  }
}
