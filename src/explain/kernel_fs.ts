/**
 * The plan kernel's file-system calls: opens resolve in the modelled file systems (vfs.ts) and never open a
 * host file for writing; mounts, directories, nodes and writes change only the model, and are recorded.
 */
import { AT, Errno, O, RESOLVE, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { FsCalls } from "../../ffi/kernel.ts";
import { hierarchyOf } from "./cgroupfiles.ts";
import { octal } from "./describe.ts";
import type { PlanState } from "./state.ts";
import { descend, kind, type Loc, nodeAt, pathFrom, resolve, type VNode } from "./vfs.ts";
import { openMagic, readFrom, writeTo } from "./kernel_io.ts";
import { MAGIC_FD, mountCalls } from "./kernel_mount.ts";
import { checkMknod } from "./kernel_userns.ts";

const SELF_LINK = /^\/proc\/(self|thread-self)$/;

const WRITE = O.WRONLY | O.RDWR | O.CREAT | O.TRUNC | O.APPEND;

function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : p.slice(0, i) || "/";
}

function basename(p: string): string {
  return p.replace(/\/+$/, "").split("/").pop() ?? "";
}

function openResolved(
  s: PlanState,
  path: string,
  flags: number,
  mode: number,
  walk: ReturnType<PlanState["walk"]>,
): number {
  let loc: Loc;
  try {
    loc = resolve(path, walk);
    if ((flags & O.CREAT) && (flags & O.EXCL)) throw new SyscallError(walk.call, path, Errno.EEXIST);
  } catch (e) {
    if (!(flags & O.CREAT) || !(e instanceof SyscallError) || e.errno !== Errno.ENOENT) throw e;
    const parent = descend(resolve(dirname(path), { ...walk, follow: true }));
    loc = descend({ mount: parent.mount, rel: joinName(parent.rel, basename(path)) });
    s.put(loc, { mode: S_IF.REG | (mode & ~s.proc.umask & 0o7777), fresh: true, content: "" });
    s.record(
      "create",
      `create file ${s.describe(loc)} (mode ${octal(mode & ~s.proc.umask)})`,
      `create:${s.describe(loc)}`,
    );
  }
  const n = nodeAt(loc)!;
  const t = kind(n);
  if ((flags & O.DIRECTORY) && t !== S_IF.DIR) throw new SyscallError(walk.call, path, Errno.ENOTDIR);
  if (t === 0o120000 && !(flags & O.PATH)) throw new SyscallError(walk.call, path, Errno.ELOOP);
  if ((flags & (O.WRONLY | O.RDWR)) && t === S_IF.DIR) throw new SyscallError(walk.call, path, Errno.EISDIR);
  const root = path === s.ctx.rootfs && walk.start === s.proc.cwd;
  const fd = s.alloc({ kind: "file", loc, flags, pos: 0, root });
  const how = flags & O.PATH ? "O_PATH" : flags & WRITE ? "for writing" : "for reading";
  s.record("open", `open ${s.describe(loc)} ${how} → fd ${fd}`, `open:${s.describe(loc)}`, false);
  return fd;
}

function joinName(rel: string, name: string): string {
  return rel === "" ? name : `${rel}/${name}`;
}

/** The child `name` of directory fd `dirfd` (or of the cwd), not following a last symlink. */
function childOf(s: PlanState, dirfd: number, name: string, call: string): Loc {
  const parent = descend(resolve(dirname(name), s.walk(call, true, s.loc(dirfd, call))));
  const n = nodeAt(parent);
  if (!n) throw new SyscallError(call, name, Errno.ENOENT);
  if (kind(n) !== S_IF.DIR) throw new SyscallError(call, name, Errno.ENOTDIR);
  return descend({ mount: parent.mount, rel: joinName(parent.rel, basename(name)) });
}

function create(s: PlanState, at: Loc, node: VNode, call: string, name: string): void {
  if (nodeAt(at)) throw new SyscallError(call, name, Errno.EEXIST);
  s.put(at, { ...node, fresh: true });
}

