/** Reading a whole spec-sized file from an fd (no heavy imports: init uses it on its hot path). */
import type { Kernel } from "../../ffi/kernel.ts";
import { O } from "../../ffi/consts.ts";

/** Files bigger than this are refused: no legitimate config.json comes close. */
export const MAX_SPEC_BYTES = 64 << 20;

/** One read buffer for every call: a fresh 64 KiB per read (most files here are a few bytes) cost more than the read. */
let scratch: Uint8Array | undefined;

/** Reads `fd` to its end through the Kernel, refusing more than `limit` bytes. */
export function readAll(k: Kernel, fd: number, limit = MAX_SPEC_BYTES): Uint8Array {
  const buf = scratch ??= new Uint8Array(64 * 1024);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const n = k.read(fd, buf);
    if (!(n > 0)) break;
    total += n;
    if (total > limit) throw new Error(`file is larger than ${limit} bytes`);
    chunks.push(buf.slice(0, n));
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The whole text of the file at `path`, read through the Kernel (e.g. a /proc/self file, which only it answers). */
export function readText(k: Kernel, path: string, limit = MAX_SPEC_BYTES): string {
  const fd = k.open(path, O.RDONLY | O.CLOEXEC);
  try {
    return new TextDecoder().decode(readAll(k, fd, limit));
  } finally {
    k.close(fd);
  }
}
