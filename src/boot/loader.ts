/**
 * The native loader, in the shape of runsc's boot.Loader: New creates the container (init waiting for
 * its start byte) and starts the control server; WaitForStartSignal, Run, WaitExit and Destroy follow.
 * The app is boot's child but boot never reaps it (waitid WNOWAIT), so an engine's subreaper can.
 */
import { CLD, EPOLL, type Kernel, P, SIGNALS, W } from "../../ffi/mod.ts";
import type { Config } from "../config/config.ts";
import type { Mount, Process, Spec } from "../specutils/spec.ts";
import { log } from "../log/log.ts";
import { EventLoop } from "../urpc/eventloop.ts";
import { type Handler, UrpcServer } from "../urpc/server.ts";
import { READY } from "../init/config.ts";
import { type PidNamespace, readLine, spawnInit, type StartedInit } from "./spawn_init.ts";
import { Controller } from "./controller.ts";

/** What boot hands the loader (runsc's boot.Args, plus the native extras). */
export interface LoaderArgs {
  id: string;
  spec: Spec;
  mounts: Mount[];
  conf: Config;
  controllerFd: number;
  ioFds: number[];
  stdioFds: [number, number, number];
  preservedFds: number[];
  numCpu: number;
  totalMem: bigint;
  userLogFd: number;
  pidns: boolean;
  attached: boolean;
  noPivot: boolean;
}

/** The container's life as boot sees it. */
export type Status = "created" | "running" | "stopped";

/** Signals boot forwards to the app (runsc forwards 1–33 except SIGURG; Deno can listen to these). */
const FORWARDED: Deno.Signal[] = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGUSR1",
  "SIGUSR2",
  "SIGALRM",
  "SIGWINCH",
  "SIGCONT",
  "SIGTSTP",
];

/** Encodes a waitid result as a Linux wait status: (code << 8) or the signal (+0x80 for a core dump). */
export function waitStatus(code: number, status: number): number {
  if (code === CLD.EXITED) return (status & 0xff) << 8;
  return (status & 0x7f) | (code === CLD.DUMPED ? 0x80 : 0);
}

