/**
 * The synchronous urpc client (gVisor pkg/urpc Client): blocking FFI socket calls on the calling thread,
 * no node:net. A call blocks the whole JS thread until the reply arrives, which is what the CLI wants;
 * never call a server that runs on the same thread.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { SOCK } from "../../ffi/consts.ts";
import {
  decodeJson,
  encodeRequest,
  goField,
  isObject,
  MAX_FILES,
  MAX_MESSAGE_BYTES,
  MessageReader,
  TOO_MANY_FILES,
} from "./wire.ts";

/** The server answered `success:false`; the message is the server's `err` text. */
export class RemoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RemoteError";
  }
}

/** A result with the fds that came with the reply (the caller owns and must close them). */
export interface ResultWithFiles<T> {
  result: T;
  files: number[];
}

const READ_CHUNK = 64 * 1024;

/** A connection to a urpc server; one call at a time, each request followed by its reply. */
export class UrpcClient {
  readonly #k: Kernel;
  #fd: number;

  private constructor(k: Kernel, fd: number) {
    this.#k = k;
    this.#fd = fd;
  }

  /** Connects to `address`: a socket path, or "@name" for an abstract socket. */
  static connect(k: Kernel, address: string): UrpcClient {
    const fd = k.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
    try {
      k.connect(fd, address);
    } catch (e) {
      k.close(fd);
      throw e;
    }
    return new UrpcClient(k, fd);
  }

  /**
   * Calls `method` (e.g. "containerManager.Wait") with `arg` and up to 32 fds, which are sent, not
   * closed. Returns the result; fds that come back with the reply are closed. Throws RemoteError when the
   * server reports failure.
   */
  call<T = unknown>(method: string, arg: unknown, files: readonly number[] = []): T {
    const { result, files: received } = this.callWithFiles<T>(method, arg, files);
    for (const fd of received) this.#k.close(fd);
    return result;
  }

  /** Like call(), but also returns the fds sent with the reply; the caller owns them. */
  callWithFiles<T = unknown>(
    method: string,
    arg: unknown,
    files: readonly number[] = [],
  ): ResultWithFiles<T> {
    if (this.#fd < 0) throw new Error("urpc client: closed");
    if (files.length > MAX_FILES) throw new Error(TOO_MANY_FILES);
    this.#send(encodeRequest(method, arg), files);
    const { message, files: received } = this.#receive();
    let response: unknown;
    try {
      response = decodeJson(message);
      if (!isObject(response) || typeof goField(response, "success") !== "boolean") {
        throw new SyntaxError("not a urpc response object");
      }
    } catch (e) {
      this.#closeAll(received);
      throw new Error(`urpc: malformed reply to ${method}: ${(e as Error).message}`);
    }
    if (!goField(response, "success")) {
      this.#closeAll(received);
      const err = goField(response, "err");
      throw new RemoteError(typeof err === "string" ? err : String(err));
    }
    return { result: (goField(response, "result") ?? null) as T, files: received };
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    this.#k.close(fd);
  }

  #send(bytes: Uint8Array, files: readonly number[]): void {
    let off = 0;
    let first = true;
    while (off < bytes.length) {
      // The fds go with the first sendmsg only; the blocking socket returns short counts only rarely.
      off += this.#k.sendmsg(this.#fd, bytes.subarray(off), first ? files : [], SOCK.MSG_NOSIGNAL);
      first = false;
    }
  }

  #receive(): { message: Uint8Array; files: number[] } {
    const reader = new MessageReader(MAX_MESSAGE_BYTES);
    const files: number[] = [];
    const firstByte = new Uint8Array(1);
    const chunk = new Uint8Array(READ_CHUNK);
    try {
      for (;;) {
        const buf = reader.empty ? firstByte : chunk;
        const got = this.#k.recvmsg(this.#fd, buf, MAX_FILES);
        if (got === null) continue; // only a non-blocking socket says EAGAIN; ours blocks
        files.push(...got.fds);
        if (got.n === 0) {
          const last = reader.finish();
          if (last) return { message: last, files };
          throw new Error("urpc: connection closed before the reply was complete");
        }
        const done = reader.push(buf.subarray(0, got.n));
        if (done) return { message: done.message, files };
      }
    } catch (e) {
      this.#closeAll(files);
      throw e;
    }
  }

  #closeAll(fds: number[]): void {
    for (const fd of fds) this.#k.close(fd);
  }
}
