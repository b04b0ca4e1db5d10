/**
 * Starting init from boot's main thread: the configuration goes into a memfd, the fds are laid out at
 * fixed numbers, and a new (or joined) pid namespace is entered only for the moment of the spawn, because a
 * Deno process whose main thread sits in a fresh pid namespace cannot create threads.
 */
import { CLONE, Errno, isErrno, type Kernel, MOUNT_ATTR, O, SIGNALS } from "../../ffi/mod.ts";
import {
  type CreateInitPlan,
  decodeReport,
  type InitConfig,
  type InitPlan,
  type InitReport,
  type PidNamespace,
} from "../protocol/init_config.ts";
import { self, selfArgv } from "../specutils/exe.ts";
import type { Mount } from "../specutils/spec.ts";
import { isBindMount } from "../specutils/mount_options.ts";
import { openRootfs } from "../specutils/rootfs.ts";

/** Everything boot needs to start one init. */
export interface InitSpawn<P extends InitPlan = InitPlan> {
  config: P;
  /** The container's stdin, stdout, stderr as boot's fds. */
  stdio: [number, number, number];
  /** boot fds that become the app's fds 3, 4, … */
  preserved: number[];
  /** boot fd of the root directory, or null. */
  rootFd: number | null;
  /** mount index → boot fd of its source. */
  bindFds: Record<string, number>;
  pidns: PidNamespace;
  /** boot fds of the container's cgroup directories, for init to join (none: boot's own cgroups). */
  cgroupFds?: readonly number[];
  /** Global flags to repeat for init. */
  globalFlags: string[];
}

/** A started init: its pid and boot's ends of the two pipes. */
export interface StartedInit {
  pid: number;
  /** Read end: "ready", "error: …", or EOF once the app has exec'd. */
  readyFd: number;
  /** Write end: one byte starts the app. */
  startFd: number;
}

/** `s` as a create's spawn; throws for an exec's. */
export function createSpawn(s: InitSpawn): InitSpawn<CreateInitPlan> {
  if (s.config.mode !== "create") throw new Error("internal error: an exec has no root to build");
  return s as InitSpawn<CreateInitPlan>;
}

export function withPidNamespace<T>(k: Kernel, ns: PidNamespace, fn: () => T): T {
  if (ns.kind === "inherit") return fn();
  const own = k.open("/proc/thread-self/ns/pid", O.RDONLY | O.CLOEXEC);
  try {
    if (ns.kind === "new") {
      k.unshare(CLONE.NEWPID);
    } else {
      const target = k.open(ns.path, O.RDONLY | O.CLOEXEC);
      try {
        k.setns(target, CLONE.NEWPID);
      } finally {
        k.close(target);
      }
    }
    try {
      return fn();
    } finally {
      k.setns(own, CLONE.NEWPID);
    }
  } finally {
    k.close(own);
  }
}

let roExe: number | null | undefined;

/**
 * A detached, read-only mount of the runts executable, through which init is started: a container whose
 * process is `#!/proc/self/exe` then holds a file it cannot open for writing (EROFS), so it cannot replace
 * the host's binary (the CVE-2019-5736 class). Compiled binaries read their own file at start-up through
 * /proc/self/exe, which would not resolve on a detached mount, so they keep the path (documented).
 */
function readOnlyExe(k: Kernel): number | null {
  if (roExe !== undefined) return roExe;
  if (Deno.build.standalone) return roExe = null;
  const fd = k.open(self().path, O.PATH | O.CLOEXEC);
  try {
    roExe = k.cloneMount(fd, false);
    k.mountSetattr(roExe, false, MOUNT_ATTR.RDONLY, 0);
  } finally {
    k.close(fd);
  }
  return roExe;
}

/*
 * The io fds (boot's --io-fds): the root directory first, then one fd per bind mount, in mounts order.
 * This module owns that order on both sides (the wrapper opens them, boot reads them back) and init's fd
 * layout (layoutInitFds).
 */

/**
 * Opens the source of every bind mount O_PATH (CLOEXEC; spawn's fd map donates them), in order. On a
 * failure the fds opened so far are closed and the error names the mount.
 */
