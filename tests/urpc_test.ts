/**
 * urpc: the JSON stream scanner, the wire encoding, and the server, event loop and client against the
 * real kernel. The synchronous client runs in Workers (its blocking calls would stall the event loop that
 * serves it); raw byte-level checks use non-blocking sockets on the test thread.
 */
import assert from "node:assert/strict";
import { EPOLL, linux, O, SOCK } from "../ffi/mod.ts";
import { isErrno } from "../ffi/error.ts";
import { Errno } from "../ffi/errno.ts";
import { EventLoop } from "../src/urpc/eventloop.ts";
import { FilePayload, type Handler, peerAllowed, UrpcServer } from "../src/urpc/server.ts";
import {
  decodeJson,
  encodeJson,
  encodeRequest,
  encodeResponse,
  JsonScanner,
  MessageReader,
} from "../src/urpc/wire.ts";
import type { CallOutcome, CallSpec, Job } from "./urpc_worker.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// Scanner and encoding

/** Feeds `text` in pieces of `step` bytes; returns the absolute end offset, or -1. */
function scanInSteps(text: string, step: number): number {
  const bytes = enc.encode(text);
  const s = new JsonScanner();
  for (let off = 0; off < bytes.length; off += step) {
    const end = s.feed(bytes.subarray(off, Math.min(off + step, bytes.length)));
    if (end >= 0) return off + end;
  }
  return -1;
}

Deno.test("scanner: finds the end of objects with tricky strings, whatever the chunking", () => {
  const cases: Array<[string, string]> = [
    [`{"a":"x\\"}{","b":[1,[2,{"c":"]"}]]}`, ` {"next":1}`],
    [`{"k":"a\\\\"}`, `{}`], // the value is a\ : an escaped backslash, then the closing quote
    [`  \n\t[1,"[",{"x":["}"]},[[]]]`, `]`],
    [`{"u":"\\u0022}","é":"€"}`, ``],
    [`[]`, `[]`],
  ];
  for (const [value, after] of cases) {
    const end = enc.encode(value).length;
    for (const step of [1, 2, 3, 7, 1000]) {
      assert.equal(scanInSteps(value + after, step), end, `${value} in steps of ${step}`);
    }
    assert.equal(scanInSteps(value.slice(0, -1), 1), -1, `${value} without its last byte`);
  }
});

Deno.test("scanner: top-level strings, literals and numbers", () => {
  assert.equal(scanInSteps(`"ab\\"c"x`, 1), 7);
  assert.equal(scanInSteps(`true,`, 1), 4);
  assert.equal(scanInSteps(`  null`, 2), 6);
  assert.equal(scanInSteps(`false`, 1), 5);
  // A number ends at the first byte that cannot belong to it (not consumed), or at end of stream.
  assert.equal(scanInSteps(`-1.5e+3}`, 1), 7);
  const s = new JsonScanner();
  assert.equal(s.feed(enc.encode("768")), -1);
  assert.equal(s.end(), true);
  const t = new JsonScanner();
  assert.equal(t.feed(enc.encode("{")), -1);
  assert.equal(t.end(), false);
});

Deno.test("scanner: structural errors throw SyntaxError", () => {
  for (const bad of [`}`, `{]`, `[1}`, `x`, `tru3`, `:`]) {
    assert.throws(() => new JsonScanner().feed(enc.encode(bad)), SyntaxError, bad);
  }
});

Deno.test("MessageReader: joins chunks (even inside a UTF-8 sequence) and returns what follows", () => {
  const bytes = enc.encode(`{"method":"x.Y","arg":"h€llo \\"}"}  {"next"`);
  const r = new MessageReader();
  assert.equal(r.empty, true);
  let done = null;
  for (let i = 0; i < bytes.length && !done; i++) done = r.push(bytes.subarray(i, i + 1));
  assert.ok(done);
  assert.deepEqual(decodeJson(done.message), { method: "x.Y", arg: 'h€llo "}' });
  assert.equal(r.empty, true);
  const rest = r.push(bytes.subarray(done.message.length + 1));
  assert.equal(rest, null);
  assert.equal(r.started, true);
});

Deno.test("MessageReader: a bare number completes at end of stream; a size limit applies", () => {
  const r = new MessageReader();
  assert.equal(r.push(enc.encode(" 768")), null);
  assert.equal(dec.decode(r.finish()!), " 768");
  const small = new MessageReader(8);
  assert.throws(() => small.push(enc.encode(`{"a":"0123456789"`)), SyntaxError);
});

