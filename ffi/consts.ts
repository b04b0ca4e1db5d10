/** Kernel constants, by architecture where they differ. Only ffi/ and the logic that builds flags use them. */
const arm = Deno.build.arch === "aarch64";

/** mount(2) flags. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  POSIXACL: 0x10000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** umount2(2) flags. */
export const MNT_DETACH = 2;

/** clone/unshare/setns namespace flags. */
export const CLONE = {
  NEWTIME: 0x80,
  FS: 0x200,
  FILES: 0x400,
  PARENT: 0x8000,
  NEWNS: 0x20000,
  NEWCGROUP: 0x2000000,
  NEWUTS: 0x4000000,
  NEWIPC: 0x8000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

/** open(2) flags. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DIRECTORY: arm ? 0o40000 : 0o200000,
  NOFOLLOW: arm ? 0o100000 : 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** *at(2) helpers. */
export const AT = { FDCWD: -100, SYMLINK_NOFOLLOW: 0x100, REMOVEDIR: 0x200, EMPTY_PATH: 0x1000 } as const;

/** openat2(2) resolve flags. */
export const RESOLVE = { NO_XDEV: 1, NO_MAGICLINKS: 2, NO_SYMLINKS: 4, BENEATH: 8, IN_ROOT: 0x10 } as const;

/** fcntl(2) commands. */
export const F = { GETFD: 1, SETFD: 2, GETFL: 3, SETFL: 4, DUPFD_CLOEXEC: 1030, FD_CLOEXEC: 1 } as const;

/** flock(2) operations. */
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

/** close_range(2) flags. */
export const CLOSE_RANGE_CLOEXEC = 4;

/** prctl(2) options. */
export const PR = {
  SET_PDEATHSIG: 1,
  GET_PDEATHSIG: 2,
  GET_DUMPABLE: 3,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  SET_NAME: 15,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_SECUREBITS: 28,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
  GET_NO_NEW_PRIVS: 39,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_LOWER: 3,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

/** waitid(2) id types and options. */
export const P = { PID: 1, PIDFD: 3 } as const;
/** waitid(2) options. */
export const W = {
  NOHANG: 1,
  STOPPED: 2,
  EXITED: 4,
  CONTINUED: 8,
  NOWAIT: 0x1000000,
  ALL: 0x40000000,
} as const;
/** siginfo si_code values for SIGCHLD. */
export const CLD = { EXITED: 1, KILLED: 2, DUMPED: 3, TRAPPED: 4, STOPPED: 5 } as const;

/** ptrace(2) options. */
export const PTRACE_O = { EXITKILL: 0x100000 } as const;

/** Socket constants. */
export const SOCK = {
  AF_UNIX: 1,
  STREAM: 1,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_PEERCRED: 17,
  SCM_RIGHTS: 1,
  MSG_CMSG_CLOEXEC: 0x40000000,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,
  SHUT_RDWR: 2,
} as const;

/** Network device ioctls and flags (struct ifreq: the name in 16 bytes, then the union). */
export const NETDEV = {
  AF_INET: 2,
  SOCK_DGRAM: 2,
  SIOCGIFFLAGS: 0x8913,
  SIOCSIFFLAGS: 0x8914,
  IFF_UP: 0x1,
  IFNAMSIZ: 16,
  IFREQ_SIZE: 40,
} as const;

/** epoll constants. */
export const EPOLL = {
  IN: 0x1,
  OUT: 0x4,
  ERR: 0x8,
  HUP: 0x10,
  RDHUP: 0x2000,
  CTL_ADD: 1,
  CTL_DEL: 2,
  CTL_MOD: 3,
  CLOEXEC: 0o2000000,
} as const;

/** rlimit resources by their OCI names. */
export const RLIMIT: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** Terminal ioctls. */
export const TIOC = {
  SCTTY: 0x540e,
  GPTN: 0x80045430,
  SPTLCK: 0x40045431,
  GWINSZ: 0x5413,
  SWINSZ: 0x5414,
  /** ioctl(master, TIOCGPTPEER, flags): opens the pty's slave without a path lookup. */
  GPTPEER: 0x5441,
} as const;

/** File type bits for mknod. */
export const S_IF = {
  CHR: 0o020000,
  BLK: 0o060000,
  FIFO: 0o010000,
  REG: 0o100000,
  DIR: 0o040000,
  SOCK: 0o140000,
  /** The mask of the type bits. */
  FMT: 0o170000,
} as const;

/** Signal numbers by name (without the SIG prefix), Linux x86_64/aarch64 numbering. */
export const SIGNALS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/** seccomp(2) filter return actions (the upper 16 bits; ERRNO and TRACE carry data in the lower 16). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
  DATA: 0x0000ffff,
} as const;

/** seccomp(2) SECCOMP_SET_MODE_FILTER flags. */
export const SECCOMP_FILTER_FLAG = {
  TSYNC: 1,
  LOG: 2,
  SPEC_ALLOW: 4,
  NEW_LISTENER: 8,
  TSYNC_ESRCH: 16,
  WAIT_KILLABLE_RECV: 32,
} as const;

/** mount_setattr(2) attributes. */
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, IDMAP: 0x100000 } as const;

/** personality(2) execution domains. */
export const PER = { LINUX: 0x0000, LINUX32: 0x0008, QUERY: 0xffffffff } as const;

/** Capability names indexed by capability number, in kernel order (runsc's tables stop at CAP_AUDIT_READ). */
export const CAPABILITIES: readonly string[] = Object.freeze([
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
]);

/** sched_setattr(2) policies, by their kernel (and OCI) names. */
export const SCHED_POLICY: Readonly<Record<string, number>> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};

/** struct sched_attr's sched_flags bits. */
export const SCHED_FLAG: Readonly<Record<string, number>> = {
  SCHED_FLAG_RESET_ON_FORK: 0x1,
  SCHED_FLAG_RECLAIM: 0x2,
  SCHED_FLAG_DL_OVERRUN: 0x4,
  SCHED_FLAG_KEEP_POLICY: 0x8,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

/** ioprio_set(2) classes a process may be given (IOPRIO_CLASS_NONE, 0, means "from the nice value"). */
export const IOPRIO_CLASS: Readonly<Record<string, number>> = {
  IOPRIO_CLASS_RT: 1,
  IOPRIO_CLASS_BE: 2,
  IOPRIO_CLASS_IDLE: 3,
};
