/**
 * The urpc server of the boot process (gVisor pkg/control/server + pkg/urpc): serves a bound unix stream
 * socket through an EventLoop. Connections are served concurrently, the calls of one connection in order.
 * Only peers running as our own uid or as root are served (SO_PEERCRED).
 */
import type { Kernel, PeerCred } from "../../ffi/kernel.ts";
import { EPOLL, SOCK } from "../../ffi/consts.ts";
import { Errno } from "../../ffi/errno.ts";
import { isErrno, SyscallError } from "../../ffi/error.ts";
import type { EventLoop } from "./eventloop.ts";
import {
  decodeJson,
  encodeResponse,
  goField,
  isObject,
  MAX_FILES,
  MessageReader,
  type Response,
} from "./wire.ts";

/**
 * A method: gets the decoded `arg`, the fds that came with the request (the handler owns them and must
 * close them) and the caller's credentials. Its (awaited) return value is the result; undefined is sent
 * as null. A throw becomes `success:false` with the error's message.
 */
export type Handler = (arg: unknown, files: number[], peer: PeerCred) => unknown | Promise<unknown>;

/** A handler result that also sends fds with the reply; the server closes them once sent. */
export class FilePayload {
  constructor(readonly result: unknown, readonly files: number[]) {}
}

/** Where the server reports dropped and rejected connections (debug level). */
export interface DebugLogger {
  debug(message: string): void;
}

/** The control server's rule: serve a peer running as our own uid, or as root. */
export function peerAllowed(peer: PeerCred, ownUid: number): boolean {
  return peer.uid === ownUid || peer.uid === 0;
}

/** idle: waiting for (the rest of) a request; busy: a handler runs; writing: the reply is being sent. */
type ConnState = "idle" | "busy" | "writing";

interface Conn {
  fd: number;
  peer: PeerCred;
  state: ConnState;
  reader: MessageReader;
  /** Fds received for the request being read. */
  files: number[];
  /** Bytes that arrived after the current request (a pipelining client); read before the socket. */
  pending: Uint8Array;
  out: Uint8Array;
  outOff: number;
  outFiles: number[];
  outFilesSent: boolean;
  /** Close once the current reply is out (stop() was called). */
  closing: boolean;
  closed: boolean;
}

const READ_CHUNK = 64 * 1024;
const ACCEPT_RETRY_MS = 100;
const NO_LOG: DebugLogger = { debug() {} };

/** Serves urpc on a bound, not yet listening, unix stream socket. */
export class UrpcServer {
  readonly #k: Kernel;
  readonly #loop: EventLoop;
  readonly #listenFd: number;
  readonly #handlers: Record<string, Handler>;
  readonly #log: DebugLogger;
  readonly #conns = new Set<Conn>();
  readonly #firstByte = new Uint8Array(1);
  readonly #chunk = new Uint8Array(READ_CHUNK);
  #uid = -1;
  #ownerUid: number | undefined;

