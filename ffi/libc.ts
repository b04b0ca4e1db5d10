/**
 * The libc handles. Symbols are declared in small groups, each opened on first use, because every
 * declared symbol costs start-up time (about 0.18 ms each).
 */
import { type SyscallName, syscallNumber } from "./arch.ts";
import { SyscallError } from "./error.ts";

const LIBC = "libc.so.6";

const CORE = {
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

const BLOCKING = {
  // The same libc entry point, run on a blocking-pool thread so the event loop keeps going.
  syscall_nb: {
    name: "syscall",
    parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"],
    result: "i64",
    nonblocking: true,
  },
} as const;

let core: Deno.DynamicLibrary<typeof CORE>["symbols"] | undefined;
let blocking: Deno.DynamicLibrary<typeof BLOCKING>["symbols"] | undefined;
let errnoPtr: Deno.PointerValue = null;

/** Opens `symbols` from libc. Callers keep the result: each call is a new dlopen. */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] {
  return Deno.dlopen(LIBC, symbols).symbols;
}

function coreSymbols() {
  if (!core) {
    core = openLibc(CORE);
    errnoPtr = core.__errno_location();
  }
  return core;
}

/** The address of the main thread's errno (for C code that must copy it: ffi/clone_child.ts). */
export function errnoAddress(): bigint {
  coreSymbols();
  return BigInt(Deno.UnsafePointer.value(errnoPtr));
}

/** The calling (main) thread's errno. */
export function errno(): number {
  coreSymbols();
  return new Deno.UnsafePointerView(errnoPtr!).getInt32();
}

type Arg = number | bigint;

function toBig(a: Arg | undefined): bigint {
  return a === undefined ? 0n : BigInt(a);
}

/** A raw syscall; returns the result, or -errno on failure (never throws). */
export function rawSyscall(name: SyscallName, ...args: Arg[]): bigint {
  const c = coreSymbols();
  const r = c.syscall(
    BigInt(syscallNumber(name)),
    toBig(args[0]),
    toBig(args[1]),
    toBig(args[2]),
    toBig(args[3]),
    toBig(args[4]),
    toBig(args[5]),
  ) as bigint;
  return r === -1n ? -BigInt(errno()) : r;
}

/**
 * A raw syscall that throws a SyscallError naming `name` and `what` on failure. EINTR is retried.
 * Returns the (non-negative) result as a number.
 */
export function sys(name: SyscallName, what: string, ...args: Arg[]): number {
  for (;;) {
    const r = rawSyscall(name, ...args);
    if (r >= 0n) return Number(r);
    if (r === -4n) continue;
    throw new SyscallError(name, what, Number(-r));
  }
}

/**
 * A raw syscall on a blocking-pool thread. errno is not visible from there, so a failure reports the
 * negative value only as -1: use it for calls whose failure modes are few (epoll_pwait, waitid).
 */
export async function sysBlocking(name: SyscallName, ...args: Arg[]): Promise<bigint> {
  if (!blocking) blocking = openLibc(BLOCKING);
  return await blocking.syscall_nb(
    BigInt(syscallNumber(name)),
    toBig(args[0]),
    toBig(args[1]),
    toBig(args[2]),
    toBig(args[3]),
    toBig(args[4]),
    toBig(args[5]),
  ) as bigint;
}
