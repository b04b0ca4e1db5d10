/**
 * A urpc call whose reply is awaited through an event loop instead of a blocking read, so the wrapper
 * can relay a terminal and forward signals meanwhile. `run` sends its Wait before StartRoot: boot
 * answers pending Wait callers when the app exits but stops accepting connections right after, so the
 * call has to be in flight before the app can exit.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { EPOLL, SOCK } from "../../ffi/consts.ts";
import { RemoteError } from "../urpc/client.ts";
import {
  decodeJson,
  encodeRequest,
  goField,
  isObject,
  MAX_MESSAGE_BYTES,
  MessageReader,
} from "../urpc/wire.ts";

/** boot did not answer in time: it runs but is stopped or wedged (not the same as gone). */
export class NoReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoReplyError";
  }
}

/** A sent request; `fd` turns readable when the reply (or EOF) arrives. */
export class PendingCall {
  readonly #k: Kernel;
  readonly #method: string;
  #fd: number;

  private constructor(k: Kernel, fd: number, method: string) {
    this.#k = k;
    this.#fd = fd;
    this.#method = method;
  }

  /** Connects to `address` and sends `{method, arg}` (no fds). */
  static send(k: Kernel, address: string, method: string, arg: unknown): PendingCall {
    const fd = k.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
    try {
      k.connect(fd, address);
      const bytes = encodeRequest(method, arg);
      let off = 0;
      while (off < bytes.length) off += k.sendmsg(fd, bytes.subarray(off), [], SOCK.MSG_NOSIGNAL);
    } catch (e) {
      k.close(fd);
      throw e;
    }
    return new PendingCall(k, fd, method);
  }

  /** The socket to watch for EPOLL.IN. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Reads the reply (blocking until it is complete, or at most `timeoutMs` when given) and closes the
   * connection. Returns the result; throws RemoteError for a failed call, Error when boot hung up without
   * answering or did not answer in time.
   */
  finish<T>(timeoutMs?: number): T {
    if (this.#fd < 0) throw new Error("pending call: already finished");
    try {
      const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
      if (timeoutMs !== undefined) {
        this.#k.setNonblocking(this.#fd);
      }
      const reader = new MessageReader(MAX_MESSAGE_BYTES);
      const buf = new Uint8Array(4096);
      let message: Uint8Array | null = null;
      while (!message) {
        const got = this.#k.recvmsg(this.#fd, buf, 0);
        if (got === null) {
          if (Date.now() > deadline) {
            throw new NoReplyError(`${this.#method}: no reply within ${timeoutMs} ms`);
          }
          // Sleep in the kernel until the reply arrives or the deadline passes.
          this.#k.pollOne(this.#fd, EPOLL.IN, deadline - Date.now());
          continue;
        }
        if (got.n === 0) {
          message = reader.finish();
          if (!message) throw new Error(`${this.#method}: connection closed before the reply`);
          break;
        }
        message = reader.push(buf.subarray(0, got.n))?.message ?? null;
      }
      const response = decodeJson(message);
      if (!isObject(response)) throw new Error(`${this.#method}: malformed reply`);
      if (!goField(response, "success")) throw new RemoteError(String(goField(response, "err")));
      return (goField(response, "result") ?? null) as T;
    } finally {
      this.close();
    }
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#fd < 0) return;
    this.#k.close(this.#fd);
    this.#fd = -1;
  }
}
