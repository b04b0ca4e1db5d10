/** Signal names and numbers on the command line (runc/runsc `kill ID [SIG]`). */
import { SIGNALS } from "../../ffi/consts.ts";

const SIGRTMIN = 34, SIGRTMAX = 64;

/**
 * The signal number for `s`: a decimal number (0..64; 0 only checks that the container's process is
 * alive, as `kill(2)` and runc do), a name with or without "SIG" in any case
 * ("TERM", "sigkill", "SIGUSR1"), or RTMIN+n / RTMAX-n. Throws an Error naming the input otherwise.
 */
export function parseSignal(s: string): number {
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    if (n >= 0 && n <= SIGRTMAX) return n;
    throw new Error(`invalid signal number: ${s}`);
  }
  let name = s.toUpperCase();
  if (name.startsWith("SIG")) name = name.slice(3);
  const rt = /^RT(MIN|MAX)(?:([+-])([0-9]+))?$/.exec(name);
  if (rt) {
    const off = rt[3] === undefined ? 0 : Number(rt[3]);
    const n = rt[1] === "MIN"
      ? (rt[2] === "-" ? NaN : SIGRTMIN + off)
      : (rt[2] === "+" ? NaN : SIGRTMAX - off);
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
  } else if (Object.hasOwn(SIGNALS, name)) {
    return SIGNALS[name];
  }
  throw new Error(`unknown signal ${JSON.stringify(s)}`);
}
