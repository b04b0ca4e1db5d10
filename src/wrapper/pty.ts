/**
 * Pseudo-terminals for containers with process.terminal, and runc's console-socket protocol: the
 * wrapper connects to the engine's unix socket and sends the pty master with SCM_RIGHTS.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { O, SOCK } from "../../ffi/consts.ts";

/** A pty pair; both ends are CLOEXEC. */
export interface Pty {
  master: number;
  slave: number;
  /** /dev/pts/N of the slave. */
  slavePath: string;
}

/** Opens a new pty pair (posix_openpt + unlockpt + ptsname + open, by hand). */
export function openPty(k: Kernel): Pty {
  const master = k.open("/dev/ptmx", O.RDWR | O.NOCTTY | O.CLOEXEC);
  try {
    k.unlockPty(master);
    const slavePath = `/dev/pts/${k.ptyNumber(master)}`;
    const slave = k.open(slavePath, O.RDWR | O.NOCTTY | O.CLOEXEC);
    return { master, slave, slavePath };
  } catch (e) {
    k.close(master);
    throw e;
  }
}

/**
 * Connects to the unix socket at `socketPath` and sends `fd` with SCM_RIGHTS, with `name` as the data
 * (runc sends the master's name, "/dev/ptmx"; for a pidfd socket, the container's name).
 */
export function sendFd(k: Kernel, socketPath: string, fd: number, name: string): void {
  const s = k.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
  try {
    k.connect(s, socketPath);
    k.sendmsg(s, new TextEncoder().encode(name), [fd]);
  } finally {
    k.close(s);
  }
}

/** Sends a pty master to an engine's console socket (runc's protocol). */
export function sendConsole(k: Kernel, socketPath: string, master: number): void {
  sendFd(k, socketPath, master, "/dev/ptmx");
}

/**
 * A socketpair standing in for a terminal until init makes one inside the container (src/init/console.ts):
 * `inner` goes to the container as its stdin, stdout and stderr; the pty master comes back on `outer`.
 */
export interface ConsoleChannel {
  outer: number;
  inner: number;
}

/** Opens a console channel (both ends CLOEXEC). */
export function openConsoleChannel(k: Kernel): ConsoleChannel {
  const [outer, inner] = k.socketpair(SOCK.STREAM | SOCK.CLOEXEC);
  return { outer, inner };
}

/**
 * Takes the pty master init sent on the channel (blocking; init sends it before it reports ready, so it is
 * there once the container or exec'd process is created) and closes both ends. The caller owns the master.
 */
export function receiveConsole(k: Kernel, ch: ConsoleChannel): number {
  try {
    // Our copy of the inner end goes first, so a container that never sends leaves EOF, not a hang.
    if (ch.inner >= 0) k.close(ch.inner);
    ch.inner = -1;
    const got = k.recvmsg(ch.outer, new Uint8Array(64), 1);
    if (!got || got.fds.length !== 1) {
      for (const fd of got?.fds ?? []) k.close(fd);
      throw new Error("the container did not send its terminal");
    }
    return got.fds[0];
  } finally {
    closeConsoleChannel(k, ch);
  }
}

/** Closes whatever is still open of a console channel. */
export function closeConsoleChannel(k: Kernel, ch: ConsoleChannel): void {
  for (const fd of [ch.outer, ch.inner]) {
    if (fd >= 0) k.close(fd);
  }
  ch.outer = ch.inner = -1;
}
