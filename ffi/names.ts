/**
 * Names of the kernel's constants, for SyscallError texts: `prctl(PR_CAP_AMBIENT_RAISE, CAP_AUDIT_WRITE)`,
 * not `prctl option 47`. A value renders as its name, a bitmask as NAME|NAME; only what a table does not
 * know comes out in hex. Each constant group has one table here, built from ffi/consts.ts where that
 * holds the group, plus the members runts never passes but a reader may meet.
 */
import {
  CAPABILITIES,
  CLONE,
  CLOSE_RANGE_CLOEXEC,
  EPOLL,
  F,
  IOPRIO_CLASS,
  LOCK,
  MNT_DETACH,
  MOUNT_ATTR,
  MS,
  NETDEV,
  O,
  PER,
  PR,
  RLIMIT,
  SCHED_FLAG,
  SCHED_POLICY,
  SIGNALS,
  SOCK,
  TIOC,
} from "./consts.ts";

/** value → name. */
export type NameTable = ReadonlyMap<number, string>;

/** A table from a name → value record, each key with `prefix` in front; the first name of a value wins. */
export function nameTable(entries: Readonly<Record<string, number>>, prefix = ""): NameTable {
  const table = new Map<number, string>();
  for (const [name, value] of Object.entries(entries)) if (!table.has(value)) table.set(value, prefix + name);
  return table;
}

/**
 * A NameTable built on first use. The tables only serve error texts, and building all of them when the
 * module loads cost every runts process about a millisecond of cold code.
 */
class LazyTable implements NameTable {
  #build: (() => NameTable) | null;
  #table: NameTable | null = null;

  constructor(build: () => NameTable) {
    this.#build = build;
  }

  #map(): NameTable {
    if (!this.#table) {
      this.#table = this.#build!();
      this.#build = null;
    }
    return this.#table;
  }

  get size(): number {
    return this.#map().size;
  }
  get(k: number): string | undefined {
    return this.#map().get(k);
  }
  has(k: number): boolean {
    return this.#map().has(k);
  }
  forEach(fn: (v: string, k: number, m: ReadonlyMap<number, string>) => void, self?: unknown): void {
    this.#map().forEach(fn, self);
  }
  entries(): MapIterator<[number, string]> {
    return this.#map().entries();
  }
  keys(): MapIterator<number> {
    return this.#map().keys();
  }
  values(): MapIterator<string> {
    return this.#map().values();
  }
  [Symbol.iterator](): MapIterator<[number, string]> {
    return this.#map()[Symbol.iterator]();
  }
}

/** nameTable(entries(), prefix), made on first use. */
function lazyTable(entries: () => Readonly<Record<string, number>>, prefix = ""): NameTable {
  return new LazyTable(() => nameTable(entries(), prefix));
}

/** A record of consecutive values from `first`, one space-separated name each; "-" skips a value. */
function seq(first: number, names: string): Record<string, number> {
  const out: Record<string, number> = {};
  names.trim().split(/\s+/).forEach((n, i) => {
    if (n !== "-") out[n] = first + i;
  });
  return out;
}

/** A record of the bits 1, 2, 4, … named in order. */
function bits(names: string): Record<string, number> {
  return Object.fromEntries(names.trim().split(/\s+/).map((n, i) => [n, 2 ** i]));
}

/** `v` in hex (`0x3e7`, `-0x1`). */
export function hex(v: number | bigint): string {
  return v < 0 ? `-0x${(-BigInt(v)).toString(16)}` : `0x${v.toString(16)}`;
}

/** The name of `value` in `table`, or `value` in hex. */
export function nameOf(table: NameTable, value: number): string {
  return table.get(value) ?? hex(value);
}

/** A bitmask as its bit names joined by `|`, lowest first, unknown bits last in hex; 0 is `0`. */
export function flagsOf(table: NameTable, value: number | bigint): string {
  let rest = BigInt(value);
  if (rest === 0n) return "0";
  const parts: string[] = [];
  for (const [bit, name] of [...table].sort((a, b) => a[0] - b[0])) {
    const b = BigInt(bit);
    if (b > 0n && (b & (b - 1n)) === 0n && (rest & b) === b) {
      parts.push(name);
      rest &= ~b;
    }
  }
  if (rest !== 0n) parts.push(hex(rest));
  return parts.join("|");
}

