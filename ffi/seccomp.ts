/**
 * libseccomp through Deno.dlopen: the only file that knows its symbols, its comparison enum and the layout
 * of `struct scmp_arg_cmp`. runts uses the library only to compile a profile into a classic BPF program
 * (seccomp_export_bpf); loading it is a plain seccomp(2) call (Kernel.seccompLoad), so runts alone decides
 * the filter flags and whether no_new_privs is set.
 *
 * The library is opened on first use. dlopen needs the file, so callers open it before the process root
 * changes (init compiles its filter before it enters any namespace).
 */
import { SyscallError } from "./error.ts";
import { linuxFs } from "./linux_fs.ts";
import { cstr } from "./mem.ts";

/** The soname runts looks for (there is no unversioned dev symlink on most hosts). */
export const LIBSECCOMP = "libseccomp.so.2";

const SYMBOLS = {
  seccomp_version: { parameters: [], result: "pointer" },
  seccomp_init: { parameters: ["u32"], result: "pointer" },
  seccomp_release: { parameters: ["pointer"], result: "void" },
  seccomp_arch_add: { parameters: ["pointer", "u32"], result: "i32" },
  seccomp_arch_resolve_name: { parameters: ["buffer"], result: "u32" },
  seccomp_syscall_resolve_name: { parameters: ["buffer"], result: "i32" },
  seccomp_rule_add_array: { parameters: ["pointer", "u32", "i32", "u32", "buffer"], result: "i32" },
  seccomp_export_bpf: { parameters: ["pointer", "i32"], result: "i32" },
} as const;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** libseccomp's `enum scmp_compare`, by the names the runtime-spec uses. */
export const SCMP_CMP: Readonly<Record<string, number>> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

/** __NR_SCMP_ERROR: the name is not a syscall on any architecture libseccomp knows. */
const NR_SCMP_ERROR = -1;
/** -EEXIST from seccomp_arch_add: the architecture is already in the filter (the native one always is). */
const EEXIST = 17;
/** sizeof(struct sock_filter). */
const BPF_INSN = 8;

/** One argument comparison: `arg` 0–5, `op` an SCMP_CMP value, `a` and `b` the two operands. */
export interface ArgCmp {
  arg: number;
  op: number;
  a: bigint;
  b: bigint;
}

/** A filter under construction. Release it (always) when done. */
export interface ScmpFilter {
  /** Adds an architecture token; one already present is not an error. */
  addArch(token: number): void;
  /** Adds a rule for `syscall` (a number from resolveSyscall) with all `args` conditions ANDed. */
  addRule(action: number, syscall: number, args: readonly ArgCmp[], what: string): void;
  /** The classic BPF program (an array of 8-byte sock_filter instructions). */
  exportBpf(): Uint8Array<ArrayBuffer>;
  release(): void;
}

/** An opened libseccomp. */
export interface Libseccomp {
  /** "major.minor.micro". */
  readonly version: string;
  /** The token of a libseccomp architecture name ("x86_64", "aarch64" …), or null when it is unknown. */
  resolveArch(name: string): number | null;
  /**
   * The syscall number of `name` on the native architecture (a negative pseudo number when it exists only
   * on others), or null when libseccomp knows it nowhere.
   */
  resolveSyscall(name: string): number | null;
  /** A new filter whose default action is `defaultAction` (a SECCOMP_RET value). */
  newFilter(defaultAction: number): ScmpFilter;
}

/** libseccomp could not be loaded. */
export class LibseccompUnavailable extends Error {
  constructor(path: string, cause: string) {
    super(
      `${path} cannot be loaded (${cause}): runts compiles linux.seccomp with libseccomp 2.5 or later; ` +
        "install it (Debian and Ubuntu: libseccomp2; Fedora: libseccomp) or remove linux.seccomp from the spec",
    );
    this.name = "LibseccompUnavailable";
  }
}

const opened = new Map<string, Libseccomp>();

/** Opens libseccomp (once per path); throws LibseccompUnavailable when it cannot be loaded. */
export function openLibseccomp(path = LIBSECCOMP): Libseccomp {
  let lib = opened.get(path);
  if (!lib) {
    let sym: Symbols;
    try {
      sym = Deno.dlopen(path, SYMBOLS).symbols;
    } catch (e) {
      throw new LibseccompUnavailable(path, (e as Error).message);
    }
    lib = wrap(sym);
    opened.set(path, lib);
  }
  return lib;
}

function check(call: string, what: string, rc: number): void {
  if (rc < 0) throw new SyscallError(call, what, -rc);
}

function wrap(sym: Symbols): Libseccomp {
  const v = new Deno.UnsafePointerView(sym.seccomp_version()!);
  const version = `${v.getUint32(0)}.${v.getUint32(4)}.${v.getUint32(8)}`;
  return {
    version,
    resolveArch(name) {
      const token = sym.seccomp_arch_resolve_name(cstr(name));
      return token === 0 ? null : token;
    },
    resolveSyscall(name) {
      const nr = sym.seccomp_syscall_resolve_name(cstr(name));
      return nr === NR_SCMP_ERROR ? null : nr;
    },
    newFilter(defaultAction) {
      const ctx = sym.seccomp_init(defaultAction);
      if (ctx === null) {
        throw new Error(
          `seccomp_init 0x${defaultAction.toString(16)}: libseccomp refused the default action`,
        );
      }
      return filter(sym, ctx);
    },
  };
}

function filter(sym: Symbols, ctx: NonNullable<Deno.PointerValue>): ScmpFilter {
  let live = true;
  return {
    addArch(token) {
      const rc = sym.seccomp_arch_add(ctx, token);
      if (rc !== -EEXIST) check("seccomp_arch_add", `0x${token.toString(16)}`, rc);
    },
    addRule(action, syscall, args, what) {
      const buf = new ArrayBuffer(Math.max(args.length, 1) * 24);
      const view = new DataView(buf);
      args.forEach((c, i) => {
        view.setUint32(i * 24, c.arg, true);
        view.setUint32(i * 24 + 4, c.op, true);
        view.setBigUint64(i * 24 + 8, c.a, true);
        view.setBigUint64(i * 24 + 16, c.b, true);
      });
      const rc = sym.seccomp_rule_add_array(ctx, action, syscall, args.length, new Uint8Array(buf));
      check("seccomp_rule_add_array", what, rc);
    },
    exportBpf() {
      const fd = linuxFs.memfdCreate("runts-seccomp-bpf", 1 /* MFD_CLOEXEC */);
      try {
        check("seccomp_export_bpf", `memfd ${fd}`, sym.seccomp_export_bpf(ctx, fd));
        const size = linuxFs.lseek(fd, 0, 2 /* SEEK_END */);
        linuxFs.lseek(fd, 0, 0);
        const out = new Uint8Array(size);
        for (let off = 0; off < size;) {
          const n = linuxFs.read(fd, out.subarray(off));
          if (n === 0) break;
          off += n;
        }
        if (size === 0 || size % BPF_INSN !== 0) {
          throw new Error(`seccomp_export_bpf: ${size} bytes is not a BPF program`);
        }
        return out;
      } finally {
        linuxFs.close(fd);
      }
    },
    release() {
      if (live) sym.seccomp_release(ctx);
      live = false;
    },
  };
}
