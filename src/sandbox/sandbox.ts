/**
 * Starting boot (runsc's sandbox.New / createSandboxProcess): open and donate its fds, spawn it in a new
 * session, feed it the mounts, and block until the start-sync byte says the container is created and
 * the controller listens.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { CLD, O, P, SIGNALS, SOCK, W } from "../../ffi/consts.ts";
import { Errno } from "../../ffi/errno.ts";
import { isErrno } from "../../ffi/error.ts";
import type { Mount } from "../specutils/spec.ts";
import { self, selfArgv } from "../specutils/exe.ts";
import { bootCommand, bootEnv } from "./boot_args.ts";
import { openBindSources } from "./mounts.ts";
import { readProcStat } from "../container/proc.ts";

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
}

/** A boot process that signalled readiness. */
export interface Sandbox {
  pid: number;
  /** Its /proc start time (pid reuse guard). */
  startTime: string;
}

/** Boot failed before it was ready; the message carries boot's own error when it left one. */
export class SandboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SandboxError";
  }
}

/**
 * Spawns boot and waits for its start-sync byte. The caller keeps ownership of `specFd` and the stdio
 * fds. On failure boot is killed and reaped, and a SandboxError explains why.
 */
export function startSandbox(k: Kernel, opts: SandboxOptions): Sandbox {
  const opened: number[] = [];
  const keep = (fd: number) => (opened.push(fd), fd);
  let syncR = -1, mountsW = -1;
  let pid: number;
  try {
    keep(k.open(opts.rootfs, O.PATH | O.DIRECTORY | O.CLOEXEC));
    for (const fd of openBindSources(k, opts.mounts)) keep(fd);
    const io = opened.slice();
    const controller = keep(bindControlSocket(k, opts.controlAddress));
    const [mr, mw] = k.pipe2(O.CLOEXEC);
    keep(mr);
    mountsW = mw;
    const [sr, sw] = k.pipe2(O.CLOEXEC);
    syncR = sr;
    keep(sw);
    const devNull = keep(k.open("/dev/null", O.RDWR | O.CLOEXEC));
    const log = keep(k.open(opts.bootLog, O.WRONLY | O.CREAT | O.APPEND | O.CLOEXEC, 0o640));
    const cmd = bootCommand(
      {
        globalFlags: opts.globalFlags,
        bundle: opts.bundle,
        id: opts.id,
        pidns: opts.pidns,
        attached: opts.attached,
        noPivot: opts.noPivot,
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
      },
    );
    pid = k.spawn({
      path: self().path,
      argv: selfArgv(cmd.args),
      env: bootEnv(Deno.env.toObject()),
      fds: cmd.fds,
      setsid: true,
    });
  } catch (e) {
    if (syncR >= 0) k.close(syncR);
    if (mountsW >= 0) k.close(mountsW);
    throw e;
  } finally {
    for (const fd of opened) k.close(fd);
  }

  try {
    writeAll(k, mountsW, new TextEncoder().encode(JSON.stringify(opts.mounts)));
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

  let n: number;
  try {
    n = k.read(syncR, new Uint8Array(1));
  } finally {
    k.close(syncR);
  }
  if (n !== 1) {
    const status = abort(k, pid);
    throw new SandboxError(bootFailure(opts.bootLog, status));
  }
  const st = readProcStat(pid);
  return { pid, startTime: st?.startTime ?? "" };
}

/** A unix stream socket bound to `address`, not listening (boot listens). */
function bindControlSocket(k: Kernel, address: string): number {
  const fd = k.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
  try {
    if (!address.startsWith("@")) {
      try {
        Deno.removeSync(address);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
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

/** Blocks the calling thread for `ms` milliseconds. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The error to report when boot closed the sync pipe without the byte: its last stderr lines. */
function bootFailure(logPath: string, status: string): string {
  let text = "";
  try {
    text = Deno.readTextFileSync(logPath).trim();
  } catch {
    // no log
  }
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const tail = lines.slice(-3).join("; ");
  return tail ? `boot failed (${status}): ${tail}` : `waiting for sandbox to start: EOF (boot ${status})`;
}
