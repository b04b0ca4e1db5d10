/**
 * JavaScript in a child process without a new Deno (reference notes §11–§12): clone3 through libc's
 * syscall() (see #clone3), or on a kernel without it glibc
 * `clone(setcontext, …, CLONE_VM|CLONE_VFORK|SIGCHLD|flags, &jsContext)`. The child runs a JS callback on
 * a region of the main thread's own stack below the caller's frames (V8 insists on its central stack),
 * while the parent sleeps in the kernel until the child execs or exits. The callback returns normally, so
 * the isolate is balanced again when the parent wakes; only then does C code (a makecontext'd `execve`)
 * replace the child. A failed execve runs C contexts that copy errno where the parent reads it, then
 * `_exit(127)`. A job that throws redirects the exec context to `_exit(126)`.
 *
 * The child shares the parent's memory: what the job writes to JS objects the parent sees, which is how
 * the job's result and its error travel back (no pipe is needed). Its rules (the notes' §12): synchronous
 * FFI and `*Sync` ops only; no timers, promises or async ops (they would run later in the parent); close
 * every fd it opens; raw syscalls for credentials (glibc's setxid signals the parent's threads).
 *
 * x86_64 with glibc only: ucontext_t offsets are per architecture, and only x86_64's are verified here.
 */
import type { ChildStart, ExecTarget } from "./kernel.ts";
import { errnoAddress, openLibc, rawSyscall } from "./libc.ts";
import { addr, cstr, cstrTable } from "./mem.ts";
import { SyscallError } from "./error.ts";

/** True when this process can run jobs in clone children (x86_64 glibc). */
export const cloneChildSupported = Deno.build.arch === "x86_64" && Deno.build.os === "linux";

/**
 * As few as will do: each declared symbol costs a process about 0.3 ms (measured). makecontext is
 * variadic: one declaration with three arguments serves every arity (the function ignores extra ones);
 * mmap and clone3 are raw syscalls; glibc clone is opened only for a kernel without clone3.
 */
const SYMBOLS = {
  getcontext: { parameters: ["buffer"], result: "i32" },
  makecontext: { parameters: ["buffer", "pointer", "i32", "i64", "i64", "i64"], result: "void" },
  dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
} as const;

