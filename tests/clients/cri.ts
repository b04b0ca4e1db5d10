/**
 * A minimal client of the Kubernetes CRI (runtime.v1) over gRPC on a unix socket: just the calls a
 * kubelet makes to run a pod, a container in it, and a probe (ExecSync), with hand-written protobuf
 * encoding for those messages. Used to drive containerd's CRI plugin with a RuntimeClass handler.
 */
import http2 from "node:http2";
import net from "node:net";

/** Protobuf wire encoding of the few shapes the CRI calls here need. */
class Writer {
  readonly #parts: number[] = [];

  #varint(n: number | bigint): void {
    let v = BigInt(n);
    if (v < 0n) v += 1n << 64n;
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v) b |= 0x80;
      this.#parts.push(b);
    } while (v);
  }

  /** A varint field (ints, enums, bools); zero is left out, as proto3 does. */
  int(field: number, n: number | boolean): this {
    const v = typeof n === "boolean" ? Number(n) : n;
    if (v === 0) return this;
    this.#varint(field << 3);
    this.#varint(v);
    return this;
  }

  /** A length-delimited field: bytes, a string, or an embedded message. */
  bytes(field: number, data: Uint8Array | string | Writer): this {
    const b = typeof data === "string"
      ? new TextEncoder().encode(data)
      : data instanceof Writer
      ? data.finish()
      : data;
    this.#varint((field << 3) | 2);
    this.#varint(b.length);
    this.#parts.push(...b);
    return this;
  }

  /** A repeated string field. */
  strings(field: number, values: readonly string[]): this {
    for (const v of values) this.bytes(field, v);
    return this;
  }

  finish(): Uint8Array {
    return new Uint8Array(this.#parts);
  }
}

/** A decoded message: field number → values (varints as bigint, length-delimited as bytes). */
type Fields = Map<number, Array<bigint | Uint8Array>>;

