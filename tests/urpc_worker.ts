/**
 * Worker side of tests/urpc_test.ts: runs the synchronous UrpcClient on its own thread, so the blocking
 * calls do not stall the event loop that serves them in the test's main thread.
 */
/// <reference lib="deno.worker" />
import { linux, O } from "../ffi/mod.ts";
import { RemoteError, UrpcClient } from "../src/urpc/client.ts";

/** One call the worker makes. */
export interface CallSpec {
  method: string;
  arg: unknown;
  /** Send the write end of a fresh pipe with the request and report what the server wrote into it. */
  sendPipe?: boolean;
  /** Use callWithFiles and report what can be read from each fd that came back. */
  readReplyFiles?: boolean;
  /** Send this many fds (pipe ends) with the request. */
  sendFiles?: number;
}

/** What the test asks the worker to do. */
export interface Job {
  address: string;
  calls: CallSpec[];
  /** Switch this thread's uid (raw setresuid) before connecting. */
  uid?: number;
}

/** The outcome of one call. */
export interface CallOutcome {
  ok: boolean;
  result?: unknown;
  error?: { name: string; message: string };
  pipeData?: string;
  replyFileData?: string[];
}

const decoder = new TextDecoder();

function readAll(fd: number): string {
  const buf = new Uint8Array(4096);
  let out = "";
  for (;;) {
    const n = linux.read(fd, buf);
    if (n === 0) return out;
    out += decoder.decode(buf.subarray(0, n));
  }
}

function run(client: UrpcClient, spec: CallSpec): CallOutcome {
  try {
    if (spec.sendPipe) {
      const [r, w] = linux.pipe2(O.CLOEXEC);
      try {
        const result = client.call(spec.method, spec.arg, [w]);
        linux.close(w);
        return { ok: true, result, pipeData: readAll(r) };
      } finally {
        linux.close(r);
      }
    }
    if (spec.sendFiles !== undefined) {
      const fds = Array.from({ length: Math.ceil(spec.sendFiles / 2) }, () => linux.pipe2(O.CLOEXEC)).flat();
      try {
        return { ok: true, result: client.call(spec.method, spec.arg, fds.slice(0, spec.sendFiles)) };
      } finally {
        for (const fd of fds) linux.close(fd);
      }
    }
    if (spec.readReplyFiles) {
      const { result, files } = client.callWithFiles(spec.method, spec.arg);
      const replyFileData = files.map((fd) => {
        const s = readAll(fd);
        linux.close(fd);
        return s;
      });
      return { ok: true, result, replyFileData };
    }
    return { ok: true, result: client.call(spec.method, spec.arg) };
  } catch (e) {
    const err = e as Error;
    return {
      ok: false,
      error: { name: e instanceof RemoteError ? "RemoteError" : err.name, message: err.message },
    };
  }
}

self.onmessage = (e: MessageEvent<Job>) => {
  const job = e.data;
  try {
    if (job.uid !== undefined) linux.setresuid(job.uid);
    const client = UrpcClient.connect(linux, job.address);
    try {
      self.postMessage({ outcomes: job.calls.map((c) => run(client, c)) });
    } finally {
      client.close();
    }
  } catch (e) {
    self.postMessage({ failed: (e as Error).message });
  }
};