/** The file-system calls of the plan kernel. */
export function fsCalls(s: PlanState): Partial<FsCalls> {
  return {
    ...mountCalls(s),
    open(path, flags, mode = 0, dirfd = AT.FDCWD) {
      const magic = openMagic(s, path, flags);
      if (magic) return s.alloc(magic);
      const start = dirfd === AT.FDCWD ? s.proc.cwd : s.loc(dirfd, "openat");
      return openResolved(s, path, flags, mode, s.walk("openat", !(flags & O.NOFOLLOW), start));
    },
    openat2(dirfd, path, flags, mode, res) {
      const base = s.loc(dirfd, "openat2");
      const root = res & RESOLVE.IN_ROOT ? base : s.proc.root;
      return openResolved(s, path, flags, mode, s.walk("openat2", !(flags & O.NOFOLLOW), base, root));
    },
    chdir(path) {
      s.proc.cwd = descend(resolve(path, s.walk("chdir", true)));
      s.record("chdir", `chdir ${path}`, "chdir");
    },
    fchdir(fd) {
      s.proc.cwd = s.loc(fd, "fchdir");
      s.record("chdir", `chdir ${s.describe(s.proc.cwd)}`, "chdir");
    },
    mkdirat(dirfd, path, mode) {
      const at = childOf(s, dirfd, path, "mkdirat");
      const host = s.hostPathOf(at);
      const cgroup = host !== null && hierarchyOf(host, s.ctx.cgroupMounts) !== undefined &&
        at.mount.sb === s.hostSb;
      create(s, at, { mode: S_IF.DIR | (mode & ~s.proc.umask), cgroup }, "mkdirat", path);
      if (cgroup) s.record("cgroup", `cgroup: make ${host}`, `cgroup:${host}`);
      else {s.record(
          "mkdir",
          `mkdir ${s.describe(at)} (mode ${octal(mode & ~s.proc.umask)})`,
          `mkdir:${s.describe(at)}`,
        );}
    },
    mknodat(dirfd, name, mode, dev) {
      const at = childOf(s, dirfd, name, "mknodat");
      checkMknod(s, mode, name);
      create(s, at, { mode, rdev: dev }, "mknodat", name);
      const t = (mode & S_IF.FMT) === S_IF.BLK ? "b" : (mode & S_IF.FMT) === S_IF.FIFO ? "p" : "c";
      const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
      const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
      const where = s.describe(at);
      s.record("mknod", `mknod ${where} ${t} ${major}:${minor} (mode ${octal(mode)})`, `mknod:${where}`);
    },
    symlinkat(target, dirfd, name) {
      const at = childOf(s, dirfd, name, "symlinkat");
      create(s, at, { mode: 0o120777, target }, "symlinkat", name);
      s.record("symlink", `symlink ${s.describe(at)} → ${target}`, `symlink:${s.describe(at)}`);
    },
    unlinkat(dirfd, name, flags) {
      const at = childOf(s, dirfd, name, "unlinkat");
      const n = nodeAt(at);
      if (!n) throw new SyscallError("unlinkat", name, Errno.ENOENT);
      const where = s.hostPathOf(at) ?? s.describe(at);
      s.put(at, null);
      s.record(
        flags & AT.REMOVEDIR ? "rmdir" : "unlink",
        `${flags & AT.REMOVEDIR ? "rmdir" : "unlink"} ${where}`,
      );
    },
    readlinkat(dirfd, path) {
      const m = MAGIC_FD.exec(path);
      if (m) {
        const o = s.fd(Number(m[1]), "readlinkat");
        if (o.kind !== "file") return `anon_inode:[${o.kind}]`;
        return pathFrom(o.loc, s.proc.root) ?? "/";
      }
      const start = dirfd === AT.FDCWD ? s.proc.cwd : s.loc(dirfd, "readlinkat");
      const loc = resolve(path, s.walk("readlinkat", false, start));
      const self = SELF_LINK.exec(path);
      if (self) {
        // The pid in the pid namespace of the proc mount: the host's, or (a proc the plan mounted) init's.
        const pid = loc.mount.fstype === "proc" ? s.proc.pidInNs : s.proc.pid;
        return self[1] === "self" ? `${pid}` : `${pid}/task/${pid}`;
      }
      const n = nodeAt(loc)!;
      if (n.target === undefined) throw new SyscallError("readlinkat", path, Errno.EINVAL);
      return n.target;
    },
    fchownat(dirfd, path, uid, gid) {
      const at = childOf(s, dirfd, path, "fchownat");
      if (!nodeAt(at)) throw new SyscallError("fchownat", path, Errno.ENOENT);
      s.record("chown", `chown ${s.describe(at)} ${uid}:${gid}`, `chown:${s.describe(at)}`);
    },
    fchown(fd, uid, gid) {
      s.record("chown", `chown ${describeFd(s, fd)} ${uid}:${gid}`);
    },
    fchmod(fd, mode) {
      s.record("chmod", `chmod ${describeFd(s, fd)} ${octal(mode)}`);
    },
    close(fd) {
      s.fd(fd, "close");
      s.proc.fds.delete(fd);
    },
    dup3(oldfd, newfd) {
      s.proc.fds.set(newfd, s.fd(oldfd, "dup3"));
      s.record("fd", `dup3 fd ${oldfd} → ${newfd}`, "fd", false);
      return newfd;
    },
    fcntl(fd, cmd, arg = 0) {
      const o = s.fd(fd, "fcntl");
      return cmd === 1030 /* F_DUPFD_CLOEXEC */ ? s.alloc(o, arg) : 0;
    },
    pipe2() {
      const data: number[] = [];
      return [s.alloc({ kind: "pipe", data, end: "r" }), s.alloc({ kind: "pipe", data, end: "w" })];
    },
    read: (fd, buf) => readFrom(s, s.fd(fd, "read"), buf),
    write: (fd, buf) => writeTo(s, s.fd(fd, "write"), buf),
    lseek(fd, offset) {
      const o = s.fd(fd, "lseek");
      if (o.kind === "file" || o.kind === "special") o.pos = offset;
      return offset;
    },
    closeRange(first, last) {
      s.record("fd", `close_range ${first}..${last} (CLOEXEC)`, "fd", false);
    },
    umask(mask) {
      const old = s.proc.umask;
      s.proc.umask = mask;
      s.record("umask", `umask ${octal(mask)}`);
      return old;
    },
    fstatMode(fd) {
      const o = s.fd(fd, "fstat");
      if (o.kind === "file") return nodeAt(o.loc)?.mode ?? S_IF.REG;
      if (o.kind === "pipe") return S_IF.FIFO | 0o600;
      if (o.kind === "other") return o.mode;
      return S_IF.REG | 0o444;
    },
    flock() {},
    fileId(fd) {
      const o = s.fd(fd, "fstat");
      if (o.kind === "ns") return o.id;
      if (o.kind === "file") return `${o.loc.mount.sb.id}:${o.loc.rel}`;
      return `${o.kind}:${fd}`;
    },
    memfdCreate(name) {
      return s.alloc({ kind: "other", what: `memfd ${name}`, mode: S_IF.REG | 0o600 });
    },
    ioctl(fd, request, arg) {
      return ioctl(s, fd, request, arg);
    },
  };
}

