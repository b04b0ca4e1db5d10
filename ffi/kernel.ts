/**
 * The one typed interface to the kernel. Everything above ffi/ takes a `Kernel`, so its logic can run
 * against the recording fake (ffi/fake.ts) in unit tests and against `linux` (ffi/linux.ts) for real.
 * Every method throws a SyscallError naming the call, its argument and the errno on failure.
 */

/** The five capability sets, each a 64-bit mask. */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/** What waitid(2) reports about a child. */
export interface WaitInfo {
  pid: number;
  /** CLD_EXITED, CLD_KILLED or CLD_DUMPED. */
  code: number;
  /** The exit code, or the signal number for a killed child. */
  status: number;
}

/** struct sched_attr, in the kernel's field order. */
export interface SchedAttr {
  policy: number;
  flags: bigint;
  nice: number;
  priority: number;
  runtime: bigint;
  deadline: bigint;
  period: bigint;
}

/** The peer of a unix socket (SO_PEERCRED). */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** What recvmsg(2) delivered. */
export interface Received {
  /** Bytes read into the buffer; 0 means end of stream. */
  n: number;
  /** Descriptors passed with SCM_RIGHTS (already CLOEXEC). */
  fds: number[];
}

/** How to start a process with posix_spawn. */
export interface SpawnOptions {
  path: string;
  argv: readonly string[];
  env: readonly string[];
  /** child fd → parent fd. Only these reach the child; everything else is closed. */
  fds: ReadonlyMap<number, number>;
  /** Start a new session (setsid). */
  setsid?: boolean;
  /** Working directory for the child. */
  cwd?: string;
}

/** What a job run in a clone child (ffi/clone_child.ts) asks to execve once it returns. */
export interface ExecTarget {
  path: string;
  argv: readonly string[];
  env: readonly string[];
}

/** How a clone child's setup ended, as its parent sees it once the child has exec'd or died. */
export interface ChildStart {
  /** The child's pid (in the caller's pid namespace). */
  pid: number;
  /** The job's error message, or null when the job returned. */
  failure: string | null;
  /** The errno of a failed execve of `path` (the child then exits 127); 0 when it did not fail. */
  execErrno: number;
  /** The program the job asked for ("" when it failed first). */
  path: string;
}

/** What a map writer writes for one child: /proc/PID/uid_map, setgroups (when set), gid_map. */
export interface IdMaps {
  uidMap: string;
  gidMap: string;
  /** Written to /proc/PID/setgroups before gid_map ("deny" where an unprivileged writer must); null leaves it. */
  setgroups: "deny" | "allow" | null;
  /**
   * Rootless with subordinate ids: the arguments (after the pid) for newuidmap and newgidmap, which
   * write the maps instead (src/boot/rootless.ts); null: the writer writes them itself.
   */
  helpers: { newuidmap: string; newgidmap: string; uid: string[]; gid: string[] } | null;
}

/** Filesystem calls. */
export interface FsCalls {
  mount(source: string, target: string, fstype: string, flags: number, data?: string): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chroot(path: string): void;
  chdir(path: string): void;
  fchdir(fd: number): void;
  /** openat(2); `dirfd` defaults to AT_FDCWD. */
  open(path: string, flags: number, mode?: number, dirfd?: number): number;
  /** openat2(2) with a resolve mask (ENOSYS where the kernel lacks it). */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  mkdirat(dirfd: number, path: string, mode: number): void;
  mknodat(dirfd: number, path: string, mode: number, dev: bigint): void;
  symlinkat(target: string, dirfd: number, path: string): void;
  unlinkat(dirfd: number, path: string, flags: number): void;
  readlinkat(dirfd: number, path: string): string;
  fchown(fd: number, uid: number, gid: number): void;
  fchmod(fd: number, mode: number): void;
  fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void;
  close(fd: number): void;
  dup3(oldfd: number, newfd: number, flags: number): number;
  fcntl(fd: number, cmd: number, arg?: number): number;
  /** pipe2(2): [read end, write end]. */
  pipe2(flags: number): [number, number];
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, buf: Uint8Array): number;
  lseek(fd: number, offset: number, whence: number): number;
  closeRange(first: number, last: number, flags: number): void;
  umask(mask: number): number;
  ioctl(fd: number, request: number, arg: bigint | Uint8Array): number;
  /** File type and mode bits of an open fd (fstat st_mode). */
  fstatMode(fd: number): number;
  /** flock(2): LOCK.SH or LOCK.EX, optionally | LOCK.NB (EWOULDBLOCK surfaces as EAGAIN), or LOCK.UN. */
  flock(fd: number, op: number): void;
  /** Device and inode of an open fd, as "dev:ino". */
  fileId(fd: number): string;
  /** open_tree(fd, "", OPEN_TREE_CLONE|AT_EMPTY_PATH[|AT_RECURSIVE]): a detached copy of the mount at `fd`. */
  cloneMount(fd: number, recursive: boolean): number;
  /** move_mount(2) of the detached tree `treeFd` onto the directory or file `targetFd`. */
  attachMount(treeFd: number, targetFd: number): void;
  /** memfd_create(2). */
  memfdCreate(name: string, flags: number): number;
  /**
   * mount_setattr(fd, "", AT_EMPTY_PATH[|AT_RECURSIVE]): sets and clears MOUNT_ATTR bits on the mount at
   * `fd` (and, when `recursive`, on every mount below it). With MOUNT_ATTR.IDMAP, `usernsFd` is the user
   * namespace whose maps the mount applies to file owners.
   */
  mountSetattr(fd: number, recursive: boolean, attrSet: number, attrClr: number, usernsFd?: number): void;
}

