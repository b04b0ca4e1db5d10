/**
 * Waiting in the wrapper (`run`, `exec` without --detach) for boot's answer to a pending Wait/WaitPID
 * call, with the JS thread kept free: the call's socket is watched in an epoll loop, signals the wrapper
 * gets are forwarded to the container, and, for a terminal without a console socket, the pty master is
 * relayed to the wrapper's own stdin/stdout (stdin in raw mode when it is a terminal).
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { EPOLL, SIGNALS } from "../../ffi/consts.ts";
import { Errno } from "../../ffi/errno.ts";
import { isErrno } from "../../ffi/error.ts";
import { EventLoop } from "../urpc/eventloop.ts";
import { sleepSync } from "../util/sleep.ts";

/** What to do while waiting. */
export interface RelayOptions {
  /** The fd whose readability ends the wait (a pending call's socket). */
  readyFd: number;
  /** A pty master to relay to our stdin/stdout. */
  ttyMaster?: number;
  /** Delivers a signal the wrapper received to the container. */
  forward?: (signo: number) => void;
}

const FORWARDED: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
const CHUNK = 32 * 1024;

/** Resolves once `readyFd` is readable (or hung up), relaying and forwarding meanwhile. */
export async function waitRelaying(k: Kernel, opts: RelayOptions): Promise<void> {
  const loop = new EventLoop(k);
  const cleanups: Array<() => void> = [];
  try {
    const master = opts.ttyMaster;
    if (master !== undefined) cleanups.push(relayTerminal(k, loop, master));
    if (opts.forward) {
      cleanups.push(forwardSignals(
        opts.forward,
        master === undefined ? undefined : () => {
          resizeFromConsole(k, master);
        },
      ));
    }
    loop.add(opts.readyFd, EPOLL.IN | EPOLL.RDHUP, () => {
      if (master !== undefined) drain(k, master);
      loop.remove(opts.readyFd);
      loop.stop();
    });
    await loop.run();
  } finally {
    loop.stop();
    for (const c of cleanups.reverse()) c();
  }
}

/** Relays master ⇄ our stdio; returns the undo step. */
function relayTerminal(k: Kernel, loop: EventLoop, master: number): () => void {
  k.setNonblocking(master);
  resizeFromConsole(k, master);
  const buf = new Uint8Array(CHUNK);
  loop.add(master, EPOLL.IN, () => {
    if (!copyOnce(k, master, 1, buf)) loop.remove(master);
  });
  let raw = false;
  try {
    loop.add(0, EPOLL.IN, () => {
      if (!copyOnce(k, 0, master, buf)) loop.remove(0);
    });
    if (Deno.stdin.isTerminal()) {
      Deno.stdin.setRaw(true);
      raw = true;
    }
  } catch (e) {
    // stdin is a regular file (epoll refuses it with EPERM): nothing to relay.
    if (!isErrno(e, Errno.EPERM)) throw e;
  }
  return () => {
    if (raw) Deno.stdin.setRaw(false);
  };
}

/** Copies one chunk from `from` to `to`; false at end of input (EOF, or EIO from a closed pty). */
function copyOnce(k: Kernel, from: number, to: number, buf: Uint8Array): boolean {
  let n: number;
  try {
    n = k.read(from, buf);
  } catch (e) {
    if (isErrno(e, Errno.EAGAIN)) return true;
    if (isErrno(e, 5 /* EIO */)) return false;
    throw e;
  }
  if (n === 0) return false;
  writeAll(k, to, buf.subarray(0, n));
  return true;
}

function writeAll(k: Kernel, fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += k.write(fd, data.subarray(off));
    } catch (e) {
      // a full pty buffer: the reader on the other side catches up within moments
      if (!isErrno(e, Errno.EAGAIN)) throw e;
      sleepSync(1);
    }
  }
}

/** Reads what is left in the master after the process exited. */
function drain(k: Kernel, master: number): void {
  const buf = new Uint8Array(CHUNK);
  for (;;) {
    let n: number;
    try {
      n = k.read(master, buf);
    } catch {
      return; // EAGAIN (nothing left) or EIO (slave closed)
    }
    if (n === 0) return;
    writeAll(k, 1, buf.subarray(0, n));
  }
}

function resizeFromConsole(k: Kernel, master: number): void {
  try {
    const { columns, rows } = Deno.consoleSize();
    k.setWindowSize(master, rows, columns);
  } catch {
    // stdout is not a terminal: keep the pty's size
  }
}

/** Installs signal forwarding (and SIGWINCH → resize); returns the undo step. */
function forwardSignals(forward: (signo: number) => void, onWinch?: () => void): () => void {
  const installed: Array<[Deno.Signal, () => void]> = [];
  for (const sig of FORWARDED) {
    const h = () => forward(SIGNALS[sig.slice(3)]);
    Deno.addSignalListener(sig, h);
    installed.push([sig, h]);
  }
  if (onWinch) {
    Deno.addSignalListener("SIGWINCH", onWinch);
    installed.push(["SIGWINCH", onWinch]);
  }
  return () => {
    for (const [sig, h] of installed) Deno.removeSignalListener(sig, h);
  };
}