export function openBindSources(k: Kernel, mounts: readonly Mount[]): number[] {
  const fds: number[] = [];
  try {
    for (const m of mounts) {
      if (!isBindMount(m)) continue;
      try {
        fds.push(k.open(m.source ?? "", O.PATH | O.CLOEXEC));
      } catch (e) {
        throw new Error(`opening source of bind mount ${m.destination}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
  } catch (e) {
    for (const fd of fds) k.close(fd);
    throw e;
  }
  return fds;
}

/**
 * Opens a container's io fds: the root directory (openRootfs: no symlink below the bundle), then each bind
 * source (openBindSources). On a failure everything opened here is closed again.
 */
export function openIoFds(k: Kernel, rootfs: string, bundle: string, mounts: readonly Mount[]): number[] {
  const root = openRootfs(k, rootfs, bundle);
  try {
    return [root, ...openBindSources(k, mounts)];
  } catch (e) {
    k.close(root);
    throw e;
  }
}

/** The mount each io fd stands for, in order: null for the root, then each bind mount. */
export function ioFdMounts(mounts: readonly Mount[]): Array<Mount | null> {
  return [null, ...mounts.filter(isBindMount)];
}

/** The io fds read back: the root's (null: none given) and each bind source's by mount index. */
export function ioSources(ioFds: readonly number[], mounts: readonly Mount[]): {
  rootFd: number | null;
  bindFds: Record<string, number>;
} {
  const bindFds: Record<string, number> = {};
  let next = 1;
  mounts.forEach((m, i) => {
    if (isBindMount(m) && next < ioFds.length) bindFds[String(i)] = ioFds[next++];
  });
  return { rootFd: ioFds.length ? ioFds[0] : null, bindFds };
}

/** Where every fd of an init goes: child fd → boot fd, and the configuration that names them. */
export interface InitFdLayout {
  fds: Map<number, number>;
  config: InitConfig;
  /** The first child fd past the layout. */
  next: number;
}

/**
 * The one fd layout of an init (a `runts init` process or a clone child): stdio at 0–2, the preserved fds
 * at 3…, then (process init only) the config memfd and the two pipes, then the root, the bind sources in
 * mount order and the cgroup directories.
 */
export function layoutInitFds(
  s: InitSpawn,
  pipes: { memfd: number; ready: number; start: number } | null,
): InitFdLayout {
  const fds = new Map<number, number>([[0, s.stdio[0]], [1, s.stdio[1]], [2, s.stdio[2]]]);
  let next = 3;
  for (const fd of s.preserved) fds.set(next++, fd);
  let readyFd = -1, startFd = -1;
  if (pipes) {
    fds.set(next++, pipes.memfd);
    readyFd = next;
    fds.set(next++, pipes.ready);
    startFd = next;
    fds.set(next++, pipes.start);
  }
  let rootChild: number | null = null;
  if (s.rootFd !== null) {
    rootChild = next++;
    fds.set(rootChild, s.rootFd);
  }
  const bindChild: Record<string, number> = {};
  for (const [index, fd] of Object.entries(s.bindFds)) {
    bindChild[index] = next;
    fds.set(next++, fd);
  }
  const cgroupChild = (s.cgroupFds ?? []).map((fd) => {
    fds.set(next, fd);
    return next++;
  });
  const fdsOf = { cgroupFds: cgroupChild, readyFd, startFd, preserveFds: s.preserved.length };
  const config: InitConfig = s.config.mode === "create"
    ? { ...s.config, ...fdsOf, rootFd: rootChild, bindFds: bindChild }
    : { ...s.config, ...fdsOf };
  return { fds, config, next };
}

/** Spawns `runts init` with its configuration and fds. */
export function spawnInit(k: Kernel, s: InitSpawn, env: readonly string[]): StartedInit {
  const [readyR, readyW] = k.pipe2(O.CLOEXEC);
  const [startR, startW] = k.pipe2(O.CLOEXEC);
  const memfd = k.memfdCreate("runts-init-config", 1 /* MFD_CLOEXEC */);
  const layout = layoutInitFds(s, { memfd, ready: readyW, start: startR });
  const { fds, config } = layout;
  let next = layout.next;
  try {
    const bytes = new TextEncoder().encode(JSON.stringify(config));
    for (let off = 0; off < bytes.length;) off += k.write(memfd, bytes.subarray(off));
    const argv = selfArgv([...s.globalFlags, "init", `--config-fd=${config.readyFd - 1}`]);
    const exe = readOnlyExe(k);
    let path = self().path;
    if (exe !== null) {
      fds.set(next, exe);
      path = `/proc/self/fd/${next++}`;
    }
    const pid = withPidNamespace(k, s.pidns, () => k.spawn({ path, argv, env, fds }));
    return { pid, readyFd: readyR, startFd: startW };
  } catch (e) {
    k.close(readyR);
    k.close(startW);
    throw e;
  } finally {
    k.close(memfd);
    k.close(readyW);
    k.close(startR);
  }
}

/**
 * Reads one report from init's ready pipe (blocking; init answers within its setup time); null at EOF.
 */
export function readReport(k: Kernel, fd: number): InitReport | null {
  return decodeReport(readLine(k, fd));
}

/** Reads one line from `fd` (blocking); null at EOF. */
function readLine(k: Kernel, fd: number): string | null {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  for (;;) {
    if (k.read(fd, one) === 0) return bytes.length ? new TextDecoder().decode(new Uint8Array(bytes)) : null;
    if (one[0] === 10) return new TextDecoder().decode(new Uint8Array(bytes));
    bytes.push(one[0]);
  }
}

/**
 * Runs the ready/start handshake of an exec'd init (boot's for ExecuteAsync, the wrapper's for
 * `exec --detach`): waits for "ready", sends the start byte, and waits for EOF (the execve succeeded).
 * Closes both pipes. On failure init is killed (its spawner reaps it) and the error names init's report.
 */
export function startExecInit(k: Kernel, started: StartedInit): void {
  try {
    const ready = readReport(k, started.readyFd);
    if (ready?.kind !== "ready") throw new Error(`exec: ${ready?.message ?? "init exited"}`);
    k.write(started.startFd, new Uint8Array(1));
    const failed = readReport(k, started.readyFd);
    if (failed !== null) throw new Error(`exec: ${failed.kind === "error" ? failed.message : "ready twice"}`);
  } catch (e) {
    try {
      k.kill(started.pid, SIGNALS.KILL);
    } catch (e) {
      if (!isErrno(e, Errno.ESRCH)) throw e;
    }
    throw e;
  } finally {
    k.close(started.readyFd);
    k.close(started.startFd);
  }
}
