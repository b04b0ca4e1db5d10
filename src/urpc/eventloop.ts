/**
 * A minimal fd event loop on one epoll set. Exactly one epoll_wait is pending at a time, on a Deno
 * blocking-pool thread (each pending nonblocking FFI call pins one of at most 32 pool threads); the
 * callbacks run on the main thread and must do only short, non-blocking I/O on the ready fd.
 * Level-triggered: a callback that leaves data unread is called again.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { EPOLL, O } from "../../ffi/consts.ts";
import { Errno } from "../../ffi/errno.ts";
import { isErrno } from "../../ffi/error.ts";

/** Called with the ready epoll event mask (EPOLL.IN, EPOLL.OUT, EPOLL.HUP, EPOLL.ERR...). */
export type ReadyCallback = (events: number) => void;

const MAX_EVENTS = 64;

/** Dispatches epoll readiness of registered fds to their callbacks; generic (sockets, pidfds, pipes). */
export class EventLoop {
  readonly #k: Kernel;
  #epfd: number;
  readonly #wakeRead: number;
  readonly #wakeWrite: number;
  readonly #callbacks = new Map<number, ReadyCallback>();
  #running = false;
  #stopped = false;
  #closed = false;

  /** Creates the epoll set and its wake pipe. */
  constructor(k: Kernel) {
    this.#k = k;
    this.#epfd = k.epollCreate();
    [this.#wakeRead, this.#wakeWrite] = k.pipe2(O.CLOEXEC | O.NONBLOCK);
    k.epollCtl(this.#epfd, EPOLL.CTL_ADD, this.#wakeRead, EPOLL.IN);
  }

  /**
   * Watches `fd` for `events`; `onReady` runs on the main thread when it is ready. Remove the fd before
   * closing it. Adding an fd that is already watched replaces its events and callback.
   */
  add(fd: number, events: number, onReady: ReadyCallback): void {
    this.#checkOpen();
    const op = this.#callbacks.has(fd) ? EPOLL.CTL_MOD : EPOLL.CTL_ADD;
    this.#k.epollCtl(this.#epfd, op, fd, events);
    this.#callbacks.set(fd, onReady);
  }

  /** Changes the events a watched fd waits for. */
  modify(fd: number, events: number): void {
    this.#checkOpen();
    if (!this.#callbacks.has(fd)) throw new Error(`event loop: fd ${fd} is not watched`);
    this.#k.epollCtl(this.#epfd, EPOLL.CTL_MOD, fd, events);
  }

  /** Stops watching `fd` (a no-op for an fd that is not watched). Call it before closing the fd. */
  remove(fd: number): void {
    if (!this.#callbacks.delete(fd) || this.#closed) return;
    try {
      this.#k.epollCtl(this.#epfd, EPOLL.CTL_DEL, fd, 0);
    } catch (e) {
      // Closing the last reference to an fd already drops it from the set.
      if (!isErrno(e, Errno.EBADF) && !isErrno(e, Errno.ENOENT)) throw e;
    }
  }

  /** True when `fd` is watched. */
  has(fd: number): boolean {
    return this.#callbacks.has(fd);
  }

  /**
   * Waits and dispatches until stop(). Resolves with no FFI call left pending and the epoll set closed;
   * rejects (after the same cleanup) if a callback throws. A loop runs once.
   */
  async run(): Promise<void> {
    if (this.#running) throw new Error("event loop: already running");
    this.#running = true;
    try {
      while (!this.#stopped) {
        const ready = await this.#k.epollWait(this.#epfd, MAX_EVENTS, -1);
        for (const [fd, events] of ready) {
          if (this.#stopped) break;
          // An fd removed (or replaced) by an earlier callback of this batch may still show up here; a
          // replacement sees a spurious wake-up, which non-blocking I/O tolerates.
          this.#callbacks.get(fd)?.(events);
        }
      }
    } finally {
      this.#close();
    }
  }

  /** Makes run() return: wakes the pending epoll wait. Safe to call more than once, or before run(). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (!this.#running) {
      this.#close();
      return;
    }
    try {
      this.#k.write(this.#wakeWrite, new Uint8Array(1));
    } catch (e) {
      // A full pipe already holds a wake-up.
      if (!isErrno(e, Errno.EAGAIN)) throw e;
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("event loop: already stopped");
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#callbacks.clear();
    this.#k.close(this.#epfd);
    this.#k.close(this.#wakeRead);
    this.#k.close(this.#wakeWrite);
    this.#epfd = -1;
  }
}