/** Process, credential and namespace calls. */
export interface ProcCalls {
  unshare(flags: number): void;
  setns(fd: number, nstype: number): void;
  sethostname(name: string): void;
  setdomainname(name: string): void;
  prctl(option: number, arg2?: number | bigint, arg3?: number | bigint, arg4?: number, arg5?: number): number;
  capget(): CapSets;
  capset(sets: CapSets): void;
  /** Raw, per-thread setresuid/setresgid/setgroups (no glibc broadcast). */
  setresuid(uid: number): void;
  setresgid(gid: number): void;
  setgroups(gids: readonly number[]): void;
  getuid(): number;
  getgid(): number;
  getpid(): number;
  kill(pid: number, sig: number): void;
  /** waitid(2); null when WNOHANG found nothing. */
  waitid(idtype: number, id: number, options: number): WaitInfo | null;
  /** waitid(2) on a blocking-pool thread, so it may block without stalling the event loop. */
  waitidBlocking(idtype: number, id: number, options: number): Promise<WaitInfo | null>;
  pidfdOpen(pid: number): number;
  setsid(): number;
  setrlimit(resource: number, soft: bigint, hard: bigint): void;
  personality(persona: number): number;
  schedSetaffinity(pid: number, cpus: readonly number[]): void;
  schedGetaffinity(pid: number): number[];
  /** sched_setattr(2) for `pid` (0: the caller). */
  schedSetattr(pid: number, attr: SchedAttr): void;
  /** ioprio_set(IOPRIO_WHO_PROCESS, pid, (class << 13) | level). */
  ioprioSet(pid: number, ioClass: number, level: number): void;
  /** Resets signal dispositions and the mask, then execve(2); returns only by throwing. */
  execve(path: string, argv: readonly string[], env: readonly string[]): never;
  /** execveat(fd, "", AT_EMPTY_PATH) after the same signal reset. */
  fexecve(fd: number, argv: readonly string[], env: readonly string[]): never;
  spawn(opts: SpawnOptions): number;
  /**
   * Runs `job` in a child process made by clone(`flags` | CLONE_VM | CLONE_VFORK) that shares this
   * process's memory until it execs the job's target (ffi/clone_child.ts; x86_64 only). Blocks until the
   * child has exec'd or died. The job must only make synchronous calls. With `cgroupFd` (a cgroup v2
   * directory) the child is made by clone3 with CLONE_INTO_CGROUP, born in that cgroup; a kernel that
   * refuses it throws (SyscallError "clone3"), and the caller may try again without.
   */
  runInChild(flags: number, job: () => ExecTarget, cgroupFd?: number): ChildStart;
  /**
   * runInChild in two steps: a first child (clone `flags`) runs `prepare`, then runs `job` in a child of
   * its own made with CLONE_PARENT (the caller's child all the same), and exits; the caller gets the
   * job's ChildStart. For namespaces only a child can make for its children (a pid namespace owned by a
   * joined user namespace).
   */
  runInGrandchild(flags: number, prepare: () => void, job: () => ExecTarget): ChildStart;
  /**
   * Starts a child in new namespaces `flags` that only waits (libc pause, no CLONE_VM, ffi/holder.ts), so
   * the caller can write its uid/gid maps and open its /proc/PID/ns files; returns its pid. The caller
   * kills (SIGKILL) and reaps it.
   */
  cloneHolder(flags: number): number;
  /**
   * Starts a map writer: a thread of this process (ffi/map_writer.ts) that runs while the main thread
   * sleeps in a vfork clone. For each host pid read as a line from the pipe end `request` it writes
   * /proc/PID/uid_map, setgroups (when `maps.setgroups` is set) and gid_map, and answers `ok` or
   * `error: …` as a line on the pipe end `answer`, until EOF on `request`. The caller keeps and closes
   * both fds; the returned function ends the thread. `onError` hears of a thread that failed to start.
   */
  startMapWriter(
    request: number,
    answer: number,
    maps: IdMaps,
    onError: (message: string) => void,
  ): () => void;
  /** ptrace(PTRACE_TRACEME): the parent traces the caller, so its next execve stops it (SIGTRAP). */
  ptraceTraceMe(): void;
  /** ptrace(PTRACE_SETOPTIONS, pid, 0, options) on a stopped tracee. */
  ptraceSetOptions(pid: number, options: number): void;
  /** ptrace(PTRACE_DETACH, pid, 0, sig): lets a stopped tracee go on, delivering `sig` (0: none). */
  ptraceDetach(pid: number, sig: number): void;
  seccompLoad(filter: Uint8Array, flags: number): void;
}

