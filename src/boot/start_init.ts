/**
 * Starting the container's init, and an exec'd process's: as a clone child running src/init's job
 * (src/init/child.ts), with no Deno start, wherever ffi/clone_child.ts works (x86_64); elsewhere, or with
 * RUNTS_INIT=process, as the `runts init` process of src/boot/spawn_init.ts.
 *
 * A created container's app is stopped by the kernel right after its execve, before its first
 * instruction: the child asked to be traced (PTRACE_TRACEME), boot is its tracer, and StartRoot detaches
 * it. PTRACE_O_EXITKILL and the parent-death signal kill it if boot dies first, so it never runs then.
 */
import {
  CLD,
  CLONE,
  Errno,
  errnoText,
  isErrno,
  type Kernel,
  P,
  PTRACE_O,
  SIGNALS,
  SyscallError,
  W,
} from "../../ffi/mod.ts";
import type { PidNamespace } from "../protocol/init_config.ts";
import { fdDir } from "../cgroups/fs.ts";
import { initJob } from "../init/child.ts";
import { prepareClone } from "./userns.ts";
import { clonedInits } from "./clone_inits.ts";
import { isIdmapped } from "../specutils/idmap.ts";
import { type CompiledFilter, compileSeccomp } from "../seccomp/compile.ts";
import type { LoaderArgs } from "../protocol/loader_args.ts";
import type { Spec } from "../specutils/spec.ts";
import {
  type InitSpawn,
  ioSources,
  layoutInitFds,
  readReport,
  spawnInit,
  startExecInit,
  withPidNamespace,
} from "./spawn_init.ts";
import { stage } from "../util/stages.ts";

/** A container's init, set up and waiting to run the app. */
export interface InitProcess {
  /** The app's host pid (init's, which becomes the app). */
  readonly pid: number;
  /** "clone": a clone child, now the stopped app; "process": a `runts init` waiting for its start byte. */
  readonly kind: "clone" | "process";
  /** Lets the app run. Throws when it cannot (the app is gone, or its execve failed). */
  start(): void;
  /** Releases what start() would have used, when the container goes before it starts. */
  close(): void;
}

export { clonedInits };

/** A failed execve as runc words it: `exec /x: permission denied`. */
export function execErrorText(path: string, errno: number): string {
  return `exec ${path}: ${errnoText(errno)}`;
}

function compileFilter(s: InitSpawn): CompiledFilter | null {
  const profile = s.config.spec.linux?.seccomp;
  return profile ? compileSeccomp(profile) : null;
}

function reap(k: Kernel, pid: number): void {
  try {
    k.waitid(P.PID, pid, W.EXITED);
  } catch (e) {
    if (!isErrno(e, Errno.ECHILD)) throw e;
  }
}

function kill(k: Kernel, pid: number): void {
  try {
    k.kill(pid, SIGNALS.KILL);
  } catch (e) {
    if (!isErrno(e, Errno.ESRCH)) throw e;
  }
}

/** Runs the init job in a clone child; returns its pid once the app's execve succeeded. */
function cloneInit(k: Kernel, s: InitSpawn, traceUntilStart: boolean): number {
  const filter = compileFilter(s);
  // A new user namespace and idmapped mounts are prepared here, before the clone (src/boot/userns.ts).
  const prep = prepareClone(k, s);
  try {
    const { fds, config } = layoutInitFds(prep.spawn, null);
    const first = prep.firstChild;
    // The child is born in the container's cgroup v2 directory when the kernel can (clone3), not moved.
    const parentCgroups = prep.spawn.cgroupFds ?? [];
    const v2 = first ? -1 : parentCgroups.findIndex((fd) => fdDir(k, fd).has("cgroup.controllers"));
    const bornIn = { fd: v2 >= 0 ? config.cgroupFds![v2] : null };
    const job = initJob(k, { config, fds, filter, traceUntilStart, idMaps: prep.idMaps, bornIn });
    const flags = (s.pidns.kind === "new" ? CLONE.NEWPID : 0) | prep.flags;
    const joined = s.pidns.kind === "join" ? s.pidns : { kind: "inherit" as const };
    const clone = () => {
      if (bornIn.fd === null) return k.runInChild(flags, job);
      try {
        return k.runInChild(flags, job, parentCgroups[v2]);
      } catch (e) {
        if (!(e instanceof SyscallError) || e.call !== "clone3") throw e;
        // An older kernel, or a cgroup the kernel will not clone into: the child joins it as it would.
        bornIn.fd = null;
        return k.runInChild(flags, job);
      }
    };
    stage("clone");
    const r = first ? k.runInGrandchild(0, first, job) : withPidNamespace(k, joined, clone);
    stage("child exec'd");
    if (r.failure !== null || r.execErrno !== 0) {
      reap(k, r.pid);
      throw new Error(r.failure ?? execErrorText(r.path, r.execErrno));
    }
    return r.pid;
  } finally {
    prep.close();
  }
}