/** mount(2) flags: MS_*. */
export const MOUNT_FLAGS = lazyTable(() => MS, "MS_");
/** umount2(2) flags. */
export const UMOUNT_FLAGS = lazyTable(() => ({
  MNT_FORCE: 1,
  MNT_DETACH,
  MNT_EXPIRE: 4,
  UMOUNT_NOFOLLOW: 8,
}));
/** mount_setattr(2) attributes. */
export const MOUNT_ATTRS = lazyTable(
  () => ({ ...MOUNT_ATTR, NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000 }),
  "MOUNT_ATTR_",
);
/** clone/unshare/setns flags. */
export const CLONE_FLAGS = lazyTable(
  () => ({
    ...CLONE,
    VM: 0x100,
    SIGHAND: 0x800,
    PIDFD: 0x1000,
    VFORK: 0x4000,
    THREAD: 0x10000,
    SYSVSEM: 0x40000,
  }),
  "CLONE_",
);
/** open(2) flags other than the access mode (see openFlags). */
export const OPEN_FLAGS = lazyTable(() => ({
  ...Object.fromEntries(Object.entries(O).filter(([, v]) => v > O.RDWR)),
  DSYNC: 0o10000,
  ASYNC: 0o20000,
  NOATIME: 0o1000000,
  // F_GETFL reports O_LARGEFILE, which 64-bit userspace never sets itself.
  LARGEFILE: Deno.build.arch === "aarch64" ? 0o400000 : 0o100000,
}), "O_");
const ACCESS_MODES = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"];

/** open(2) flags, the access mode first: O_RDWR|O_CLOEXEC. */
export function openFlags(flags: number): string {
  const rest = flagsOf(OPEN_FLAGS, flags & ~3);
  return rest === "0" ? ACCESS_MODES[flags & 3] : `${ACCESS_MODES[flags & 3]}|${rest}`;
}

/** fcntl(2) commands. */
export const FCNTL_CMDS = lazyTable(() => ({
  ...seq(0, "DUPFD GETFD SETFD GETFL SETFL GETLK SETLK SETLKW SETOWN GETOWN SETSIG GETSIG"),
  ...seq(15, "SETOWN_EX GETOWN_EX GETOWNER_UIDS"),
  ...seq(36, "OFD_GETLK OFD_SETLK OFD_SETLKW"),
  ...seq(
    1024,
    "SETLEASE GETLEASE NOTIFY - - CANCELLK DUPFD_CLOEXEC SETPIPE_SZ GETPIPE_SZ ADD_SEALS GET_SEALS",
  ),
}), "F_");
const FD_FLAGS = lazyTable(() => ({ FD_CLOEXEC: F.FD_CLOEXEC }));

/** fcntl(2)'s command and argument: `F_SETFD, FD_CLOEXEC`, `F_SETFL, O_NONBLOCK`, `F_GETFL`. */
export function fcntlArgs(cmd: number, arg: number): string {
  const name = nameOf(FCNTL_CMDS, cmd);
  switch (cmd) {
    case F.GETFD:
    case F.GETFL:
      return name;
    case F.SETFD:
      return `${name}, ${flagsOf(FD_FLAGS, arg)}`;
    case F.SETFL:
      return `${name}, ${openFlags(arg)}`;
    default:
      return `${name}, ${arg}`;
  }
}

/** flock(2) operations. */
export const FLOCK_OPS = lazyTable(() => LOCK, "LOCK_");

/** ioctl(2) requests runts makes, and a few common ones. */
export const IOCTL_REQUESTS = lazyTable(() => ({
  ...Object.fromEntries(Object.entries(TIOC).map(([k, v]) => [`TIOC${k}`, v])),
  SIOCGIFFLAGS: NETDEV.SIOCGIFFLAGS,
  SIOCSIFFLAGS: NETDEV.SIOCSIFFLAGS,
  TCGETS: 0x5401,
  TCSETS: 0x5402,
  TIOCGPGRP: 0x540f,
  TIOCSPGRP: 0x5410,
  FIONREAD: 0x541b,
  TIOCNOTTY: 0x5422,
  FIONBIO: 0x5421,
  FIOCLEX: 0x5451,
}));