/** Unix socket calls. */
export interface SocketCalls {
  socket(domain: number, type: number, protocol: number): number;
  socketpair(type: number): [number, number];
  /** Binds a unix socket: a path, or an abstract name starting with "@" (written as a leading NUL). */
  bind(fd: number, address: string): void;
  connect(fd: number, address: string): void;
  listen(fd: number, backlog: number): void;
  /** accept4(2); null on EAGAIN. */
  accept4(fd: number, flags: number): number | null;
  /** sendmsg(2) with optional SCM_RIGHTS fds; returns bytes sent. */
  sendmsg(fd: number, data: Uint8Array, fds?: readonly number[], flags?: number): number;
  /** recvmsg(2) taking up to `maxFds` fds; null on EAGAIN. */
  recvmsg(fd: number, buf: Uint8Array, maxFds: number, flags?: number): Received | null;
  peerCred(fd: number): PeerCred;
  /**
   * Brings the network interface `name` of the caller's network namespace up (IFF_UP through
   * SIOCGIFFLAGS/SIOCSIFFLAGS on an AF_INET datagram socket), as runtimes do for `lo` in a new namespace.
   */
  linkUp(name: string): void;
  shutdown(fd: number, how: number): void;
}

/** epoll, the one waiter of an event loop. */
export interface EpollCalls {
  /** ppoll(2) on one fd from the calling thread: the revents, or 0 when `timeoutMs` passed first. */
  pollOne(fd: number, events: number, timeoutMs: number): number;
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number): void;
  /** Waits on a blocking-pool thread; returns [fd, events] pairs. */
  epollWait(epfd: number, max: number, timeoutMs: number): Promise<Array<[number, number]>>;
}

/** One eBPF instruction (struct bpf_insn; ffi/linux_bpf.ts encodes it). */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** bpf(2), for cgroup v2 device control. */
export interface BpfCalls {
  /** BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program; the program's fd (CLOEXEC). */
  bpfLoadDeviceFilter(insns: readonly BpfInsn[]): number;
  /** BPF_PROG_ATTACH as BPF_CGROUP_DEVICE to the cgroup directory `cgroupFd`, replacing any earlier one. */
  bpfAttachDeviceFilter(progFd: number, cgroupFd: number): void;
}

/** What readDir lists: a name and whether it is a directory. */
export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

/**
 * Whole files and directories by path (ffi/linux_files.ts, on Deno's synchronous file APIs): the files
 * around the container (state records, logs, /proc readers, boot's chroot). A failure is a SyscallError
 * naming the call and the path (`readfile /x: ENOENT`), as for any other call.
 */