Deno.test("wire: Go-compatible encoding", () => {
  assert.equal(
    dec.decode(encodeResponse({ success: true, err: "", result: 768 })),
    `{"success":true,"err":"","result":768}`,
  );
  assert.equal(
    dec.decode(encodeResponse({ success: false, err: "unknown method", result: undefined })),
    `{"success":false,"err":"unknown method","result":null}`,
  );
  const req = encodeRequest("containerManager.StartRoot", "t1");
  assert.equal(dec.decode(req), `{"method":"containerManager.StartRoot","arg":"t1"}`);
  assert.equal(req.length, 50);
  assert.equal(encodeRequest("containerManager.Wait", "t1").length, 45);
  assert.equal(dec.decode(encodeRequest("debug.Stacks", undefined)), `{"method":"debug.Stacks","arg":null}`);
  assert.equal(
    encodeJson({ s: "<a&b>\u2028", n: 18446744073709551615n }),
    `{"s":"\\u003ca\\u0026b\\u003e\\u2028","n":18446744073709551615}`,
  );
  assert.deepEqual(decodeJson(enc.encode(`{"big":18446744073709551615,"f":1.5,"i":-3}`)), {
    big: 18446744073709551615n,
    f: 1.5,
    i: -3,
  });
});

Deno.test("peerAllowed: own uid or root only", () => {
  assert.equal(peerAllowed({ pid: 1, uid: 1000, gid: 1000 }, 1000), true);
  assert.equal(peerAllowed({ pid: 1, uid: 0, gid: 0 }, 1000), true);
  assert.equal(peerAllowed({ pid: 1, uid: 65534, gid: 65534 }, 1000), false);
  assert.equal(peerAllowed({ pid: 1, uid: 65534, gid: 65534 }, 65534), true);
});

// ---------------------------------------------------------------------------------------------------
// Event loop

Deno.test("EventLoop: dispatches readiness and leaves nothing pending after stop", async () => {
  const loop = new EventLoop(linux);
  const [r, w] = linux.pipe2(O.CLOEXEC | O.NONBLOCK);
  const running = loop.run();
  const seen: number[] = [];
  const got = new Promise<void>((resolve) => {
    loop.add(r, EPOLL.IN, (events) => {
      seen.push(events);
      const buf = new Uint8Array(16);
      assert.equal(linux.read(r, buf), 3);
      loop.remove(r);
      resolve();
    });
  });
  linux.write(w, enc.encode("abc"));
  await got;
  assert.ok(seen[0] & EPOLL.IN);
  assert.equal(loop.has(r), false);
  loop.stop();
  loop.stop();
  await running;
  linux.close(r);
  linux.close(w);
});

Deno.test("EventLoop: stop before run makes run resolve at once", async () => {
  const loop = new EventLoop(linux);
  loop.stop();
  await loop.run();
});

// ---------------------------------------------------------------------------------------------------
// Server harness

interface Harness {
  address: string;
  server: UrpcServer;
  debug: string[];
  shutdown(graceMs?: number): Promise<void>;
}

let counter = 0;

/** A bound (not listening) socket at a temp path, or at an abstract name when `abstract`. */
function boundSocket(abstract: boolean): { fd: number; address: string; cleanup(): void } {
  const fd = linux.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
  if (abstract) {
    const address = `@runts-urpc-test-${Deno.pid}-${counter++}`;
    linux.bind(fd, address);
    return { fd, address, cleanup() {} };
  }
  const dir = Deno.makeTempDirSync({ prefix: "urpc-test-" });
  const address = `${dir}/ctl.sock`;
  linux.bind(fd, address);
  return { fd, address, cleanup: () => Deno.removeSync(dir, { recursive: true }) };
}

function serve(handlers: Record<string, Handler>, abstract = false): Harness {
  const { fd, address, cleanup } = boundSocket(abstract);
  const loop = new EventLoop(linux);
  const debug: string[] = [];
  const server = new UrpcServer(linux, loop, fd, handlers, { debug: (m) => debug.push(m) });
  server.start();
  const running = loop.run();
  return {
    address,
    server,
    debug,
    async shutdown(graceMs = 1000) {
      await server.stop(graceMs);
      loop.stop();
      await running;
      cleanup();
    },
  };
}

