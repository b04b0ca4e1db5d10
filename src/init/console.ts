/**
 * The container's terminal, made inside the container (as runc does): when process.terminal is set and
 * the stdio init got is a unix socket (the wrapper's end of a socketpair), init allocates the pty from the
 * container's own /dev/ptmx, so the tty has a name there (`tty`, ttyname(3)), sends the master back over
 * the socket (SCM_RIGHTS, runc's console-socket message) and makes the slave its fds 0–2. A pty slave
 * given as stdio (the boot contract's older form) is used as it is.
 */
import { type Kernel, O, S_IF, SOCK } from "../../ffi/mod.ts";
import type { Process } from "../specutils/spec.ts";
import { openInRoot } from "./paths.ts";

/** True when init must make the console itself: a terminal process whose stdin is a socket. */
export function wantsConsole(k: Kernel, p: Process): boolean {
  return p.terminal === true && (k.fstatMode(0) & S_IF.FMT) === S_IF.SOCK;
}

/**
 * Allocates the pty from the container's /dev/ptmx (resolved inside `rootFd` while the root is being
 * built, else in the current root, which an exec has joined), sends its master over fd 0, and puts the
 * slave at 0, 1 and 2. Runs once the container's /dev is in place, before setsid and TIOCSCTTY.
 */
export function setUpConsole(k: Kernel, p: Process, rootFd?: number): void {
  const flags = O.RDWR | O.NOCTTY | O.CLOEXEC;
  const master = rootFd === undefined
    ? k.open("/dev/ptmx", flags)
    : openInRoot(k, rootFd, "/dev/ptmx", flags);
  let slave = -1;
  try {
    k.unlockPty(master);
    slave = k.openPtyPeer(master, O.RDWR | O.NOCTTY | O.CLOEXEC);
    if (p.consoleSize) k.setWindowSize(slave, p.consoleSize.height, p.consoleSize.width);
    k.sendmsg(0, new TextEncoder().encode("/dev/ptmx"), [master], SOCK.MSG_NOSIGNAL);
    for (const fd of [0, 1, 2]) k.dup3(slave, fd, 0);
  } finally {
    k.close(master);
    if (slave > 2) k.close(slave);
  }
}
