/** Syscall numbers for the two architectures runts supports. */
const TABLE = {
  read: [0, 63], write: [1, 64], close: [3, 57], lseek: [8, 62], ioctl: [16, 29],
  rt_sigaction: [13, 134], rt_sigprocmask: [14, 135], getpid: [39, 172], socket: [41, 198],
  connect: [42, 203], sendmsg: [46, 211], recvmsg: [47, 212], shutdown: [48, 210], bind: [49, 200],
  listen: [50, 201], socketpair: [53, 199], setsockopt: [54, 208], getsockopt: [55, 209], execve: [59, 221],
  wait4: [61, 260], kill: [62, 129], fcntl: [72, 25], chdir: [80, 49], fchdir: [81, 50], fchmod: [91, 52],
  fchown: [93, 55], umask: [95, 166], getuid: [102, 174], getgid: [104, 176], setuid: [105, 146],
  setgid: [106, 144], geteuid: [107, 175], getegid: [108, 177], setpgid: [109, 154], getppid: [110, 173],
  setsid: [112, 157], setgroups: [116, 159], setresuid: [117, 147], setresgid: [119, 149], capget: [125, 90],
  capset: [126, 91], personality: [135, 92], pivot_root: [155, 41], prctl: [157, 167], chroot: [161, 51],
  mount: [165, 40], umount2: [166, 39], sethostname: [170, 161], setdomainname: [171, 162], gettid: [186, 178],
  sched_setaffinity: [203, 122], sched_getaffinity: [204, 123], getdents64: [217, 61], epoll_ctl: [233, 21],
  tgkill: [234, 131], waitid: [247, 95], openat: [257, 56], mkdirat: [258, 34], mknodat: [259, 33],
  fchownat: [260, 54], newfstatat: [262, 79], unlinkat: [263, 35], symlinkat: [266, 36],
  readlinkat: [267, 78], fchmodat: [268, 53], unshare: [272, 97], epoll_pwait: [281, 22], accept4: [288, 242],
  epoll_create1: [291, 20], dup3: [292, 24], pipe2: [293, 59], prlimit64: [302, 261], setns: [308, 268],
  seccomp: [317, 277], memfd_create: [319, 279], execveat: [322, 281], statx: [332, 291],
  pidfd_send_signal: [424, 424], open_tree: [428, 428], move_mount: [429, 429], pidfd_open: [434, 434],
  clone3: [435, 435], close_range: [436, 436], openat2: [437, 437], mount_setattr: [442, 442],
} as const;

/** A syscall name known to runts. */
export type SyscallName = keyof typeof TABLE;

const column = Deno.build.arch === "aarch64" ? 1 : 0;

/** The syscall number of `name` on the running architecture. */
export function syscallNumber(name: SyscallName): number {
  return TABLE[name][column];
}

/** The AUDIT_ARCH value seccomp filters compare against on the running architecture. */
export const AUDIT_ARCH = Deno.build.arch === "aarch64" ? 0xc00000b7 : 0xc000003e;