/** A readable name for an open fd. */
export function describeFd(s: PlanState, fd: number): string {
  const o = s.proc.fds.get(fd);
  if (!o) return `fd ${fd}`;
  if (o.kind === "file") return s.describe(o.loc);
  if (o.kind === "ns") return o.path;
  if (o.kind === "special") return o.name;
  if (o.kind === "other") return o.what;
  return `a pipe (fd ${fd})`;
}

function ioctl(s: PlanState, fd: number, request: number, arg: bigint | Uint8Array): number {
  const o = s.fd(fd, "ioctl");
  if (request === 0x540e /* TIOCSCTTY */) {
    s.record("tty", `make ${describeFd(s, fd)} the controlling terminal (TIOCSCTTY)`, "tty");
    return 0;
  }
  if (request === 0x5441 /* TIOCGPTPEER */ && o.kind === "file") {
    const devpts = o.loc.mount.sb;
    let n = 0;
    while (devpts.overlay.has(String(n))) n++;
    const loc = { mount: o.loc.mount, rel: String(n) };
    devpts.overlay.set(loc.rel, { mode: S_IF.CHR | 0o620, rdev: (136n << 8n) | BigInt(n), fresh: true });
    s.record("tty", `allocate a pseudoterminal from ${s.describe(o.loc)}: ${s.describe(loc)}`, "tty");
    return s.alloc({ kind: "file", loc, flags: O.RDWR, pos: 0 });
  }
  void arg;
  s.record("fd", `ioctl ${describeFd(s, fd)} 0x${request.toString(16)}`, "ioctl", false);
  return 0;
}
