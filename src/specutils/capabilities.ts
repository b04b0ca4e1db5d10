/**
 * Linux capability names and numbers. runsc's 2021 tables stop at CAP_AUDIT_READ (37); runts knows the
 * three later ones too. The host kernel may know fewer: `lastCap()`/`supportedMask()` say how many.
 */
import type { Kernel } from "../../ffi/mod.ts";
import { CAPABILITIES, O } from "../../ffi/mod.ts";
import { SpecError } from "./errors.ts";

/** Capability names indexed by capability number, in kernel order (the table lives in ffi/consts.ts). */
export { CAPABILITIES };

const BY_NAME: ReadonlyMap<string, number> = new Map(CAPABILITIES.map((name, i) => [name, i]));

/** True when `name` is a known capability name (exact spelling, `CAP_` prefix included). */
export function isCapability(name: string): boolean {
  return BY_NAME.has(name);
}

/** The number of capability `name`; throws SpecError `invalid capability "X"` for an unknown name. */
export function capNumber(name: string): number {
  const n = BY_NAME.get(name);
  if (n === undefined) throw new SpecError(`invalid capability ${JSON.stringify(name)}`);
  return n;
}

/** The 64-bit mask with the bits of `names` set; undefined is the empty set. Throws like capNumber. */
export function capMask(names: readonly string[] | undefined): bigint {
  let mask = 0n;
  for (const name of names ?? []) mask |= 1n << BigInt(capNumber(name));
  return mask;
}

/**
 * The names of the bits set in `mask`, lowest first. Bits the table does not know (a newer kernel) come
 * out as `cap_<n>`, which capNumber rejects.
 */
export function capNames(mask: bigint): string[] {
  const names: string[] = [];
  for (let i = 0; i < 64; i++) {
    if ((mask >> BigInt(i)) & 1n) names.push(CAPABILITIES[i] ?? `cap_${i}`);
  }
  return names;
}

/**
 * The ambient caps of `want` that the kernel lets a thread with `sets` raise: those both permitted and
 * inheritable (PR_CAP_AMBIENT_RAISE fails with EPERM for any other). The rest are skipped, as runc skips
 * them, each with a line to `debug`: `runc spec` and `crun spec` list ambient caps they leave out of the
 * inheritable set. boot (applyCaps) and init (applyCredentials) both raise ambient caps by this rule.
 */
export function raisableAmbient(
  want: bigint,
  sets: { permitted: bigint; inheritable: bigint },
  debug: (m: string) => void = () => {},
): bigint {
  const raise = want & sets.permitted & sets.inheritable;
  for (const name of capNames(want & ~raise)) {
    const missing = [
      ...(sets.permitted & capMask([name]) ? [] : ["permitted"]),
      ...(sets.inheritable & capMask([name]) ? [] : ["inheritable"]),
    ];
    debug(`ambient capability ${name} not raised: it is not ${missing.join(" or ")}`);
  }
  return raise;
}

const CAP_LAST_CAP = "/proc/sys/kernel/cap_last_cap";
let cachedLastCap: number | undefined;

/**
 * The highest capability number the running kernel supports (/proc/sys/kernel/cap_last_cap). The value is
 * read once per process and cached, so later calls work after /proc is gone (pivot_root). With `k` the
 * file is read through the Kernel (handy after a chroot, or with a fake); otherwise with
 * Deno.readTextFileSync.
 */
export function lastCap(k?: Kernel): number {
  if (cachedLastCap !== undefined) return cachedLastCap;
  const text = k ? readSmallFile(k, CAP_LAST_CAP) : Deno.readTextFileSync(CAP_LAST_CAP);
  const n = Number(text.trim());
  if (!Number.isInteger(n) || n < 0 || n > 63) {
    throw new SpecError(`${CAP_LAST_CAP}: unexpected content ${JSON.stringify(text.slice(0, 32))}`);
  }
  cachedLastCap = n;
  return n;
}

/** The mask of every capability the running kernel supports: bits 0..lastCap(k). */
export function supportedMask(k?: Kernel): bigint {
  return (1n << BigInt(lastCap(k) + 1)) - 1n;
}

/** Forgets the cached cap_last_cap (tests only). */
export function resetLastCapCache(): void {
  cachedLastCap = undefined;
}

function readSmallFile(k: Kernel, path: string): string {
  const fd = k.open(path, O.RDONLY | O.CLOEXEC);
  try {
    const buf = new Uint8Array(64);
    const n = k.read(fd, buf);
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    k.close(fd);
  }
}