/** socket(2) address families. */
export const ADDRESS_FAMILIES = lazyTable(() => ({
  AF_UNIX: SOCK.AF_UNIX,
  AF_INET: 2,
  AF_INET6: 10,
  AF_NETLINK: 16,
}));
const SOCKET_TYPES = lazyTable(() => (seq(1, "SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM SOCK_SEQPACKET")));
const SOCKET_TYPE_FLAGS = lazyTable(() => ({ SOCK_NONBLOCK: SOCK.NONBLOCK, SOCK_CLOEXEC: SOCK.CLOEXEC }));

/** A socket(2) type: the kind (the low 4 bits) and its flags, `SOCK_STREAM|SOCK_CLOEXEC`. */
export function socketType(type: number): string {
  const kind = nameOf(SOCKET_TYPES, type & 0xf), flags = type & ~0xf;
  return flags ? `${kind}|${flagsOf(SOCKET_TYPE_FLAGS, flags)}` : kind;
}

/** epoll_ctl(2) operations. */
export const EPOLL_OPS = lazyTable(() => ({
  EPOLL_CTL_ADD: EPOLL.CTL_ADD,
  EPOLL_CTL_DEL: 2,
  EPOLL_CTL_MOD: 3,
}));
/** epoll event bits. */
export const EPOLL_EVENTS = lazyTable(() => ({
  IN: EPOLL.IN,
  PRI: 0x2,
  OUT: EPOLL.OUT,
  ERR: EPOLL.ERR,
  HUP: EPOLL.HUP,
  RDHUP: EPOLL.RDHUP,
  EXCLUSIVE: 0x10000000,
  WAKEUP: 0x20000000,
  ONESHOT: 0x40000000,
  ET: 0x80000000,
}), "EPOLL");

const SIGNAL_NAMES = lazyTable(() => SIGNALS, "SIG");

/** A signal's name: SIGTERM; real-time signals as strace writes them (SIGRT_2 is 34); 0 stays 0. */
export function signalName(sig: number): string {
  if (sig === 0) return "0";
  if (sig >= 32 && sig <= 64) return `SIGRT_${sig - 32}`;
  return nameOf(SIGNAL_NAMES, sig);
}

/** getrlimit/setrlimit resources. */
export const RLIMIT_RESOURCES = lazyTable(() => RLIMIT);

/** An rlimit value: RLIM_INFINITY or the number. */
export function rlimitValue(v: bigint): string {
  return v === 0xffffffffffffffffn ? "RLIM_INFINITY" : String(v);
}

/** Scheduling policies (sched_setattr). */
export const SCHED_POLICIES = lazyTable(() => SCHED_POLICY);
/** sched_attr flags. */
export const SCHED_FLAGS = lazyTable(() => SCHED_FLAG);
/** I/O priority classes. */
export const IOPRIO_CLASSES = lazyTable(() => ({ IOPRIO_CLASS_NONE: 0, ...IOPRIO_CLASS }));
/** personality(2) execution domains. */
export const PERSONALITIES = lazyTable(() => ({ LINUX: PER.LINUX, LINUX32: PER.LINUX32 }), "PER_");
/** close_range(2) flags. */
export const CLOSE_RANGE_FLAGS = lazyTable(() => ({ CLOSE_RANGE_UNSHARE: 2, CLOSE_RANGE_CLOEXEC }));

/** Capability names by number. */
export const CAPABILITY_NAMES: NameTable = new LazyTable(() =>
  new Map(CAPABILITIES.map((name, i) => [i, name]))
);