/** The clone path of createInit: the app, stopped at its first instruction, traced by boot. */
function createCloned(k: Kernel, s: InitSpawn): InitProcess {
  const pid = cloneInit(k, s, true);
  const stop = k.waitid(P.PID, pid, W.EXITED | W.STOPPED);
  if (!stop || stop.code !== CLD.TRAPPED) {
    if (stop?.code === CLD.STOPPED) kill(k, pid);
    throw new Error("init exited before it was ready");
  }
  try {
    k.ptraceSetOptions(pid, PTRACE_O.EXITKILL);
  } catch (e) {
    kill(k, pid);
    reap(k, pid);
    throw e;
  }
  let started = false;
  return {
    pid,
    kind: "clone",
    start() {
      if (started) throw new Error("the container's process was started already");
      started = true;
      k.ptraceDetach(pid, 0);
    },
    close() {},
  };
}

/** The process path of createInit: `runts init`, ready and waiting for its start byte. */
function createProcess(k: Kernel, s: InitSpawn, env: readonly string[]): InitProcess {
  const init = spawnInit(k, s, env);
  const line = readReport(k, init.readyFd);
  if (line?.kind !== "ready") {
    kill(k, init.pid);
    reap(k, init.pid);
    k.close(init.readyFd);
    k.close(init.startFd);
    throw new Error(line?.message ?? "init exited before it was ready");
  }
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    k.close(init.readyFd);
    k.close(init.startFd);
  };
  return {
    pid: init.pid,
    kind: "process",
    start() {
      if (!open) throw new Error("the container's process was started already");
      try {
        k.write(init.startFd, new Uint8Array(1));
        const failed = readReport(k, init.readyFd);
        if (failed !== null) {
          throw new Error(failed.kind === "error" ? failed.message : "init was ready twice");
        }
      } finally {
        close();
      }
    },
    close,
  };
}

/**
 * Builds a new container (InitSpawn mode "create") up to the moment before the app runs. Throws with
 * init's report when that fails; nothing of the child is left then. `cloned` picks the clone child or the
 * `runts init` process (default: clonedInits()).
 */
export function createInit(
  k: Kernel,
  s: InitSpawn,
  env: readonly string[],
  cloned = clonedInits(),
): InitProcess {
  if (cloned) return createCloned(k, s);
  refuseProcessInit(s);
  return createProcess(k, s, env);
}

/**
 * A `runts init` process is a multi-threaded Deno: the kernel lets it neither create nor join a user
 * namespace, and idmapped mounts are prepared on the clone path only.
 */
function refuseProcessInit(s: InitSpawn): void {
  const spec = s.config.spec;
  const user = s.config.mode === "create"
    ? spec.linux?.namespaces?.some((n) => n.type === "user")
    : s.config.join?.some((j) => j.type === "user");
  const idmapped = s.config.mode === "create" && s.config.mounts.some(isIdmapped);
  if (user || idmapped) {
    throw new Error(
      `${user ? "user namespaces" : "idmapped mounts"} need inits started as clone children ` +
        `(x86_64, without RUNTS_INIT=process)`,
    );
  }
}

/**
 * Starts an exec'd process (InitSpawn mode "exec") as the caller's child and returns its host pid once
 * its execve succeeded; the caller reaps it. Throws `exec: …` with init's report otherwise, the child
 * reaped.
 */
export function execInit(k: Kernel, s: InitSpawn, env: readonly string[]): number {
  if (clonedInits()) {
    try {
      return cloneInit(k, s, false);
    } catch (e) {
      const msg = (e as Error).message;
      throw new Error(msg.startsWith("exec: ") ? msg : `exec: ${msg}`);
    }
  }
  refuseProcessInit(s);
  const started = spawnInit(k, s, env);
  try {
    startExecInit(k, started);
  } catch (e) {
    reap(k, started.pid);
    throw e;
  }
  return started.pid;
}

/**
 * How boot starts the container's init from its arguments: the pid namespace (joined, new with --pidns, or
 * boot's), the root and bind-source fds by mount index, and the init configuration.
 */
/**
 * The app's pid namespace, as the spec says: a new one for an entry without a path, that path for one with
 * it, boot's own without an entry. runsc's --pidns only tells boot that its wrapper made a pid namespace
 * for it; here boot makes the app's, so that flag decides nothing.
 */
export function pidNamespace(spec: Spec): PidNamespace {
  const entry = spec.linux?.namespaces?.find((n) => n.type === "pid");
  if (!entry) return { kind: "inherit" };
  return entry.path ? { kind: "join", path: entry.path } : { kind: "new" };
}

export function initSpawnFor(args: LoaderArgs): InitSpawn {
  const spec = args.spec;
  const pidns = pidNamespace(spec);
  const { rootFd, bindFds } = ioSources(args.ioFds, args.mounts);
  return {
    config: {
      mode: "create",
      id: args.id,
      spec,
      process: spec.process!,
      mounts: args.mounts,
      network: args.conf.network,
      noPivot: args.noPivot,
      cpuNum: args.numCpu,
      preserveFds: args.preservedFds.length,
    },
    stdio: args.stdioFds,
    preserved: args.preservedFds,
    rootFd,
    bindFds,
    pidns,
    cgroupFds: args.cgroupFds,
    globalFlags: args.conf.toFlags(),
  };
}

/** init's environment: boot's own, minus what engines leak (the app gets spec.process.env at exec). */
export function initEnv(): string[] {
  return Object.entries(Deno.env.toObject())
    .filter(([k]) => !k.startsWith("_OCI_"))
    .map(([k, v]) => `${k}=${v}`);
}