const CLONE_SYMBOL = {
  clone: { parameters: ["pointer", "pointer", "i32", "pointer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

const ENOSYS = 38;

/** ucontext_t on x86_64 glibc (sizeof 968): uc_link, uc_stack, the saved RDI/RSI/RDX/RSP/RIP, uc_sigmask. */
const UC = {
  SIZE: 4096,
  LINK: 8,
  SS_SP: 16,
  SS_FLAGS: 24,
  SS_SIZE: 32,
  RDI: 40 + 8 * 8,
  RSI: 40 + 9 * 8,
  RDX: 40 + 12 * 8,
  RSP: 40 + 15 * 8,
  RIP: 40 + 16 * 8,
  SIGMASK: 296,
} as const;

const PROT_RW = 3, MAP_PRIVATE_ANON_STACK = 0x02 | 0x20 | 0x20000;
const CLONE_VM = 0x100, CLONE_VFORK = 0x4000, SIGCHLD = 17;
const CLONE_INTO_CGROUP = 0x200000000n, CLONE_PARENT = 0x8000;
/** struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2), and its fields' offsets. */
const CLONE_ARGS = { SIZE: 88, FLAGS: 0, EXIT_SIGNAL: 32, STACK: 40, STACK_SIZE: 48, CGROUP: 80 } as const;
const CLONE_STACK = 65536n;
const SIG_SETMASK = 2;
/** The child's C contexts: each gets a stack of its own, away from the JS region. */
const C_STACK = 16384n;
/** The JS region sits this far below the caller's stack pointer, and is this large (notes §12). */
const JS_MARGIN = 65536n, JS_REGION = 256n * 1024n;
const FULL_MASK = 0xffffffffffffffffn;

type Lib = ReturnType<typeof openLibc<typeof SYMBOLS>>;
let glibcClone: ReturnType<typeof openLibc<typeof CLONE_SYMBOL>> | undefined;

function pointerValue(p: Deno.PointerValue): bigint {
  return BigInt(Deno.UnsafePointer.value(p));
}

/** The one runner of a process: its contexts, stacks and callback are made once and reused. */
class Runner {
  readonly #lib: Lib;
  readonly #fn: Record<"setcontext" | "execve" | "_exit" | "memcpy", bigint>;
  readonly #errnoAddr: bigint;
  /** js, exec, copy-errno, exit, probe. */
  readonly #ctx = Array.from({ length: 5 }, () => new Uint8Array(UC.SIZE));
  readonly #views = this.#ctx.map((c) => new DataView(c.buffer));
  readonly #cStacks: bigint;
  readonly #cloneStack: bigint;
  readonly #callback: Deno.UnsafeCallback<{ readonly parameters: []; readonly result: "void" }>;
  /** [marker, errno] written by the C failure path of execve. */
  readonly #record = new Int32Array(2);
  readonly #oldMask = new BigUint64Array(1);
  readonly #fullMask = new BigUint64Array([FULL_MASK]);
  /** The job; one that returns null makes the child `_exit(0)` instead of exec'ing (runInGrandchild). */
  #job: (() => ExecTarget | null) | null = null;
  #failure: string | null = null;
  #keep: unknown[] = [];
  #target: ExecTarget | null = null;

  constructor() {
    this.#lib = openLibc(SYMBOLS);
    const sym = (name: string) => {
      const p = this.#lib.dlsym(null, cstr(name));
      if (p === null) throw new Error(`dlsym ${name}: not found`);
      return pointerValue(p);
    };
    this.#fn = {
      setcontext: sym("setcontext"),
      execve: sym("execve"),
      _exit: sym("_exit"),
      memcpy: sym("memcpy"),
    };
    this.#errnoAddr = errnoAddress();
    this.#cStacks = this.#mmap(Number(3n * C_STACK));
    this.#cloneStack = this.#mmap(Number(CLONE_STACK));
    this.#callback = new Deno.UnsafeCallback(
      { parameters: [], result: "void" } as const,
      () => this.#inChild(),
    );
  }

  #mmap(size: number): bigint {
    const p = rawSyscall("mmap", 0, size, PROT_RW, MAP_PRIVATE_ANON_STACK, -1, 0);
    if (p < 0n) throw new SyscallError("mmap", `a ${size}-byte stack`, Number(-p));
    return p;
  }

  /** Runs in the child, on the main thread's stack. Never throws: that would unbalance the parent's isolate. */
  #inChild(): void {
    try {
      const target = this.#job!();
      if (target === null) {
        const exec = this.#views[1];
        exec.setBigUint64(UC.RIP, this.#fn._exit, true);
        exec.setBigUint64(UC.RDI, 0n, true);
        return;
      }
      this.#target = target;
      // The child's handler table is its own copy (no CLONE_SIGHAND): the app starts with defaults.
      resetDispositions();
      const path = cstr(target.path), argv = cstrTable(target.argv), env = cstrTable(target.env);
      this.#keep = [path, argv, env];
      const exec = this.#views[1];
      exec.setBigUint64(UC.RDI, addr(path), true);
      exec.setBigUint64(UC.RSI, addr(argv.table), true);
      exec.setBigUint64(UC.RDX, addr(env.table), true);
    } catch (e) {
      try {
        this.#failure = e instanceof Error ? e.message : String(e);
      } catch {
        this.#failure = "the child's job failed";
      }
      const exec = this.#views[1];
      exec.setBigUint64(UC.RIP, this.#fn._exit, true);
      exec.setBigUint64(UC.RDI, 126n, true);
    }
  }

  #prepare(i: number, stackLo: bigint, stackSize: bigint, link: number | null, mask: bigint): void {
    const v = this.#views[i];
    this.#lib.getcontext(this.#ctx[i]);
    v.setBigUint64(UC.LINK, link === null ? 0n : addr(this.#ctx[link]), true);
    v.setBigUint64(UC.SS_SP, stackLo, true);
    v.setInt32(UC.SS_FLAGS, 0, true);
    v.setBigUint64(UC.SS_SIZE, stackSize, true);
    v.setBigUint64(UC.SIGMASK, mask, true);
  }

  /**
   * clone3, with CLONE_INTO_CGROUP when `cgroupFd` is given: the child is born in that cgroup v2
   * directory, which spares it the cgroup.procs write (join.ts says why that is slow). glibc has no clone3
   * with a function, so libc's `syscall()` makes it: in the child, the syscall returns 0 on the new stack and
   * syscall()'s `ret` pops the address of `setcontext` placed at the stack's top, with RDI still the
   * clone_args pointer. So clone_args are the first 88 bytes of the JS context itself: they overlay
   * uc_flags, uc_link, uc_stack (read by makecontext only, which is done) and the saved R8–R13 (the
   * callback takes no arguments), and setcontext then switches to that context as glibc clone would.
   * Returns the pid, or -errno.
   */
  #clone3(flags: number, cgroupFd?: number): bigint {
    const v = this.#views[0];
    const slot = this.#cloneStack + CLONE_STACK - 16n;
    new DataView(new Deno.UnsafePointerView(Deno.UnsafePointer.create(slot)!).getArrayBuffer(8)).setBigUint64(
      0,
      this.#fn.setcontext,
      true,
    );
    for (let off = 0; off < CLONE_ARGS.SIZE; off += 8) v.setBigUint64(off, 0n, true);
    const into = cgroupFd === undefined ? 0n : CLONE_INTO_CGROUP;
    v.setBigUint64(CLONE_ARGS.FLAGS, BigInt(flags | CLONE_VM | CLONE_VFORK) | into, true);
    // clone3 refuses an exit signal with CLONE_PARENT: the child then gets its parent's (SIGCHLD here).
    v.setBigUint64(CLONE_ARGS.EXIT_SIGNAL, flags & CLONE_PARENT ? 0n : BigInt(SIGCHLD), true);
    v.setBigUint64(CLONE_ARGS.STACK, this.#cloneStack, true);
    v.setBigUint64(CLONE_ARGS.STACK_SIZE, CLONE_STACK - 16n, true);
    v.setBigUint64(CLONE_ARGS.CGROUP, BigInt(cgroupFd ?? 0), true);
    return rawSyscall("clone3", addr(this.#ctx[0]), CLONE_ARGS.SIZE);
  }

  run(flags: number, job: () => ExecTarget | null, cgroupFd?: number): ChildStart {
    const l = this.#lib, fn = this.#fn, c = this.#cStacks;
    this.#job = job;
    this.#failure = null;
    this.#target = null;
    this.#record[0] = 0;
    this.#record[1] = 0;
    // exit(127) <- copy errno <- execve (the app starts with an empty signal mask).
    this.#prepare(3, c, C_STACK, null, FULL_MASK);
    l.makecontext(this.#ctx[3], Deno.UnsafePointer.create(fn._exit), 1, 127n, 0n, 0n);
    this.#prepare(2, c + C_STACK, C_STACK, 3, FULL_MASK);
    l.makecontext(
      this.#ctx[2],
      Deno.UnsafePointer.create(fn.memcpy),
      3,
      addr(this.#record) + 4n,
      this.#errnoAddr,
      4n,
    );
    this.#prepare(1, c + 2n * C_STACK, C_STACK, 2, 0n);
    // (Re)made each run: a job returning null turned it into _exit(0) last time.
    l.makecontext(this.#ctx[1], Deno.UnsafePointer.create(fn.execve), 3, 0n, 0n, 0n);
    // The JS region: below the stack pointer at this depth, so the parent's live frames stay untouched.
    l.getcontext(this.#ctx[4]);
    const top = (this.#views[4].getBigUint64(UC.RSP, true) - JS_MARGIN) & ~0xfn;
    this.#prepare(0, top - JS_REGION, JS_REGION, 1, FULL_MASK);
    l.makecontext(this.#ctx[0], this.#callback.pointer, 0, 0n, 0n, 0n);
    // No signal handler may run in the child before its own table is reset: block all around the clone.
    const blocked = rawSyscall("rt_sigprocmask", SIG_SETMASK, addr(this.#fullMask), addr(this.#oldMask), 8);
    if (blocked < 0n) throw new SyscallError("rt_sigprocmask", "SIG_SETMASK", Number(-blocked));
    let pid: number;
    let cloneErrno = 0;
    try {
      const r = this.#clone3(flags, cgroupFd);
      pid = r < 0n ? -1 : Number(r);
      cloneErrno = r < 0n ? Number(-r) : 0;
      if (cloneErrno === ENOSYS && cgroupFd === undefined) {
        // A kernel before clone3 (5.3): glibc's clone makes the same child.
        const g = glibcClone ??= openLibc(CLONE_SYMBOL);
        pid = g.clone(
          Deno.UnsafePointer.create(fn.setcontext),
          Deno.UnsafePointer.create(this.#cloneStack + CLONE_STACK),
          flags | CLONE_VM | CLONE_VFORK | SIGCHLD,
          Deno.UnsafePointer.of(this.#ctx[0]),
        );
        cloneErrno = pid < 0 ? new Deno.UnsafePointerView(g.__errno_location()!).getInt32() : 0;
      }
    } finally {
      rawSyscall("rt_sigprocmask", SIG_SETMASK, addr(this.#oldMask), 0, 8);
    }
    const target = this.#target as ExecTarget | null;
    this.#job = null;
    this.#keep = [];
    this.#target = null;
    if (pid < 0) {
      const what = cgroupFd === undefined
        ? describeFlags(flags)
        : `${describeFlags(flags)}, cgroup fd ${cgroupFd}`;
      throw new SyscallError("clone3", what, cloneErrno);
    }
    return {
      pid,
      failure: this.#failure,
      execErrno: this.#failure === null ? this.#record[1] : 0,
      path: target?.path ?? "",
    };
  }
}

function describeFlags(flags: number): string {
  return `0x${flags.toString(16)}`;
}

/**
 * Sets every catchable signal's disposition to SIG_DFL (Deno ignores SIGPIPE, and that survives execve).
 * Each is set to SIG_IGN first, which discards a pending one: a traced child that met a signal between
 * here and its execve would stop for its tracer, the parent that sleeps until that execve.
 */
export function resetDispositions(): void {
  const dfl = new BigUint64Array(4); // handler, flags, restorer, mask
  const ign = new BigUint64Array([1n, 0n, 0n, 0n]);
  for (let sig = 1; sig <= 64; sig++) {
    if (sig === 9 || sig === 19) continue;
    rawSyscall("rt_sigaction", sig, addr(ign), 0, 8);
    rawSyscall("rt_sigaction", sig, addr(dfl), 0, 8);
  }
}

/** runners[0] for boot's children; runners[1] for the grandchild a child makes (runInGrandchild). */
const runners: Runner[] = [];

function runnerAt(depth: number): Runner {
  if (!cloneChildSupported) throw new Error(`clone children are not supported on ${Deno.build.arch}`);
  return runners[depth] ??= new Runner();
}

/**
 * Runs `job` in a new child process (clone with `flags`, e.g. CLONE_NEWPID) that shares this process's
 * memory until it execs what the job returns. Returns once the child has exec'd or died; see ChildStart.
 */
export function runInChild(flags: number, job: () => ExecTarget, cgroupFd?: number): ChildStart {
  return runnerAt(0).run(flags, job, cgroupFd);
}

const P_PID = 1, WEXITED = 4;

/**
 * Runs `prepare` in a first child (clone with `flags`), which then runs `job` in a child of its own made
 * with CLONE_PARENT, so the job's process is this process's child all the same, and exits. What `prepare`
 * did to the first child's namespaces for its children (unshare(CLONE_NEWPID) after setns into a user
 * namespace: a pid namespace owned by that user namespace, which a clone from here cannot make) holds for
 * the job's process, which is pid 1 of such a namespace. Returns the job's ChildStart; the first child
 * is reaped here. Its failure (from `prepare`) is reported as the ChildStart's failure.
 */
export function runInGrandchild(flags: number, prepare: () => void, job: () => ExecTarget): ChildStart {
  const outer = runnerAt(0), inner = runnerAt(1); // both made here, never in a child
  let result: ChildStart | null = null;
  const first = outer.run(flags, () => {
    prepare();
    result = inner.run(CLONE_PARENT, job);
    return null;
  });
  const si = new Uint8Array(128);
  rawSyscall("waitid", P_PID, first.pid, addr(si), WEXITED, 0);
  if (first.failure !== null || result === null) {
    return { ...first, failure: first.failure ?? "the first child died" };
  }
  return result;
}
