/**
 * The plan kernel's file-system calls: opens resolve in the modelled file systems (vfs.ts) and never open a
 * host file for writing; mounts, directories, nodes and writes change only the model, and are recorded.
 */
import { AT, Errno, MS, O, RESOLVE, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { FsCalls } from "../../ffi/kernel.ts";
import { hierarchyOf } from "./cgroupfiles.ts";
import { mountFlagNames, octal, PER_MOUNT } from "./describe.ts";
import type { FdObj, PlanState } from "./state.ts";
import {
  attach,
  cloneTree,
  descend,
  kind,
  type Loc,
  Mount,
  nodeAt,
  pathFrom,
  resolve,
  Superblock,
  type VNode,
} from "./vfs.ts";
import { openMagic, readFrom, writeTo } from "./kernel_io.ts";

const MAGIC_FD = /^\/proc\/(?:self|thread-self)\/fd\/(\d+)$/;
const WRITE = O.WRONLY | O.RDWR | O.CREAT | O.TRUNC | O.APPEND;

function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : p.slice(0, i) || "/";
}

function basename(p: string): string {
  return p.replace(/\/+$/, "").split("/").pop() ?? "";
}

let known: Set<string> | undefined;

/** The file-system types the host kernel has (/proc/filesystems); a mount of another fails with ENODEV. */
function knownFsTypes(): Set<string> {
  known ??= new Set(
    Deno.readTextFileSync("/proc/filesystems").split("\n").map((l) => l.trim().split(/\s+/).pop() ?? ""),
  );
  return known;
}

/** The file systems a mount(2) of `fstype` shows: a host directory (peeked at) or an empty one. */
function newMount(s: PlanState, source: string, fstype: string, flags: number, data: string): Mount {
  const hostDir = (dir: string) =>
    new Mount(s.hostSb, dir.replace(/^\/+/, ""), flags & PER_MOUNT, source, data, fstype);
  if (fstype === "proc") return hostDir("/proc");
  if (fstype === "sysfs") return hostDir("/sys");
  if (fstype === "cgroup2") {
    const u = s.ctx.cgroupMounts.find((h) => h.version === 2);
    if (u) return hostDir(u.mountpoint);
  }
  if (fstype === "cgroup") {
    const want = data.split(",").filter((o) => o !== "none");
    const h = s.ctx.cgroupMounts.find((x) => x.version === 1 && want.every((c) => x.controllers.includes(c)));
    if (h) return hostDir(h.mountpoint);
  }
  const sb = new Superblock(fstype, null);
  if (fstype === "devpts") sb.overlay.set("ptmx", { mode: S_IF.CHR | 0o666, rdev: (5n << 8n) | 2n });
  return new Mount(sb, "", flags & PER_MOUNT, source, data);
}

/** Where a mount(2) path argument points: an fd's place for /proc/self/fd/N, else a lookup. */
function place(s: PlanState, path: string, call: string): Loc {
  const m = MAGIC_FD.exec(path);
  if (m) return s.loc(Number(m[1]), call);
  return resolve(path, s.walk(call, true));
}