/** A non-blocking raw client socket on the test thread. */
function rawConnect(address: string): number {
  const fd = linux.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.NONBLOCK | SOCK.CLOEXEC, 0);
  linux.connect(fd, address);
  return fd;
}

async function rawSend(fd: number, bytes: Uint8Array, fds: number[] = []): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += linux.sendmsg(fd, bytes.subarray(off), off === 0 ? fds : []);
    } catch (e) {
      if (!isErrno(e, Errno.EAGAIN)) throw e;
      await delay(1);
    }
  }
}

/** Reads until one JSON value is complete (polling); returns its raw bytes and anything after it. */
async function rawReceive(fd: number, timeoutMs = 10000): Promise<{ bytes: Uint8Array; rest: Uint8Array }> {
  const reader = new MessageReader();
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = linux.recvmsg(fd, buf, 0);
    if (got === null) {
      if (Date.now() > deadline) throw new Error("timed out waiting for a reply");
      await delay(1);
      continue;
    }
    if (got.n === 0) throw new Error("connection closed before a reply");
    const done = reader.push(buf.subarray(0, got.n));
    if (done) return { bytes: done.message, rest: done.rest };
  }
}

/** True once the peer has closed `fd` (EOF or reset) within `timeoutMs`. */
async function rawClosedByPeer(fd: number, timeoutMs = 5000): Promise<boolean> {
  const buf = new Uint8Array(16);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const got = linux.recvmsg(fd, buf, 0);
      if (got !== null && got.n === 0) return true;
    } catch (e) {
      if (isErrno(e, 104 /* ECONNRESET */)) return true;
      throw e;
    }
    await delay(5);
  }
  return false;
}

/** Runs a Job in a Worker and returns the outcomes of its calls. */
async function inWorker(job: Job, timeoutMs = 20000): Promise<CallOutcome[]> {
  const worker = new Worker(new URL("./urpc_worker.ts", import.meta.url), { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const reply = await Promise.race([
      new Promise<{ outcomes?: CallOutcome[]; failed?: string }>((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => {
          e.preventDefault();
          reject(new Error(e.message));
        };
        worker.postMessage(job);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("worker timed out")), timeoutMs);
      }),
    ]);
    if (reply.failed !== undefined) throw new Error(`worker: ${reply.failed}`);
    return reply.outcomes!;
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
}

const calls = (...specs: CallSpec[]) => specs;

// ---------------------------------------------------------------------------------------------------
// Server and client

Deno.test("urpc: round trip with Go field names, over a path and an abstract socket", async () => {
  for (const abstract of [false, true]) {
    const seen: unknown[] = [];
    const h = serve({
      "containerManager.Signal": (arg) => {
        seen.push(arg);
        return {};
      },
      "containerManager.Wait": (arg) => {
        assert.equal(arg, "t1");
        return 768;
      },
      "containerManager.Processes": () => undefined,
    }, abstract);
    try {
      const out = await inWorker({
        address: h.address,
        calls: calls(
          { method: "containerManager.Signal", arg: { CID: "c3", Signo: 15, PID: 0, Mode: 1 } },
          { method: "containerManager.Wait", arg: "t1" },
          { method: "containerManager.Processes", arg: "t1" },
        ),
      });
      assert.deepEqual(out, [
        { ok: true, result: {} },
        { ok: true, result: 768 },
        { ok: true, result: null },
      ]);
      assert.deepEqual(seen, [{ CID: "c3", Signo: 15, PID: 0, Mode: 1 }]);
    } finally {
      await h.shutdown();
    }
  }
});

