/**
 * A seccomp profile shaped like the container engines' default ones (deny by default with EPERM, a long
 * allow-list of ordinary syscalls, argument filters on clone, personality and socket, ENOSYS for clone3 so
 * that libc falls back to clone), written for these tests. It is deliberately strict about
 * namespace, mount, keyring, module, tracing and BPF calls, even for a container that holds CAP_SYS_ADMIN.
 */
import type { LinuxSeccomp } from "../../src/specutils/spec.ts";

/** Ordinary syscalls any process may make (names that do not exist on this architecture are skipped). */
const ALLOWED = [
  "accept accept4 access adjtimex alarm arch_prctl bind brk capget capset chdir chmod chown chown32",
  "clock_adjtime clock_getres clock_gettime clock_nanosleep close close_range connect copy_file_range creat",
  "dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_pwait2 epoll_wait eventfd eventfd2",
  "execve execveat exit exit_group faccessat faccessat2 fadvise64 fallocate fanotify_mark fchdir fchmod",
  "fchmodat fchown fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr",
  "fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_waitv",
  "futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32",
  "getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom",
  "getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname",
  "getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch",
  "inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents ioprio_get",
  "ioprio_set io_setup io_submit kill lchown lgetxattr link linkat listen listxattr llistxattr lremovexattr",
  "lseek lsetxattr lstat lstat64 madvise membarrier memfd_create mincore mkdir mkdirat mknod mknodat mlock",
  "mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend",
  "mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap nanosleep newfstatat open",
  "openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 poll ppoll prctl pread64 preadv preadv2",
  "prlimit64 pselect6 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recvfrom recvmmsg",
  "recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction",
  "rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait",
  "rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max",
  "sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr",
  "sched_setparam sched_setscheduler sched_yield select semctl semget semop semtimedop send sendfile",
  "sendmmsg sendmsg sendto setfsgid setfsuid setgid setgroups setitimer setpgid setpriority setregid",
  "setresgid setresuid setreuid setrlimit set_robust_list setsid setsockopt set_thread_area",
  "set_tid_address setuid setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4",
  "socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs",
  "sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_settime",
  "timerfd_create timerfd_gettime timerfd_settime times tkill truncate truncate64 ugetrlimit umask uname",
  "unlink unlinkat utime utimensat utimes vfork wait4 waitid write writev",
].join(" ").split(" ");

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: clone may not make namespaces. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const AF_VSOCK = 40;
const ENOSYS = 38;

/** The personality values glibc and common tools use: LINUX, LINUX32, UNAME26 variants, and the query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** The engine-shaped default profile for `arch` ("x86_64" or "aarch64"). */
export function dockerShapedProfile(arch = Deno.build.arch): LinuxSeccomp {
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    architectures: arch === "aarch64"
      ? ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
      : ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      { names: ALLOWED, action: "SCMP_ACT_ALLOW" },
      ...PERSONALITIES.map((value) => ({
        names: ["personality"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value, op: "SCMP_CMP_EQ" }],
      })),
      {
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      },
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
      {
        names: ["socket"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: AF_VSOCK, op: "SCMP_CMP_NE" }],
      },
    ],
  };
}
