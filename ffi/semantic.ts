/**
 * The Kernel's calls by meaning (SemanticCalls), each written once over the raw calls: the option, the
 * request number and the struct layout stay here. `linux` gets them over its libc calls; the recording
 * fake (ffi/fake.ts) runs them over its own recorded raw calls, so a model that answers the raw calls
 * (src/explain) answers these too.
 */
import { F, O, PR, TIOC } from "./consts.ts";
import type { RawKernel, SemanticCalls } from "./kernel.ts";

/** Each call by meaning as a function of the raw kernel it runs on. */
export type SemanticImpl = {
  [N in keyof SemanticCalls]: (k: RawKernel, ...args: Parameters<SemanticCalls[N]>) => ReturnType<
    SemanticCalls[N]
  >;
};

/** The calls by meaning over raw calls. */
export const SEMANTIC: SemanticImpl = {
  unlockPty(k, master) {
    k.ioctl(master, TIOC.SPTLCK, new Uint8Array(4)); // *arg = 0: unlock
  },
  ptyNumber(k, master) {
    const n = new Uint8Array(4);
    k.ioctl(master, TIOC.GPTN, n);
    return new DataView(n.buffer).getUint32(0, true);
  },
  openPtyPeer(k, master, flags) {
    return k.ioctl(master, TIOC.GPTPEER, BigInt(flags));
  },
  setWindowSize(k, fd, rows, cols) {
    // struct winsize: ws_row, ws_col, ws_xpixel, ws_ypixel (unsigned short each).
    const ws = new Uint8Array(8);
    const v = new DataView(ws.buffer);
    v.setUint16(0, rows, true);
    v.setUint16(2, cols, true);
    k.ioctl(fd, TIOC.SWINSZ, ws);
  },
  setControllingTty(k, fd) {
    k.ioctl(fd, TIOC.SCTTY, 0n);
  },
  setParentDeathSignal(k, signo) {
    k.prctl(PR.SET_PDEATHSIG, signo);
  },
  setDumpable(k, dumpable) {
    k.prctl(PR.SET_DUMPABLE, dumpable ? 1 : 0);
  },
  setKeepCaps(k, keep) {
    k.prctl(PR.SET_KEEPCAPS, keep ? 1 : 0);
  },
  setNoNewPrivs(k) {
    k.prctl(PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  },
  dropBoundingCap(k, cap) {
    k.prctl(PR.CAPBSET_DROP, cap);
  },
  raiseAmbientCap(k, cap) {
    k.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, cap, 0, 0);
  },
  lowerAmbientCap(k, cap) {
    k.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_LOWER, cap, 0, 0);
  },
  clearAmbientCaps(k) {
    k.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  },
  setNonblocking(k, fd) {
    k.fcntl(fd, F.SETFL, k.fcntl(fd, F.GETFL) | O.NONBLOCK);
  },
  dupAtLeast(k, fd, min) {
    return k.fcntl(fd, F.DUPFD_CLOEXEC, min);
  },
  keepOnExec(k, fd) {
    k.fcntl(fd, F.SETFD, 0);
  },
};

/** True when `name` is a call by meaning. */
export function isSemantic(name: string): name is keyof SemanticCalls {
  return Object.hasOwn(SEMANTIC, name);
}

/** The calls by meaning bound to `raw`. */
export function semanticCalls(raw: RawKernel): SemanticCalls {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(SEMANTIC)) {
    out[name] = (...args: unknown[]) => (fn as (k: RawKernel, ...a: unknown[]) => unknown)(raw, ...args);
  }
  return out as unknown as SemanticCalls;
}
