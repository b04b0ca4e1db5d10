/**
 * Starting boot (runsc's sandbox.New / createSandboxProcess): open and donate its fds, spawn it in a new
 * session, feed it the mounts, and block until the start-sync byte says the container is created and
 * the controller listens.
 */
import type { Kernel, SpawnOptions } from "../../ffi/kernel.ts";
import { AT, CLD, O, P, SIGNALS, SOCK, W } from "../../ffi/consts.ts";
import { Errno } from "../../ffi/errno.ts";
import { isErrno } from "../../ffi/error.ts";
import type { Mount } from "../specutils/spec.ts";
import { self, selfArgv } from "../specutils/exe.ts";
import { type BootCommand, bootCommand, bootEnv } from "./boot_args.ts";
import { openIoFds } from "../boot/spawn_init.ts";
import { readProcStat } from "./proc.ts";
import { testPause } from "../util/test_pause.ts";
import { sleepSync } from "../util/sleep.ts";

/** What starting boot needs. */
export interface SandboxOptions {
  id: string;
  /** Absolute bundle directory. */
  bundle: string;
  /** Absolute rootfs directory. */
  rootfs: string;
  /** The mounts to send, already resolved (resolveMounts). */
  mounts: readonly Mount[];
  /** config.json, open; boot seeks it to 0. */
  specFd: number;
  /** The container's stdin, stdout and stderr. */
  stdio: readonly [number, number, number];
  /** Extra fds of ours the app gets as 3, 4, ... */
  preserved: readonly number[];
  /** Where the control socket is bound: a path or "@abstract". */
  controlAddress: string;
  /** File that receives boot's own stderr. */
  bootLog: string;
  /** Global flags to repeat for boot (conf.toFlags()). */
  globalFlags: readonly string[];
  pidns: boolean;
  attached: boolean;
  noPivot: boolean;
  /** Directory fds of the container's cgroups (boot's --cgroup-fd); the caller keeps them. */
  cgroupFds?: readonly number[];
  /** boot's --total-memory (bytes), when the container has a memory limit. */
  totalMemory?: bigint;
  /** File boot writes the app's wait status to when it exits (created/truncated here). */
  exitStatusFile?: string;
  /**
   * Called once boot is spawned, before its sync byte is awaited (the caller records boot's pid, so a
   * wrapper killed from here on leaves a record that names boot). A throw aborts: boot is killed.
   */
  onSpawned?: (pid: number) => void;
}

/** A boot process that signalled readiness. */
export interface Sandbox {
  pid: number;
  /** Its /proc start time (pid reuse guard). */
  startTime: string;
  /**
   * Our end of the start-sync socket, still open: boot keeps the container only once confirmCreated()
   * writes a byte on it; if it is closed first (abandonCreate(), or this process dies), boot destroys the
   * container by itself.
   */
  syncFd: number;
}

/** Boot failed before it was ready; the message carries boot's own error when it left one. */
export class SandboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SandboxError";
  }
}

/** boot's command line and fds, opened and ready to spawn (prepareBoot). */
export interface PreparedBoot {
  /** The boot arguments and the child fd → parent fd map. */
  cmd: BootCommand;
  /** Our end of the start-sync socket. */
  syncR: number;
  /** The write end of the mounts pipe. */
  mountsW: number;
  /** The fds donated to boot, to close once it is spawned (or on failure). */
  opened: number[];
}

/**
 * Opens everything boot is handed (the root and bind sources O_PATH, the bound control socket, the mounts
 * pipe, the start-sync socketpair, /dev/null, the boot log and the exit-status file) and builds its
 * command line. On failure everything opened here is closed again.
 */
export function prepareBoot(k: Kernel, opts: SandboxOptions): PreparedBoot {
  const opened: number[] = [];
  const keep = (fd: number) => (opened.push(fd), fd);
  let syncR = -1, mountsW = -1;
  try {
    const io = openIoFds(k, opts.rootfs, opts.bundle, opts.mounts);
    for (const fd of io) keep(fd);
    const controller = keep(bindControlSocket(k, opts.controlAddress));
    const [mr, mw] = k.pipe2(O.CLOEXEC);
    keep(mr);
    mountsW = mw;
    // A socket, not a pipe: boot then waits for our confirmation byte (or EOF) on it after its own byte.
    const [sr, sw] = k.socketpair(SOCK.STREAM | SOCK.CLOEXEC);
    syncR = sr;
    keep(sw);
    const devNull = keep(k.open("/dev/null", O.RDWR | O.CLOEXEC));
    const log = keep(k.open(opts.bootLog, O.WRONLY | O.CREAT | O.APPEND | O.CLOEXEC, 0o640));
    const exitStatus = opts.exitStatusFile === undefined
      ? undefined
      : keep(k.open(opts.exitStatusFile, O.WRONLY | O.CREAT | O.TRUNC | O.CLOEXEC, 0o640));
    const cmd = bootCommand(
      {
        globalFlags: opts.globalFlags,
        bundle: opts.bundle,
        id: opts.id,
        pidns: opts.pidns,
        attached: opts.attached,
        noPivot: opts.noPivot,
        totalMemory: opts.totalMemory,
      },
      {
        own: [devNull, devNull, log],
        controller,
        mounts: mr,
        spec: opts.specFd,
        startSync: sw,
        io,
        stdio: opts.stdio,
        preserved: opts.preserved,
        exitStatus,
        cgroups: opts.cgroupFds,
      },
    );
    return { cmd, syncR, mountsW, opened };
  } catch (e) {
    if (syncR >= 0) k.close(syncR);
    if (mountsW >= 0) k.close(mountsW);
    for (const fd of opened) k.close(fd);
    throw e;
  }
}