  /**
   * The uid allowed to call besides root, instead of our own: a supervisor that runs as a shared account
   * (boot as nobody) must not serve every other process of that account.
   */
  allowOnly(uid: number): void {
    this.#ownerUid = uid;
    if (this.#started) this.#uid = uid;
  }
  #started = false;
  #stopping = false;
  #listenerClosed = false;
  #drained: (() => void) | null = null;
  #stopped: Promise<void> | undefined;
  #acceptTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `listenFd` is a bound AF_UNIX SOCK_STREAM socket; the server takes ownership and closes it in stop().
   * `logger` receives debug messages about rejected or dropped connections.
   */
  constructor(
    k: Kernel,
    loop: EventLoop,
    listenFd: number,
    handlers: Record<string, Handler>,
    logger: DebugLogger = NO_LOG,
  ) {
    this.#k = k;
    this.#loop = loop;
    this.#listenFd = listenFd;
    this.#handlers = handlers;
    this.#log = logger;
  }

  /** listen(fd, 16) right away (clients may connect once this returns), then serves through the loop. */
  start(): void {
    if (this.#started) throw new Error("urpc server: already started");
    this.#started = true;
    this.#uid = this.#ownerUid ?? this.#k.getuid();
    this.#k.listen(this.#listenFd, 16);
    this.#k.setNonblocking(this.#listenFd);
    this.#loop.add(this.#listenFd, EPOLL.IN, () => this.#accept());
  }

  /**
   * Closes the listener and idle connections at once; a connection with a call in flight is closed once
   * its reply is sent, or when `graceMs` expires. Resolves when every connection is closed; later calls
   * return the same promise. Does not stop the loop (it belongs to the caller): stop the loop after this
   * resolves. A handler must not await stop(), since stop() waits for that handler's own reply.
   */
  stop(graceMs = 15000): Promise<void> {
    this.#stopped ??= this.#stop(graceMs);
    return this.#stopped;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#closeListener();
    for (const c of [...this.#conns]) {
      if (c.state === "idle") this.#close(c);
      else c.closing = true;
    }
    if (this.#conns.size === 0) return;
    // A reply already decided (Wait's, when the app has just exited) goes out within a few microtask hops:
    // let it, so the usual stop arms no timer (Deno's first setTimeout costs about 12 ms).
    for (let hop = 0; hop < 16 && this.#conns.size > 0; hop++) await null;
    if (this.#conns.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
      timer = setTimeout(() => {
        for (const c of [...this.#conns]) this.#close(c, "still busy when the stop grace period expired");
      }, graceMs);
    });
    clearTimeout(timer);
  }

  #pauseAccepting(): void {
    this.#loop.remove(this.#listenFd);
    this.#acceptTimer = setTimeout(() => {
      this.#acceptTimer = undefined;
      if (!this.#listenerClosed) this.#loop.add(this.#listenFd, EPOLL.IN, () => this.#accept());
    }, ACCEPT_RETRY_MS);
  }

  #closeListener(): void {
    if (this.#acceptTimer !== undefined) clearTimeout(this.#acceptTimer);
    if (this.#listenerClosed) return;
    this.#listenerClosed = true;
    this.#loop.remove(this.#listenFd);
    this.#k.close(this.#listenFd);
  }

  #accept(): void {
    for (;;) {
      let fd: number | null;
      try {
        fd = this.#k.accept4(this.#listenFd, SOCK.NONBLOCK | SOCK.CLOEXEC);
      } catch (e) {
        if (!(e instanceof SyscallError)) throw e;
        this.#log.debug(`urpc: ${e.message}`);
        // The connection that failed is gone; try the next one.
        if (e.code === "ECONNABORTED" || e.code === "EPROTO") continue;
        // Out of fds or memory: the connection stays queued and the level-triggered listener would spin,
        // so stop watching it for a moment.
        this.#pauseAccepting();
        return;
      }
      if (fd === null) return;
      let peer: PeerCred;
      try {
        peer = this.#k.peerCred(fd);
      } catch (e) {
        this.#log.debug(`urpc: ${(e as Error).message}; closing the connection`);
        this.#k.close(fd);
        continue;
      }
      if (!peerAllowed(peer, this.#uid)) {
        this.#log.debug(
          `urpc: rejecting a connection from uid ${peer.uid} (pid ${peer.pid}): only uid ${this.#uid} or 0 may call`,
        );
        this.#k.close(fd);
        continue;
      }
      const c: Conn = {
        fd,
        peer,
        state: "idle",
        reader: new MessageReader(),
        files: [],
        pending: new Uint8Array(0),
        out: new Uint8Array(0),
        outOff: 0,
        outFiles: [],
        outFilesSent: false,
        closing: false,
        closed: false,
      };
      this.#conns.add(c);
      this.#loop.add(fd, EPOLL.IN, () => this.#readable(c));
    }
  }

  /** Reads what the socket holds until a request is complete or the socket would block. */
  #readable(c: Conn): void {
    while (c.state === "idle" && !c.closed) {
      // Like pkg/urpc: the first byte of a message alone, with room for the fds sent along with it.
      const buf = c.reader.empty ? this.#firstByte : this.#chunk;
      let got;
      try {
        got = this.#k.recvmsg(c.fd, buf, MAX_FILES, SOCK.MSG_DONTWAIT);
      } catch (e) {
        this.#close(c, (e as Error).message);
        return;
      }
      if (got === null) return;
      c.files.push(...got.fds);
      if (got.n === 0) {
        const last = c.reader.finish();
        if (last) this.#dispatch(c, last);
        else this.#close(c, c.reader.started ? "connection closed in the middle of a request" : "");
        return;
      }
      this.#consume(c, buf.subarray(0, got.n));
    }
  }

  /** Feeds bytes to the connection's reader and dispatches a completed request. */
  #consume(c: Conn, bytes: Uint8Array): void {
    let done;
    try {
      done = c.reader.push(bytes);
    } catch (e) {
      this.#close(c, `malformed request: ${(e as Error).message}`);
      return;
    }
    if (!done) return;
    c.pending = done.rest;
    this.#dispatch(c, done.message);
  }

  #dispatch(c: Conn, message: Uint8Array): void {
    // No reading while the call runs: a hung-up peer would otherwise report EPOLLHUP over and over.
    this.#loop.remove(c.fd);
    c.state = "busy";
    const files = c.files;
    c.files = [];
    let request: unknown;
    try {
      request = decodeJson(message);
    } catch (e) {
      this.#closeFds(files);
      this.#close(c, `malformed request: ${(e as Error).message}`);
      return;
    }
    if (!isObject(request)) {
      this.#closeFds(files);
      this.#close(c, "malformed request: not a JSON object");
      return;
    }
    const method = goField(request, "method");
    const handler = typeof method === "string" && Object.hasOwn(this.#handlers, method)
      ? this.#handlers[method]
      : undefined;
    if (!handler) {
      this.#closeFds(files);
      this.#reply(c, { success: false, err: "unknown method", result: null });
      return;
    }
    const arg = goField(request, "arg") ?? null;
    const peer = c.peer;
    (async () => await handler(arg, files, peer))().then(
      (result) => {
        if (result instanceof FilePayload) {
          this.#reply(c, { success: true, err: "", result: result.result ?? null }, result.files);
        } else {
          this.#reply(c, { success: true, err: "", result: result ?? null });
        }
      },
      (e) =>
        this.#reply(c, { success: false, err: e instanceof Error ? e.message : String(e), result: null }),
    );
  }

  #reply(c: Conn, response: Response, files: number[] = []): void {
    if (c.closed) {
      this.#closeFds(files);
      return;
    }
    if (files.length > MAX_FILES) {
      this.#closeFds(files);
      response = { success: false, err: "too many files", result: null };
      files = [];
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeResponse(response);
    } catch (e) {
      // The result cannot be encoded (a cycle, say): report that instead.
      this.#closeFds(files);
      files = [];
      bytes = encodeResponse({ success: false, err: (e as Error).message, result: null });
    }
    c.state = "writing";
    c.out = bytes;
    c.outOff = 0;
    c.outFiles = files;
    c.outFilesSent = false;
    this.#flush(c);
  }

  /** Writes as much of the reply as the socket takes; waits for EPOLLOUT for the rest. */
  #flush(c: Conn): void {
    while (c.outOff < c.out.length) {
      let n: number;
      try {
        n = this.#k.sendmsg(
          c.fd,
          c.out.subarray(c.outOff),
          c.outFilesSent ? [] : c.outFiles,
          SOCK.MSG_NOSIGNAL | SOCK.MSG_DONTWAIT,
        );
      } catch (e) {
        if (isErrno(e, Errno.EAGAIN)) {
          this.#loop.add(c.fd, EPOLL.OUT, () => this.#flush(c));
          return;
        }
        // EPIPE, ECONNRESET: the caller went away; nothing to tell it.
        this.#close(c, (e as Error).message);
        return;
      }
      // Fds ride on the first sendmsg that moved bytes only.
      c.outFilesSent = true;
      c.outOff += n;
    }
    this.#closeFds(c.outFiles);
    c.outFiles = [];
    c.out = new Uint8Array(0);
    if (c.closing || this.#stopping) {
      this.#close(c);
      return;
    }
    c.state = "idle";
    this.#loop.add(c.fd, EPOLL.IN, () => this.#readable(c));
    if (c.pending.length) {
      const pending = c.pending;
      c.pending = new Uint8Array(0);
      this.#consume(c, pending);
    }
  }

  /** Closes a connection and whatever fds it still holds; `why` (if any) goes to the debug log. */
  #close(c: Conn, why = ""): void {
    if (c.closed) return;
    if (why) this.#log.debug(`urpc: dropping connection from pid ${c.peer.pid}: ${why}`);
    c.closed = true;
    this.#loop.remove(c.fd);
    this.#k.close(c.fd);
    this.#closeFds(c.files);
    c.files = [];
    if (c.state === "writing") this.#closeFds(c.outFiles);
    c.outFiles = [];
    this.#conns.delete(c);
    if (this.#conns.size === 0 && this.#drained) {
      const resolve = this.#drained;
      this.#drained = null;
      resolve();
    }
  }

  #closeFds(fds: number[]): void {
    for (const fd of fds) this.#k.close(fd);
  }
}
