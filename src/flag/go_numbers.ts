/** Go's strconv number parsing, as package flag and runsc's flags use it (src/flag/flag.ts). */

/** Go's strconv error causes, as package flag reports them. */
export const PARSE_ERROR = "parse error";
/** The cause of an out-of-range number. */
export const RANGE_ERROR = "value out of range";

/** A strconv failure; its message is the cause (PARSE_ERROR or RANGE_ERROR). */
export class NumError extends Error {}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/** Go's `underscoreOK`: underscores may only separate digits (or follow a base prefix). */
function underscoreOK(s: string): boolean {
  let saw = "^";
  let i = 0;
  if (s.startsWith("-") || s.startsWith("+")) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && "bBoOxX".includes(s[1])) {
    i = 2;
    saw = "0";
    hex = s[1] === "x" || s[1] === "X";
  }
  for (; i < s.length; i++) {
    const c = s[i];
    if ((c >= "0" && c <= "9") || (hex && /[a-fA-F]/.test(c))) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** Go's `strconv.ParseUint(s, 0, 64)`: base from the prefix (0x, 0o, 0b, leading 0), underscores allowed. */
export function parseGoUint(s: string): bigint {
  const s0 = s;
  if (s === "") throw new NumError(PARSE_ERROR);
  let base = 10;
  if (s[0] === "0") {
    if (s.length >= 3 && "bBoOxX".includes(s[1])) {
      base = { b: 2, o: 8, x: 16 }[s[1].toLowerCase() as "b" | "o" | "x"];
      s = s.slice(2);
    } else {
      base = 8;
      s = s.slice(1);
    }
  }
  let n = 0n;
  let underscores = false;
  for (const c of s) {
    if (c === "_") {
      underscores = true;
      continue;
    }
    const d = parseInt(c, 36);
    if (Number.isNaN(d) || d >= base) throw new NumError(PARSE_ERROR);
    n = n * BigInt(base) + BigInt(d);
    // Like Go, an overflow is reported as soon as it happens, before any later syntax error.
    if (n > UINT64_MAX) throw new NumError(RANGE_ERROR);
  }
  if (underscores && !underscoreOK(s0)) throw new NumError(PARSE_ERROR);
  return n;
}

/** Go's `strconv.ParseInt(s, 0, 64)`: an optional sign, then as parseGoUint. */
export function parseGoInt(s: string): bigint {
  if (s === "") throw new NumError(PARSE_ERROR);
  let neg = false;
  if (s[0] === "+" || s[0] === "-") {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  const u = parseGoUint(s);
  const v = neg ? -u : u;
  if (v < INT64_MIN || v > INT64_MAX) throw new NumError(RANGE_ERROR);
  return v;
}

/** Go's `strconv.ParseBool`. */
export function parseGoBool(s: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  throw new NumError(PARSE_ERROR);
}

/** Go's `strconv.Atoi`, as runsc's intFlags reports it. */
export function atoi(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) {
    throw new Error(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  }
  return v;
}