/** How boot is spawned: the runts executable, in a new session, with `cmd`'s fds only. */
export function bootSpawn(cmd: BootCommand): SpawnOptions {
  return {
    path: self().path,
    argv: selfArgv(cmd.args),
    env: bootEnv(Deno.env.toObject()),
    fds: cmd.fds,
    setsid: true,
  };
}

/** Sends the mount list to boot over the mounts pipe (all of it, in one JSON document). */
export function sendMounts(k: Kernel, fd: number, mounts: readonly Mount[]): void {
  writeAll(k, fd, new TextEncoder().encode(JSON.stringify(mounts)));
}

/**
 * Spawns boot and waits for its start-sync byte. The caller keeps ownership of `specFd` and the stdio
 * fds. On failure boot is killed and reaped, and a SandboxError explains why.
 */
export function startSandbox(k: Kernel, opts: SandboxOptions): Sandbox {
  let prepared: PreparedBoot;
  try {
    prepared = prepareBoot(k, opts);
  } catch (e) {
    const hint = fdLimitHint(e);
    if (hint) throw new SandboxError(`starting the sandbox: ${(e as Error).message}${hint}`);
    throw e;
  }
  const { syncR, mountsW, opened } = prepared;
  let pid = -1;
  try {
    pid = k.spawn(bootSpawn(prepared.cmd));
    opts.onSpawned?.(pid);
    testPause("create-before-sync");
  } catch (e) {
    k.close(syncR);
    k.close(mountsW);
    for (const fd of opened.splice(0)) k.close(fd);
    if (pid > 0) abort(k, pid);
    const hint = fdLimitHint(e);
    if (hint) throw new SandboxError(`starting the sandbox: ${(e as Error).message}${hint}`);
    throw e;
  } finally {
    for (const fd of opened) k.close(fd);
  }

  try {
    sendMounts(k, mountsW, opts.mounts);
  } catch (e) {
    // boot died before reading its mounts: the sync read below reports it.
    if (!isErrno(e, Errno.EPIPE)) {
      k.close(syncR);
      abort(k, pid);
      throw e;
    }
  } finally {
    k.close(mountsW);
  }

  let n = 0;
  try {
    n = k.read(syncR, new Uint8Array(1));
  } catch (e) {
    // ECONNRESET: boot died with our confirmation socket open.
    if (!isErrno(e, Errno.ECONNRESET)) {
      k.close(syncR);
      abort(k, pid);
      throw e;
    }
  }
  if (n !== 1) {
    k.close(syncR);
    const status = abort(k, pid);
    throw new SandboxError(bootFailure(k, opts.bootLog, status));
  }
  const st = readProcStat(pid);
  return { pid, startTime: st?.startTime ?? "", syncFd: syncR };
}

/**
 * Tells boot the container is created (its record says so): boot keeps it from now on. Closes the
 * sync socket. A boot that already gave up makes this throw.
 */
export function confirmCreated(k: Kernel, sandbox: Sandbox): void {
  const fd = sandbox.syncFd;
  if (fd < 0) return; // a loader of this process (src/wrapper/in_process.ts): nothing to confirm
  sandbox.syncFd = -1;
  try {
    if (k.sendmsg(fd, new Uint8Array(1), [], SOCK.MSG_NOSIGNAL) !== 1) throw new Error("short write");
  } catch (e) {
    throw new SandboxError(`boot went away before the container was created (${(e as Error).message})`);
  } finally {
    k.close(fd);
  }
}

/** Closes the sync socket without confirming: boot destroys the container and exits. Idempotent. */
export function abandonCreate(k: Kernel, sandbox: Sandbox): void {
  if (sandbox.syncFd < 0) return;
  k.close(sandbox.syncFd);
  sandbox.syncFd = -1;
}

/** A hint for errors that a low RLIMIT_NOFILE causes (EMFILE, or EBADF from dup2 onto a high fd). */
export function fdLimitHint(e: unknown): string {
  if (!isErrno(e, Errno.EMFILE) && !isErrno(e, Errno.EBADF) && !isErrno(e, Errno.ENFILE)) return "";
  return " (too many open files: is the open-file limit, RLIMIT_NOFILE, too low?)";
}

/** A unix stream socket bound to `address`, not listening (boot listens). */
export function bindControlSocket(k: Kernel, address: string): number {
  const fd = k.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
  try {
    if (!address.startsWith("@")) {
      try {
        k.unlinkat(AT.FDCWD, address, 0);
      } catch (e) {
        if (!isErrno(e, Errno.ENOENT)) throw e;
      }
    }
    k.bind(fd, address);
    return fd;
  } catch (e) {
    k.close(fd);
    throw e;
  }
}

function writeAll(k: Kernel, fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += k.write(fd, data.subarray(off));
}

/** Reaps boot, giving it a second to exit by itself before killing it; its exit description. */
function abort(k: Kernel, pid: number): string {
  let info = null;
  for (let i = 0; i < 100 && !info; i++) {
    info = k.waitid(P.PID, pid, W.EXITED | W.NOHANG);
    if (!info) sleepSync(10);
  }
  if (!info) {
    k.kill(pid, SIGNALS.KILL);
    info = k.waitid(P.PID, pid, W.EXITED);
  }
  if (!info) return "unknown status";
  return info.code === CLD.EXITED ? `exit status ${info.status}` : `signal ${info.status}`;
}

/** The error to report when boot closed the sync pipe without the byte: its last stderr lines. */
function bootFailure(k: Kernel, logPath: string, status: string): string {
  let text = "";
  try {
    text = k.readTextFile(logPath).trim();
  } catch {
    // no log
  }
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const tail = lines.slice(-3).join("; ");
  return tail ? `boot failed (${status}): ${tail}` : `waiting for sandbox to start: EOF (boot ${status})`;
}