function optsText(flags: number, data?: string): string {
  const all = [...mountFlagNames(flags), ...(data ? [data] : [])];
  return all.length ? ` (${all.join(", ")})` : "";
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
    mount(source, target, fstype, flags, data) {
      const at = descend(place(s, target, "mount"));
      const where = s.describe(at);
      if (flags & MS.REMOUNT) {
        at.mount.flags = flags & PER_MOUNT;
        s.record("remount", `remount ${where}${optsText(flags & ~MS.REMOUNT, data)}`, `remount:${where}`);
      } else if (flags & MS.BIND) {
        const src = place(s, source, "mount");
        const from = s.describe(src);
        const named = src.mount.sb === s.hostSb ? s.hostPathOf(src)! : from;
        // A bind keeps the source mount's flags; only a remount changes them.
        const m = cloneTree(src, (flags & MS.REC) !== 0, named);
        m.fstype = "bind";
        attach(m, at);
        const n = nodeAt(src);
        const isNull = n && kind(n) === S_IF.CHR && n.rdev === ((1n << 8n) | 3n);
        if (isNull && s.ctx.masked.has(where)) {
          s.record("mask", `mask ${where}: bind ${from} over it`, `mask:${where}`);
        } else if (from === where && s.ctx.readonly.has(where)) {
          s.record(
            "readonly",
            `read-only ${where}: bind it on itself${optsText(flags)}`,
            `readonly:${where}`,
          );
        } else {
          s.record("bind", `bind ${from} on ${where}${optsText(flags)}`, `mount:${where}`);
        }
      } else if (flags & MS.MOVE) {
        s.record("move", `move the mount at ${s.describe(place(s, source, "mount"))} to ${where}`);
      } else if (!fstype && flags & (MS.SHARED | MS.SLAVE | MS.PRIVATE | MS.UNBINDABLE)) {
        const kind = mountFlagNames(flags & (MS.SHARED | MS.SLAVE | MS.PRIVATE | MS.UNBINDABLE)).join(",");
        const name = `${flags & MS.REC ? "r" : ""}${kind}`;
        s.record("propagation", `make ${where} ${name} (mount propagation)`, `propagation:${where}`);
      } else {
        if (!knownFsTypes().has(fstype)) {
          throw new SyscallError("mount", `${source} on ${target}`, Errno.ENODEV);
        }
        attach(newMount(s, source, fstype, flags, data ?? ""), at);
        const src = source && source !== fstype ? ` (source ${source})` : "";
        if (fstype === "tmpfs" && flags & MS.RDONLY && s.ctx.masked.has(where)) {
          s.record("mask", `mask ${where}: an empty read-only tmpfs over it`, `mask:${where}`);
        } else {
          s.record("mount", `mount ${fstype} on ${where}${optsText(flags, data)}${src}`, `mount:${where}`);
        }
      }
    },
    umount2(target) {
      const at = place(s, target, "umount2");
      const m = at.mount;
      if (target !== "." && at.rel === m.root && m.parent) {
        const p = m.parent;
        p.mount.children.delete(p.rel);
        s.record("umount", `unmount ${s.describe(p)} (MNT_DETACH)`, `umount:${s.describe(p)}`);
        return;
      }
      s.record("umount", 'detach the old root (umount2 ".", MNT_DETACH)', "umount:old-root");
    },
    pivotRoot() {
      const to = s.describe(s.proc.cwd);
      s.proc.root = s.proc.cwd;
      s.record("pivot_root", `pivot_root into ${to}: the container's root becomes /`, "pivot_root");
    },
    chroot(path) {
      s.proc.root = resolve(path, s.walk("chroot", true));
      s.record("chroot", `chroot ${path}: the container's root becomes /`, "chroot");
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
      const n = nodeAt(resolve(path, s.walk("readlinkat", false, start)))!;
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
    cloneMount(fd, recursive) {
      const o = s.fd(fd, "open_tree");
      const loc = s.loc(fd, "open_tree");
      const tree = cloneTree(loc, recursive, s.hostPathOf(loc) ?? s.describe(loc));
      const treeLoc = { mount: tree, rel: tree.root };
      const copy: FdObj = { kind: "file", loc: treeLoc, flags: O.PATH, pos: 0 };
      if (o.kind === "file" && o.root) s.containerRoot = tree;
      if (tree.fstype === "host") tree.fstype = tree === s.containerRoot ? "rootfs" : "bind";
      const what = o.kind === "file" && o.root ? "the rootfs" : s.describe(loc);
      const fdn = s.alloc(copy);
      s.record(
        "open_tree",
        `detach a copy of ${what}${recursive ? " with its submounts" : ""}`,
        "open_tree",
        false,
      );
      return fdn;
    },
    attachMount(treeFd, targetFd) {
      const tree = s.loc(treeFd, "move_mount").mount;
      const at = s.loc(targetFd, "move_mount");
      const source = tree.sb.backing !== null
        ? s.hostPathOf({ mount: tree, rel: tree.root })
        : tree.sb.fstype;
      const where = s.describe(at);
      attach(tree, at);
      if (tree === s.containerRoot) {
        s.record(
          "bind",
          `attach the container root (${source}) at ${where}, in init's mount namespace`,
          "root",
        );
      } else {
        s.record("bind", `bind ${source} on ${where}${optsText(tree.flags)}`, `mount:${where}`);
      }
    },
    memfdCreate(name) {
      return s.alloc({ kind: "other", what: `memfd ${name}`, mode: S_IF.REG | 0o600 });
    },
    mountSetattr(fd, recursive, set, clr) {
      const loc = s.loc(fd, "mount_setattr");
      if (set & 1) loc.mount.flags |= MS.RDONLY;
      if (clr & 1) loc.mount.flags &= ~MS.RDONLY;
      const what = [set & 1 ? "set ro" : "", clr & 1 ? "clear ro" : ""].filter(Boolean).join(", ");
      s.record(
        "mount_setattr",
        `mount_setattr ${s.describe(loc)}: ${what || `attributes ${set}/${clr}`}${
          recursive ? " (recursive)" : ""
        }`,
        `mount_setattr:${s.describe(loc)}`,
      );
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
