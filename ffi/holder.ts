/**
 * A namespace holder: a child made by glibc `clone(pause, stack, flags|SIGCHLD)` without CLONE_VM. It runs
 * nothing but libc's pause() in a copy of this process's memory (no JS, so none of the V8 state it copies
 * is touched), and sits in the namespaces `flags` created until the caller kills it. The caller is not
 * suspended meanwhile (no CLONE_VFORK): it can write the holder's /proc/PID/uid_map and keep
 * /proc/PID/ns/user open, which keeps the namespace after the holder is gone.
 */
import { openLibc, rawSyscall } from "./libc.ts";
import { addr, cstr } from "./mem.ts";
import { SyscallError } from "./error.ts";
import { CLONE_FLAGS, flagsOf } from "./names.ts";

const SYMBOLS = {
  clone: { parameters: ["pointer", "pointer", "i32", "pointer"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

const STACK = 65536;
const SIGCHLD = 17, SIG_SETMASK = 2;

let lib: ReturnType<typeof openLibc<typeof SYMBOLS>> | undefined;
let pause: Deno.PointerValue = null;
let stackTop: Deno.PointerValue = null;

function setUp(): NonNullable<typeof lib> {
  if (lib) return lib;
  const l = openLibc(SYMBOLS);
  pause = l.dlsym(null, cstr("pause"));
  if (pause === null) throw new Error("dlsym pause: not found");
  const PROT_RW = 3, MAP_PRIVATE_ANON_STACK = 0x02 | 0x20 | 0x20000;
  const p = BigInt(
    Deno.UnsafePointer.value(l.mmap(null, BigInt(STACK), PROT_RW, MAP_PRIVATE_ANON_STACK, -1, 0n)),
  );
  if (p === 0n || p === 0xffffffffffffffffn) throw new Error("mmap of the holder's stack failed");
  stackTop = Deno.UnsafePointer.create(p + BigInt(STACK));
  return lib = l;
}

/**
 * Starts a holder in new namespaces `flags` (e.g. CLONE_NEWUSER) and returns its pid. Every signal but
 * SIGKILL stays blocked in it, so no handler of this process ever runs there; the caller kills it with
 * SIGKILL and reaps it.
 */
export function cloneHolder(flags: number): number {
  const l = setUp();
  const full = new BigUint64Array([0xffffffffffffffffn]), old = new BigUint64Array(1);
  const blocked = rawSyscall("rt_sigprocmask", SIG_SETMASK, addr(full), addr(old), 8);
  if (blocked < 0n) throw new SyscallError("rt_sigprocmask", "SIG_SETMASK", Number(-blocked));
  let pid: number, err = 0;
  try {
    pid = l.clone(pause, stackTop, flags | SIGCHLD, null);
    if (pid < 0) err = new Deno.UnsafePointerView(l.__errno_location()!).getInt32();
  } finally {
    rawSyscall("rt_sigprocmask", SIG_SETMASK, addr(old), 0, 8);
  }
  if (pid < 0) throw new SyscallError("clone", `(${flagsOf(CLONE_FLAGS, flags)})`, err);
  return pid;
}