/** prctl(2) options. */
export const PRCTL_OPTIONS = lazyTable(() => ({
  ...seq(
    1,
    `SET_PDEATHSIG GET_PDEATHSIG GET_DUMPABLE SET_DUMPABLE GET_UNALIGN SET_UNALIGN GET_KEEPCAPS SET_KEEPCAPS
     GET_FPEMU SET_FPEMU GET_FPEXC SET_FPEXC GET_TIMING SET_TIMING SET_NAME GET_NAME - - GET_ENDIAN SET_ENDIAN
     GET_SECCOMP SET_SECCOMP CAPBSET_READ CAPBSET_DROP GET_TSC SET_TSC GET_SECUREBITS SET_SECUREBITS
     SET_TIMERSLACK GET_TIMERSLACK TASK_PERF_EVENTS_DISABLE TASK_PERF_EVENTS_ENABLE MCE_KILL MCE_KILL_GET
     SET_MM SET_CHILD_SUBREAPER GET_CHILD_SUBREAPER SET_NO_NEW_PRIVS GET_NO_NEW_PRIVS GET_TID_ADDRESS
     SET_THP_DISABLE GET_THP_DISABLE MPX_ENABLE_MANAGEMENT MPX_DISABLE_MANAGEMENT SET_FP_MODE GET_FP_MODE
     CAP_AMBIENT - - SVE_SET_VL SVE_GET_VL GET_SPECULATION_CTRL SET_SPECULATION_CTRL PAC_RESET_KEYS
     SET_TAGGED_ADDR_CTRL GET_TAGGED_ADDR_CTRL SET_IO_FLUSHER GET_IO_FLUSHER SET_SYSCALL_USER_DISPATCH
     PAC_SET_ENABLED_KEYS PAC_GET_ENABLED_KEYS SCHED_CORE SME_SET_VL SME_GET_VL`,
  ),
  SET_VMA: 0x53564d41,
  SET_PTRACER: 0x59616d61,
}), "PR_");
/** PR_CAP_AMBIENT's operations. */
export const AMBIENT_OPS = lazyTable(() => (seq(1, "IS_SET RAISE LOWER CLEAR_ALL")), "PR_CAP_AMBIENT_");
/** PR_SET_SECUREBITS bits. */
export const SECUREBITS = lazyTable(
  () =>
    bits(
      `NOROOT NOROOT_LOCKED NO_SETUID_FIXUP NO_SETUID_FIXUP_LOCKED KEEP_CAPS KEEP_CAPS_LOCKED NO_CAP_AMBIENT_RAISE
     NO_CAP_AMBIENT_RAISE_LOCKED`,
    ),
  "SECBIT_",
);

/**
 * prctl(2)'s option and the arguments that matter to it, in parentheses:
 * `(PR_CAP_AMBIENT_RAISE, CAP_AUDIT_WRITE)`, `(PR_CAPBSET_DROP, CAP_SYS_ADMIN)`, `(PR_SET_PDEATHSIG, SIGKILL)`.
 */
export function prctlArgs(option: number, arg2: number | bigint = 0, arg3: number | bigint = 0): string {
  const a2 = Number(arg2), a3 = Number(arg3);
  switch (option) {
    case PR.CAP_AMBIENT:
      return a2 === PR.CAP_AMBIENT_CLEAR_ALL
        ? `(${nameOf(AMBIENT_OPS, a2)})`
        : `(${nameOf(AMBIENT_OPS, a2)}, ${nameOf(CAPABILITY_NAMES, a3)})`;
    case PR.CAPBSET_READ:
    case PR.CAPBSET_DROP:
      return `(${nameOf(PRCTL_OPTIONS, option)}, ${nameOf(CAPABILITY_NAMES, a2)})`;
    case PR.SET_PDEATHSIG:
      return `(PR_SET_PDEATHSIG, ${signalName(a2)})`;
    case PR.SET_SECUREBITS:
      return `(PR_SET_SECUREBITS, ${flagsOf(SECUREBITS, a2)})`;
    case PR.SET_NAME:
      return "(PR_SET_NAME)";
    default:
      return a2 === 0 ? `(${nameOf(PRCTL_OPTIONS, option)})` : `(${nameOf(PRCTL_OPTIONS, option)}, ${a2})`;
  }
}