export interface FileCalls {
  readFile(path: string): Uint8Array;
  readTextFile(path: string): string;
  /** Writes `data` to `path`, created with `mode` (default 0o666 & ~umask); `createNew` fails on EEXIST. */
  writeFile(path: string, data: Uint8Array | string, opts?: { mode?: number; createNew?: boolean }): void;
  readLink(path: string): string;
  /** lstat(2)'s file type at `path`; null when nothing is there (ENOENT). */
  fileType(path: string): "file" | "dir" | "symlink" | "other" | null;
  /** mkdir(2), of every missing parent too with `recursive`. */
  mkdir(path: string, opts?: { recursive?: boolean; mode?: number }): void;
  readDir(path: string): DirEntry[];
  /** unlink(2) or rmdir(2); a whole tree with `recursive`. */
  remove(path: string, opts?: { recursive?: boolean }): void;
  rename(from: string, to: string): void;
  symlink(target: string, path: string): void;
  copyFile(from: string, to: string): void;
}

/**
 * Terminal calls by meaning (each one ioctl, ffi/semantic.ts): no caller passes a request number or lays
 * out a struct.
 */
export interface TtyCalls {
  /** ioctl(TIOCSPTLCK, 0): unlocks the slave of the pty master `master`. */
  unlockPty(master: number): void;
  /** ioctl(TIOCGPTN): the number N of the slave /dev/pts/N of `master`. */
  ptyNumber(master: number): number;
  /** ioctl(TIOCGPTPEER, flags): opens the slave of `master` without a path lookup; the new fd. */
  openPtyPeer(master: number, flags: number): number;
  /** ioctl(TIOCSWINSZ): sets the window size of the terminal `fd`. */
  setWindowSize(fd: number, rows: number, cols: number): void;
  /** ioctl(TIOCSCTTY, 0): makes the terminal `fd` the caller's controlling tty. */
  setControllingTty(fd: number): void;
}

/** Process attributes and capability sets by meaning (each one prctl, ffi/semantic.ts). */
export interface ProcCtlCalls {
  /** PR_SET_PDEATHSIG: the signal the caller gets when its parent dies (0: none). */
  setParentDeathSignal(signo: number): void;
  /** PR_SET_DUMPABLE: whether others of the same uid may ptrace the caller and open its /proc files. */
  setDumpable(dumpable: boolean): void;
  /** PR_SET_KEEPCAPS: whether the permitted set survives a switch away from uid 0. */
  setKeepCaps(keep: boolean): void;
  /** PR_SET_NO_NEW_PRIVS: execve can no longer grant privileges (set-id bits, file capabilities). */
  setNoNewPrivs(): void;
  /** PR_CAPBSET_DROP: removes capability `cap` from the caller's bounding set. */
  dropBoundingCap(cap: number): void;
  /** PR_CAP_AMBIENT_RAISE: adds `cap` (permitted and inheritable already) to the ambient set. */
  raiseAmbientCap(cap: number): void;
  /** PR_CAP_AMBIENT_LOWER: removes `cap` from the ambient set. */
  lowerAmbientCap(cap: number): void;
  /** PR_CAP_AMBIENT_CLEAR_ALL: empties the ambient set. */
  clearAmbientCaps(): void;
}

/** Descriptor flags by meaning (each one fcntl, or two, ffi/semantic.ts). */
export interface FdCtlCalls {
  /** F_GETFL, F_SETFL: adds O_NONBLOCK to the file status flags of `fd`. */
  setNonblocking(fd: number): void;
  /** F_DUPFD_CLOEXEC: a CLOEXEC copy of `fd` at the lowest free number not below `min`. */
  dupAtLeast(fd: number, min: number): number;
  /** F_SETFD 0: `fd` stays open across execve. */
  keepOnExec(fd: number): void;
}

/** The calls by meaning, each made of raw calls of the Kernel (ffi/semantic.ts writes them once). */
export interface SemanticCalls extends TtyCalls, ProcCtlCalls, FdCtlCalls {}

/** The raw calls: what ffi/linux*.ts implement against libc, and what a fake answers. */
export interface RawKernel extends FsCalls, FileCalls, ProcCalls, SocketCalls, EpollCalls, BpfCalls {}

/** Everything runts asks of the kernel. */
export interface Kernel extends RawKernel, SemanticCalls {}