/** Boot's exit code for a wait status: the app's code, or 128+signal (runsc's mapping). */
export function exitCodeOf(ws: number): number {
  return ws & 0x7f ? 128 + (ws & 0x7f) : (ws >> 8) & 0xff;
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
  readonly init: StartedInit;
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
  #loopDone: Promise<void> = Promise.resolve();

  private constructor(k: Kernel, args: LoaderArgs, init: StartedInit, server: UrpcServer, loop: EventLoop) {
    this.#k = k;
    this.#args = args;
    this.init = init;
    this.#server = server;
    this.loop = loop;
    this.ownPidNs = args.pidns;
    this.#startSignal = new Promise((resolve) => this.#started = resolve);
    this.#exited = this.#watchExit();
  }

  /** Spawns init, waits until it is ready, and starts serving the control socket (runsc's boot.New). */
  static create(k: Kernel, args: LoaderArgs): Loader {
    const spec = args.spec;
    const pidSpec = spec.linux?.namespaces?.find((n) => n.type === "pid");
    const pidns: PidNamespace = pidSpec?.path
      ? { kind: "join", path: pidSpec.path }
      : args.pidns
      ? { kind: "new" }
      : { kind: "inherit" };
    const bindFds: Record<string, number> = {};
    const rootFd = args.ioFds.length ? args.ioFds[0] : null;
    let next = 1;
    args.mounts.forEach((m, i) => {
      if (isBind(m) && next < args.ioFds.length) bindFds[String(i)] = args.ioFds[next++];
    });
    const init = spawnInit(k, {
      config: {
        mode: "create",
        id: args.id,
        spec,
        process: spec.process!,
        mounts: args.mounts,
        network: args.conf.network,
        noPivot: args.noPivot,
        cpuNum: args.numCpu,
        attached: args.attached,
        preserveFds: args.preservedFds.length,
      },
      stdio: args.stdioFds,
      preserved: args.preservedFds,
      rootFd,
      bindFds,
      pidns,
      globalFlags: args.conf.toFlags(),
    }, initEnv());
    const line = readLine(k, init.readyFd);
    if (line !== READY) {
      try {
        k.kill(init.pid, SIGNALS.KILL);
        k.waitid(P.PID, init.pid, W.EXITED);
      } catch { /* already gone */ }
      k.close(init.readyFd);
      k.close(init.startFd);
      throw new Error(
        `creating container: ${line?.replace(/^error: /, "") ?? "init exited before it was ready"}`,
      );
    }
    const loop = new EventLoop(k);
    const handlers: Record<string, Handler> = {};
    const server = new UrpcServer(k, loop, args.controllerFd, handlers, log);
    const loader = new Loader(k, args, init, server, loop);
    Object.assign(handlers, new Controller(k, loader).handlers());
    server.start();
    loader.#loopDone = loop.run();
    loader.#forwardSignals();
    return loader;
  }

  /** The container id. */
  get id(): string {
    return this.#args.id;
  }

  /** The app's host pid. */
  get pid(): number {
    return this.init.pid;
  }

  /** Resolves when StartRoot arrives, or when the container dies before it does. */
  async waitForStartSignal(): Promise<void> {
    await Promise.race([this.#startSignal, this.#exited]);
  }

  /** Starts the app: one byte to init, then EOF on the ready pipe means the execve succeeded. */
  run(): void {
    if (this.status !== "created") throw new Error(`container is ${this.status}, not created`);
    this.#k.write(this.init.startFd, new Uint8Array(1));
    this.#k.close(this.init.startFd);
    const line = readLine(this.#k, this.init.readyFd);
    this.#k.close(this.init.readyFd);
    if (line !== null) throw new Error(`starting container: ${line.replace(/^error: /, "")}`);
    this.status = "running";
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

  /** Starts an exec'd process in the running container; returns its host pid. */
  execute(process: Process, stdio: [number, number, number]): number {
    if (this.status !== "running") throw new Error(`cannot exec in a ${this.status} container`);
    const join = ["ipc", "uts", "network", "cgroup", "mount"].map((type) => ({
      type,
      path: `/proc/${this.pid}/ns/${type === "network" ? "net" : type === "mount" ? "mnt" : type}`,
    }));
    const started = spawnInit(this.#k, {
      config: {
        mode: "exec",
        id: this.#args.id,
        spec: this.#args.spec,
        process,
        mounts: [],
        join,
        network: "sandbox",
        noPivot: false,
        cpuNum: this.#args.numCpu,
        attached: false,
        preserveFds: 0,
      },
      stdio,
      preserved: [],
      rootFd: null,
      bindFds: {},
      pidns: this.ownPidNs ? { kind: "join", path: `/proc/${this.pid}/ns/pid` } : { kind: "inherit" },
      globalFlags: this.#args.conf.toFlags(),
    }, initEnv());
    const status = this.#reap(started.pid);
    try {
      const ready = readLine(this.#k, started.readyFd);
      if (ready !== READY) throw new Error(`exec: ${ready?.replace(/^error: /, "") ?? "init exited"}`);
      this.#k.write(started.startFd, new Uint8Array(1));
      const line = readLine(this.#k, started.readyFd);
      if (line !== null) throw new Error(`exec: ${line.replace(/^error: /, "")}`);
    } catch (e) {
      try {
        this.#k.kill(started.pid, SIGNALS.KILL);
      } catch { /* gone */ }
      throw e;
    } finally {
      this.#k.close(started.readyFd);
      this.#k.close(started.startFd);
    }
    this.#execs.set(started.pid, { pid: started.pid, status });
    return started.pid;
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
    if (this.exitStatus === null) {
      try {
        this.#k.kill(this.pid, SIGNALS.KILL);
      } catch { /* gone */ }
    }
    await this.#server.stop(graceMs);
    this.loop.stop();
    await this.#loopDone;
    if (this.#pidfd >= 0) this.#k.close(this.#pidfd);
    this.#pidfd = -1;
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
        Deno.addSignalListener(sig, fn);
        this.#listeners.push([sig, fn]);
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
        this.#started(); // a container killed before start must not leave boot waiting
        resolve(this.exitStatus);
      };
      this.loop.add(this.#pidfd, EPOLL.IN, check);
    });
  }

  /** Reaps an exec'd process (boot's own child) through a pidfd. */
  #reap(pid: number): Promise<number> {
    return new Promise((resolve) => {
      const fd = this.#k.pidfdOpen(pid);
      this.loop.add(fd, EPOLL.IN, () => {
        const info = this.#k.waitid(P.PID, pid, W.EXITED | W.NOHANG);
        if (!info) return;
        this.loop.remove(fd);
        this.#k.close(fd);
        resolve(waitStatus(info.code, info.status));
      });
    });
  }
}

function isBind(m: Mount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

/** init's environment: boot's own, minus what engines leak (the app gets spec.process.env at exec). */
function initEnv(): string[] {
  return Object.entries(Deno.env.toObject())
    .filter(([k]) => !k.startsWith("_OCI_"))
    .map(([k, v]) => `${k}=${v}`);
}