Deno.test("urpc: reply bytes are exactly runsc's", async () => {
  const h = serve({
    "containerManager.Wait": () => 768,
    "containerManager.Signal": () => ({}),
    "x.Fail": () => {
      throw new Error("boom");
    },
    "x.FailAsync": async () => {
      await delay(1);
      throw new Error("later boom");
    },
  });
  const fd = rawConnect(h.address);
  try {
    const exchanges: Array<[string, string]> = [
      [`{"method":"containerManager.Wait","arg":"t1"}`, `{"success":true,"err":"","result":768}`],
      [
        `{"method":"containerManager.Signal","arg":{"CID":"c3","Signo":0,"PID":0,"Mode":0}}`,
        `{"success":true,"err":"","result":{}}`,
      ],
      [
        `{"method":"containerManager.SignalProcess","arg":null}`,
        `{"success":false,"err":"unknown method","result":null}`,
      ],
      [`{"method":"x.Fail","arg":null}`, `{"success":false,"err":"boom","result":null}`],
      [`{"method":"x.FailAsync","arg":null}`, `{"success":false,"err":"later boom","result":null}`],
      // Go's decoder matches field names case-insensitively.
      [`{"Method":"containerManager.Wait","ARG":"t1"}`, `{"success":true,"err":"","result":768}`],
    ];
    for (const [request, reply] of exchanges) {
      await rawSend(fd, enc.encode(request));
      const { bytes, rest } = await rawReceive(fd);
      assert.equal(dec.decode(bytes), reply);
      assert.equal(rest.length, 0);
    }
    // Nothing follows a reply: no newline, no length.
    await delay(20);
    assert.equal(linux.recvmsg(fd, new Uint8Array(8), 0), null);
  } finally {
    linux.close(fd);
    await h.shutdown();
  }
});

Deno.test("urpc: requests split across writes, and pipelined requests, are served in order", async () => {
  const h = serve({ "x.Echo": (arg) => arg });
  const fd = rawConnect(h.address);
  try {
    const request = `{"method":"x.Echo","arg":{"s":"a\\"}{[b","n":[1,[2]]}}`;
    for (const piece of [request.slice(0, 1), request.slice(1, 20), request.slice(20)]) {
      await rawSend(fd, enc.encode(piece));
      await delay(10);
    }
    assert.equal(
      dec.decode((await rawReceive(fd)).bytes),
      `{"success":true,"err":"","result":{"s":"a\\"}{[b","n":[1,[2]]}}`,
    );

    await rawSend(fd, enc.encode(`{"method":"x.Echo","arg":1} {"method":"x.Echo","arg":2}`));
    const first = await rawReceive(fd);
    let text = dec.decode(first.bytes) + dec.decode(first.rest);
    if (first.rest.length === 0) text += dec.decode((await rawReceive(fd)).bytes);
    assert.equal(text, `{"success":true,"err":"","result":1}{"success":true,"err":"","result":2}`);
  } finally {
    linux.close(fd);
    await h.shutdown();
  }
});

Deno.test("urpc: fds travel with a request and the handler owns them", async () => {
  const h = serve({
    // Writes into the pipe it was given.
    "x.WritePipe": (_arg, files) => {
      assert.equal(files.length, 1);
      linux.write(files[0], enc.encode("pong"));
      linux.close(files[0]);
      return {};
    },
    // Reads what the client wrote into the pipe it sent.
    "x.ReadPipe": (_arg, files) => {
      const buf = new Uint8Array(64);
      const n = linux.read(files[0], buf);
      linux.close(files[0]);
      return dec.decode(buf.subarray(0, n));
    },
    "x.Count": (_arg, files) => {
      for (const f of files) linux.close(f);
      return files.length;
    },
  });
  const fd = rawConnect(h.address);
  try {
    const [r, w] = linux.pipe2(O.CLOEXEC);
    linux.write(w, enc.encode("ping"));
    await rawSend(fd, enc.encode(`{"method":"x.ReadPipe","arg":null}`), [r]);
    linux.close(r);
    assert.equal(dec.decode((await rawReceive(fd)).bytes), `{"success":true,"err":"","result":"ping"}`);
    linux.close(w);

    const fds = Array.from({ length: 32 }, () => linux.pipe2(O.CLOEXEC)).flat();
    await rawSend(fd, enc.encode(`{"method":"x.Count","arg":null}`), fds.slice(0, 32));
    assert.equal(dec.decode((await rawReceive(fd)).bytes), `{"success":true,"err":"","result":32}`);
    for (const f of fds) linux.close(f);
  } finally {
    linux.close(fd);
  }
  try {
    // Through the real client, in a worker: a pipe write end goes out, the handler writes into it.
    const out = await inWorker({
      address: h.address,
      calls: calls({ method: "x.WritePipe", arg: null, sendPipe: true }),
    });
    assert.deepEqual(out, [{ ok: true, result: {}, pipeData: "pong" }]);
  } finally {
    await h.shutdown();
  }
});