function decode(b: Uint8Array): Fields {
  const out: Fields = new Map();
  let i = 0;
  const varint = (): bigint => {
    let v = 0n, shift = 0n;
    for (;;) {
      const byte = b[i++];
      v |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const field = key >> 3, wire = key & 7;
    let value: bigint | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const n = Number(varint());
      value = b.subarray(i, i + n);
      i += n;
    } else if (wire === 1) (value = 0n, i += 8);
    else if (wire === 5) (value = 0n, i += 4);
    else throw new Error(`protobuf: wire type ${wire} not handled`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

function str(f: Fields, n: number): string {
  const v = f.get(n)?.[0];
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : "";
}

function int(f: Fields, n: number): number {
  const v = f.get(n)?.[0];
  return typeof v === "bigint" ? Number(BigInt.asIntN(32, v)) : 0;
}

/** CRI NamespaceMode. */
export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2 } as const;

/** What a pod sandbox is made from here. */
export interface PodSpec {
  name: string;
  uid: string;
  namespace: string;
  /** NamespaceOption.network (NODE: no CNI needed). */
  network: number;
  /** NamespaceOption.pid. */
  pid: number;
}

function podSandboxConfig(p: PodSpec): Writer {
  const meta = new Writer().bytes(1, p.name).bytes(2, p.uid).bytes(3, p.namespace);
  const nsOpts = new Writer().int(1, p.network).int(2, p.pid);
  const linux = new Writer().bytes(2, new Writer().bytes(1, nsOpts));
  return new Writer().bytes(1, meta).bytes(8, linux);
}

/** The result of ExecSync. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A CRI runtime service client on a unix socket. */
export class CriClient {
  readonly #session: http2.ClientHttp2Session;

  constructor(socket: string) {
    this.#session = http2.connect("http://localhost", { createConnection: () => net.connect(socket) });
    this.#session.on("error", () => {}); // each call reports its own failure
  }

  close(): void {
    this.#session.close();
  }

  /** One unary call: `method` of runtime.v1.RuntimeService, with a 60 s deadline. */
  call(method: string, body: Uint8Array): Promise<Fields> {
    return new Promise((resolve, reject) => {
      const req = this.#session.request({
        ":method": "POST",
        ":path": `/runtime.v1.RuntimeService/${method}`,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": "60S",
      });
      const chunks: Uint8Array[] = [];
      let status: string | undefined, message = "";
      const take = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
        if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
      };
      req.on("response", take);
      req.on("trailers", take);
      req.on("data", (c: Uint8Array) => chunks.push(c));
      req.on("error", reject);
      req.on("end", () => {
        if (status !== "0") {
          reject(new Error(`CRI ${method}: grpc-status ${status ?? "missing"}: ${message}`));
          return;
        }
        const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let off = 0;
        for (const c of chunks) (all.set(c, off), off += c.length);
        const len = all.length >= 5 ? new DataView(all.buffer).getUint32(1) : 0;
        resolve(decode(all.subarray(5, 5 + len)));
      });
      const frame = new Uint8Array(5 + body.length);
      new DataView(frame.buffer).setUint32(1, body.length);
      frame.set(body, 5);
      req.end(frame);
    });
  }

  /** Version: the runtime's name and version. */
  async version(): Promise<{ runtimeName: string; runtimeVersion: string }> {
    const f = await this.call("Version", new Writer().bytes(1, "v1").finish());
    return { runtimeName: str(f, 2), runtimeVersion: str(f, 3) };
  }

  /** RunPodSandbox with a runtime handler (a RuntimeClass's `handler`); the sandbox id. */
  async runPodSandbox(p: PodSpec, handler: string): Promise<string> {
    const f = await this.call(
      "RunPodSandbox",
      new Writer().bytes(1, podSandboxConfig(p)).bytes(2, handler).finish(),
    );
    return str(f, 1);
  }

  /** CreateContainer in a sandbox from `image` running `command`; the container id. */
  async createContainer(sandboxId: string, p: PodSpec, name: string, image: string, command: string[]) {
    const config = new Writer()
      .bytes(1, new Writer().bytes(1, name))
      .bytes(2, new Writer().bytes(1, image))
      .strings(3, command);
    const f = await this.call(
      "CreateContainer",
      new Writer().bytes(1, sandboxId).bytes(2, config).bytes(3, podSandboxConfig(p)).finish(),
    );
    return str(f, 1);
  }

  async startContainer(id: string): Promise<void> {
    await this.call("StartContainer", new Writer().bytes(1, id).finish());
  }

  /** ContainerStatus: state (0 created, 1 running, 2 exited) and exit code. */
  async containerStatus(id: string): Promise<{ state: number; exitCode: number }> {
    const f = await this.call("ContainerStatus", new Writer().bytes(1, id).finish());
    const st = f.get(1)?.[0];
    const s = st instanceof Uint8Array ? decode(st) : new Map();
    return { state: int(s, 3), exitCode: int(s, 7) };
  }

  /** ExecSync: runs `cmd` in the container and waits (what liveness probes use). */
  async execSync(id: string, cmd: string[], timeoutS = 30): Promise<ExecResult> {
    const f = await this.call(
      "ExecSync",
      new Writer().bytes(1, id).strings(2, cmd).int(3, timeoutS).finish(),
    );
    return { stdout: str(f, 1), stderr: str(f, 2), exitCode: int(f, 3) };
  }

  async stopContainer(id: string, timeoutS = 10): Promise<void> {
    await this.call("StopContainer", new Writer().bytes(1, id).int(2, timeoutS).finish());
  }

  async removeContainer(id: string): Promise<void> {
    await this.call("RemoveContainer", new Writer().bytes(1, id).finish());
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call("StopPodSandbox", new Writer().bytes(1, id).finish());
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call("RemovePodSandbox", new Writer().bytes(1, id).finish());
  }
}
