/** Helpers for C strings, pointer tables and raw memory handed to libc. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A NUL-terminated UTF-8 copy of `s`. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The address of `buf` as a bigint (0n for an empty or missing buffer). */
export function addr(buf: ArrayBufferView | null | undefined): bigint {
  if (!buf || buf.byteLength === 0) return 0n;
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as ArrayBufferView<ArrayBuffer>)));
}

/** Decodes a NUL-terminated string from the start of `buf`. */
export function fromCstr(buf: Uint8Array, len = buf.indexOf(0)): string {
  return decoder.decode(buf.subarray(0, len < 0 ? buf.length : len));
}

/**
 * A NULL-terminated table of C string pointers (argv/envp). The returned `keep` array holds the string
 * buffers: keep it referenced until the call that uses `table` has returned.
 */
export function cstrTable(
  items: readonly string[],
): { table: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = items.map(cstr);
  const table = new BigUint64Array(items.length + 1);
  keep.forEach((b, i) => table[i] = addr(b));
  return { table, keep };
}
