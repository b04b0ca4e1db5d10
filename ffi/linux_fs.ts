/** Real filesystem calls (see FsCalls). */
import { AT, MS, TIOC } from "./consts.ts";
import type { FsCalls } from "./kernel.ts";
import { rawSyscall, sys } from "./libc.ts";
import { addr, cstr, fromCstr } from "./mem.ts";
import { SyscallError } from "./error.ts";
import {
  CLOSE_RANGE_FLAGS,
  fcntlArgs,
  flagsOf,
  FLOCK_OPS,
  IOCTL_REQUESTS,
  MOUNT_ATTRS,
  MOUNT_FLAGS,
  nameOf,
  OPEN_FLAGS,
  openFlags,
  UMOUNT_FLAGS,
} from "./names.ts";

const O_CLOEXEC = 0o2000000;

function fstat(fd: number): DataView {
  const st = new Uint8Array(256);
  sys("newfstatat", `fd ${fd}`, fd, addr(cstr("")), addr(st), AT.EMPTY_PATH);
  return new DataView(st.buffer);
}

const fdArg = (fd: number) => (fd === AT.FDCWD ? "" : `(dirfd ${fd}) `);

/** The real filesystem calls. */
export const linuxFs: FsCalls = {
  mount(source, target, fstype, flags, data) {
    const what = flags & MS.BIND ? `${source} on ${target}` : `${source || fstype} on ${target}`;
    const opts = [...(flags ? [flagsOf(MOUNT_FLAGS, flags)] : []), ...(data ? [data] : [])];
    const d = data ? cstr(data) : null;
    sys(
      "mount",
      opts.length ? `${what} (${opts.join(", ")})` : what,
      addr(cstr(source)),
      addr(cstr(target)),
      addr(cstr(fstype)),
      flags,
      addr(d),
    );
  },
  umount2(target, flags) {
    sys("umount2", flags ? `${target} (${flagsOf(UMOUNT_FLAGS, flags)})` : target, addr(cstr(target)), flags);
  },
  pivotRoot(newRoot, putOld) {
    sys("pivot_root", `${newRoot} ${putOld}`, addr(cstr(newRoot)), addr(cstr(putOld)));
  },
  chroot(path) {
    sys("chroot", path, addr(cstr(path)));
  },
  chdir(path) {
    sys("chdir", path, addr(cstr(path)));
  },
  fchdir(fd) {
    sys("fchdir", `fd ${fd}`, fd);
  },
  open(path, flags, mode = 0, dirfd = AT.FDCWD) {
    return sys("openat", fdArg(dirfd) + path, dirfd, addr(cstr(path)), flags, mode);
  },
  openat2(dirfd, path, flags, mode, resolve) {
    const how = new BigUint64Array([BigInt(flags), BigInt(mode), BigInt(resolve)]);
    const p = cstr(path);
    // With RESOLVE_IN_ROOT or RESOLVE_BENEATH, a rename or mount anywhere on the host during the lookup
    // makes the kernel answer EAGAIN (it cannot prove the walk stayed inside): ask again, a few times.
    for (let attempt = 0;; attempt++) {
      const r = rawSyscall("openat2", dirfd, addr(p), addr(how), 24);
      if (r >= 0n) return Number(r);
      if ((r === -11n && attempt < 32) || r === -4n) continue;
      throw new SyscallError("openat2", fdArg(dirfd) + path, Number(-r));
    }
  },
  mkdirat(dirfd, path, mode) {
    sys("mkdirat", fdArg(dirfd) + path, dirfd, addr(cstr(path)), mode);
  },
  mknodat(dirfd, path, mode, dev) {
    sys("mknodat", fdArg(dirfd) + path, dirfd, addr(cstr(path)), mode, dev);
  },
  symlinkat(target, dirfd, path) {
    sys("symlinkat", `${fdArg(dirfd)}${path} -> ${target}`, addr(cstr(target)), dirfd, addr(cstr(path)));
  },
  unlinkat(dirfd, path, flags) {
    sys("unlinkat", fdArg(dirfd) + path, dirfd, addr(cstr(path)), flags);
  },
  readlinkat(dirfd, path) {
    const buf = new Uint8Array(4096);
    const n = sys("readlinkat", fdArg(dirfd) + path, dirfd, addr(cstr(path)), addr(buf), buf.length);
    return fromCstr(buf, n);
  },
  fchown(fd, uid, gid) {
    sys("fchown", `fd ${fd} to ${uid}:${gid}`, fd, uid, gid);
  },
  fchownat(dirfd, path, uid, gid, flags) {
    sys("fchownat", `${fdArg(dirfd)}${path} to ${uid}:${gid}`, dirfd, addr(cstr(path)), uid, gid, flags);
  },
  fchmod(fd, mode) {
    sys("fchmod", `fd ${fd} to ${mode.toString(8)}`, fd, mode);
  },
  close(fd) {
    // Linux releases the fd even when close reports EINTR, so no retry.
    const r = rawSyscall("close", fd);
    if (r < 0n && r !== -4n) throw new SyscallError("close", `fd ${fd}`, Number(-r));
  },
  dup3(oldfd, newfd, flags) {
    return sys("dup3", `(${oldfd}, ${newfd}, ${flagsOf(OPEN_FLAGS, flags)})`, oldfd, newfd, flags);
  },
  fcntl(fd, cmd, arg = 0) {
    return sys("fcntl", `(${fd}, ${fcntlArgs(cmd, arg)})`, fd, cmd, arg);
  },
  pipe2(flags) {
    const fds = new Int32Array(2);
    sys("pipe2", `(${flagsOf(OPEN_FLAGS, flags)})`, addr(fds), flags);
    return [fds[0], fds[1]];
  },
  read(fd, buf) {
    return sys("read", `fd ${fd}`, fd, addr(buf), buf.length);
  },
  write(fd, buf) {
    return sys("write", `fd ${fd}`, fd, addr(buf), buf.length);
  },
  lseek(fd, offset, whence) {
    return sys("lseek", `fd ${fd}`, fd, offset, whence);
  },
  closeRange(first, last, flags) {
    sys(
      "close_range",
      `(${first}, ${last >>> 0}, ${flagsOf(CLOSE_RANGE_FLAGS, flags)})`,
      first,
      last >>> 0,
      flags,
    );
  },
  umask(mask) {
    return sys("umask", mask.toString(8), mask);
  },
  ioctl(fd, request, arg) {
    // A value argument is shown (TIOCGPTPEER's are open flags); a buffer is not.
    let value = "";
    if (typeof arg === "bigint" && arg !== 0n) {
      value = `, ${request === TIOC.GPTPEER ? openFlags(Number(arg)) : arg}`;
    }
    return sys(
      "ioctl",
      `(${fd}, ${nameOf(IOCTL_REQUESTS, request)}${value})`,
      fd,
      request,
      typeof arg === "bigint" ? arg : addr(arg),
    );
  },
  flock(fd, op) {
    sys("flock", `(${fd}, ${flagsOf(FLOCK_OPS, op)})`, fd, op);
  },
  fstatMode(fd) {
    // struct stat: st_mode is at offset 24 on x86_64 and 16 on aarch64.
    return fstat(fd).getUint32(Deno.build.arch === "aarch64" ? 16 : 24, true);
  },
  fileId(fd) {
    const st = fstat(fd);
    return `${st.getBigUint64(0, true)}:${st.getBigUint64(8, true)}`;
  },
  cloneMount(fd, recursive) {
    const flags = 1 /* OPEN_TREE_CLONE */ | AT.EMPTY_PATH | O_CLOEXEC |
      (recursive ? 0x8000 /* AT_RECURSIVE */ : 0);
    return sys("open_tree", `fd ${fd}`, fd, addr(cstr("")), flags);
  },
  attachMount(treeFd, targetFd) {
    // MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH: both ends are fds.
    sys(
      "move_mount",
      `fd ${treeFd} onto fd ${targetFd}`,
      treeFd,
      addr(cstr("")),
      targetFd,
      addr(cstr("")),
      0x4 | 0x40,
    );
  },
  memfdCreate(name, flags) {
    return sys("memfd_create", name, addr(cstr(name)), flags);
  },
  mountSetattr(fd, recursive, attrSet, attrClr, usernsFd = 0) {
    // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
    const attr = new BigUint64Array([BigInt(attrSet), BigInt(attrClr), 0n, BigInt(usernsFd)]);
    const flags = AT.EMPTY_PATH | (recursive ? 0x8000 /* AT_RECURSIVE */ : 0);
    sys(
      "mount_setattr",
      `(${fd}, ${recursive ? "AT_RECURSIVE" : "0"}, set ${flagsOf(MOUNT_ATTRS, attrSet)}, clear ${
        flagsOf(MOUNT_ATTRS, attrClr)
      }${usernsFd ? `, userns fd ${usernsFd}` : ""})`,
      fd,
      addr(cstr("")),
      flags,
      addr(attr),
      attr.byteLength,
    );
  },
};