Deno.test("urpc: a handler can send fds back (callWithFiles)", async () => {
  const h = serve({
    "x.GiveFiles": () => {
      const [r, w] = linux.pipe2(O.CLOEXEC);
      linux.write(w, enc.encode("from server"));
      linux.close(w);
      return new FilePayload({ n: 1 }, [r]);
    },
  });
  try {
    const out = await inWorker({
      address: h.address,
      calls: calls({ method: "x.GiveFiles", arg: null, readReplyFiles: true }),
    });
    assert.deepEqual(out, [{ ok: true, result: { n: 1 }, replyFileData: ["from server"] }]);
  } finally {
    await h.shutdown();
  }
});

Deno.test("urpc client: RemoteError, unknown method, too many files, large messages", async () => {
  const h = serve({
    "x.Fail": () => {
      throw new Error("starting sandbox: no");
    },
    "x.Echo": (arg) => arg,
    "x.Count": (_arg, files) => {
      for (const f of files) linux.close(f);
      return files.length;
    },
  });
  try {
    const big = "x".repeat(3 << 20) + '"}{é';
    const out = await inWorker({
      address: h.address,
      calls: calls(
        { method: "x.Fail", arg: null },
        { method: "x.Nope", arg: null },
        { method: "x.Echo", arg: big },
        { method: "x.Echo", arg: { CID: "after", big: [1, 2, 3] } },
        { method: "x.Count", arg: null, sendFiles: 33 },
        { method: "x.Count", arg: null, sendFiles: 32 },
      ),
    });
    assert.deepEqual(out[0], { ok: false, error: { name: "RemoteError", message: "starting sandbox: no" } });
    assert.deepEqual(out[1], { ok: false, error: { name: "RemoteError", message: "unknown method" } });
    assert.equal(out[2].ok, true);
    assert.equal(out[2].result, big);
    assert.deepEqual(out[3], { ok: true, result: { CID: "after", big: [1, 2, 3] } });
    assert.deepEqual(out[4], { ok: false, error: { name: "Error", message: "too many files" } });
    assert.deepEqual(out[5], { ok: true, result: 32 });
  } finally {
    await h.shutdown();
  }
});

Deno.test("urpc: several clients are served concurrently", async () => {
  const n = 4;
  let arrived = 0;
  let release!: () => void;
  const allThere = new Promise<void>((r) => release = r);
  const h = serve({
    "x.Barrier": async (arg) => {
      if (++arrived === n) release();
      await allThere; // only returns once every client's call is in flight at the same time
      return arg;
    },
  });
  try {
    const results = await Promise.all(
      Array.from(
        { length: n },
        (_, i) => inWorker({ address: h.address, calls: calls({ method: "x.Barrier", arg: i }) }),
      ),
    );
    assert.deepEqual(
      results.map((o) => o[0]),
      Array.from({ length: n }, (_, i) => ({ ok: true, result: i })),
    );
  } finally {
    await h.shutdown();
  }
});

Deno.test("urpc: a client that disconnects mid-call harms nobody", async () => {
  let started!: () => void;
  const inFlight = new Promise<void>((r) => started = r);
  let finish!: () => void;
  const finished = new Promise<void>((r) => finish = r);
  const h = serve({
    "x.Slow": async () => {
      started();
      await finished;
      return "y".repeat(1 << 20); // bigger than the socket buffer: the write hits a closed peer
    },
    "x.Echo": (arg) => arg,
  });
  try {
    const gone = rawConnect(h.address);
    await rawSend(gone, enc.encode(`{"method":"x.Slow","arg":null}`));
    await inFlight;
    linux.close(gone);
    finish();
    await delay(50);
    const out = await inWorker({ address: h.address, calls: calls({ method: "x.Echo", arg: "still here" }) });
    assert.deepEqual(out, [{ ok: true, result: "still here" }]);
    assert.ok(h.debug.some((m) => /dropping connection.*EPIPE|ECONNRESET/.test(m)), h.debug.join("\n"));
  } finally {
    await h.shutdown();
  }
});

Deno.test("urpc: a malformed request closes only that connection", async () => {
  const h = serve({ "x.Echo": (arg) => arg });
  const bad = rawConnect(h.address);
  const good = rawConnect(h.address);
  try {
    await rawSend(bad, enc.encode(`{"method":"x.Echo","arg":1]`));
    assert.equal(await rawClosedByPeer(bad), true);
    await rawSend(good, enc.encode(`{"method":"x.Echo","arg":2}`));
    assert.equal(dec.decode((await rawReceive(good)).bytes), `{"success":true,"err":"","result":2}`);
  } finally {
    linux.close(bad);
    linux.close(good);
    await h.shutdown();
  }
});

Deno.test("urpc: peers with another uid are rejected", async () => {
  const h = serve({ "x.Echo": (arg) => arg }, true);
  try {
    const out = await inWorker({
      address: h.address,
      uid: 65534,
      calls: calls({ method: "x.Echo", arg: "nobody" }),
    });
    assert.equal(out[0].ok, false);
    assert.match(out[0].error!.message, /ECONNRESET|EPIPE|connection closed/);
    assert.ok(h.debug.some((m) => m.includes("rejecting a connection from uid 65534")), h.debug.join("\n"));
    const root = await inWorker({ address: h.address, calls: calls({ method: "x.Echo", arg: "root" }) });
    assert.deepEqual(root, [{ ok: true, result: "root" }]);
  } finally {
    await h.shutdown();
  }
});

Deno.test("urpc: allowOnly replaces our own uid as the one non-root caller", async () => {
  const h = serve({ "x.Echo": (arg) => arg }, true);
  h.server.allowOnly(4321);
  try {
    const owner = await inWorker({
      address: h.address,
      uid: 4321,
      calls: calls({ method: "x.Echo", arg: "ok" }),
    });
    assert.deepEqual(owner, [{ ok: true, result: "ok" }]);
    const other = await inWorker({
      address: h.address,
      uid: 65534,
      calls: calls({ method: "x.Echo", arg: "no" }),
    });
    assert.equal(other[0].ok, false, "a caller with another uid is refused");
  } finally {
    await h.shutdown();
  }
});

Deno.test("urpc: stop() waits for an in-flight call, then closes", async () => {
  let started!: () => void;
  const inFlight = new Promise<void>((r) => started = r);
  const h = serve({
    "x.Slow": async () => {
      started();
      await delay(100);
      return "done";
    },
  });
  const busy = rawConnect(h.address);
  const idle = rawConnect(h.address);
  try {
    await rawSend(busy, enc.encode(`{"method":"x.Slow","arg":null}`));
    await inFlight;
    const t0 = Date.now();
    await h.server.stop(5000);
    assert.ok(Date.now() - t0 >= 50);
    assert.equal(dec.decode((await rawReceive(busy)).bytes), `{"success":true,"err":"","result":"done"}`);
    assert.equal(await rawClosedByPeer(busy), true);
    assert.equal(await rawClosedByPeer(idle), true);
    assert.throws(() => rawConnect(h.address), /connect .*ECONNREFUSED|ENOENT/);
  } finally {
    linux.close(busy);
    linux.close(idle);
    await h.shutdown();
  }
});

Deno.test("urpc: stop() closes a hung call after the grace period", async () => {
  const h = serve({ "x.Hang": () => new Promise(() => {}) });
  const fd = rawConnect(h.address);
  try {
    await rawSend(fd, enc.encode(`{"method":"x.Hang","arg":null}`));
    await delay(20);
    const t0 = Date.now();
    const stopping = h.server.stop(200);
    assert.equal(h.server.stop(), stopping);
    await stopping;
    assert.ok(Date.now() - t0 >= 150);
    assert.equal(await rawClosedByPeer(fd), true);
  } finally {
    linux.close(fd);
    await h.shutdown();
  }
});

Deno.test("urpc: after stop() the process exits on its own (no FFI call left pending)", async () => {
  const url = (p: string) => new URL(p, import.meta.url).href;
  const script = `
    import { linux, SOCK } from "${url("../ffi/mod.ts")}";
    import { EventLoop } from "${url("../src/urpc/eventloop.ts")}";
    import { UrpcServer } from "${url("../src/urpc/server.ts")}";
    const address = "@runts-urpc-exit-" + Deno.pid;
    const fd = linux.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
    linux.bind(fd, address);
    const loop = new EventLoop(linux);
    const server = new UrpcServer(linux, loop, fd, { "x.Echo": (a) => a });
    server.start();
    const running = loop.run();
    const c = linux.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.NONBLOCK | SOCK.CLOEXEC, 0);
    linux.connect(c, address);
    setTimeout(async () => {
      await server.stop(1000);
      loop.stop();
      await running;
      console.log("stopped");
    }, 50);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
  const out = await child.output();
  clearTimeout(timer);
  assert.equal(out.code, 0, dec.decode(out.stderr));
  assert.equal(dec.decode(out.stdout).trim(), "stopped");
});
