/**
 * The plan kernel's mount calls: mount(2), open_tree/move_mount, mount_setattr, umount2, pivot_root and
 * chroot change only the modelled mount trees (vfs.ts), and are recorded with readable flags.
 */
import { Errno, MS, O, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { FsCalls } from "../../ffi/kernel.ts";
import { mountFlagNames, PER_MOUNT } from "./describe.ts";
import type { FdObj, PlanState } from "./state.ts";
import { attach, cloneTree, descend, kind, type Loc, Mount, nodeAt, resolve, Superblock } from "./vfs.ts";

/** /proc/self/fd/N: the way init names an fd to mount(2) and readlink. */
export const MAGIC_FD = /^\/proc\/(?:self|thread-self)\/fd\/(\d+)$/;

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

/** The mount calls of the plan kernel. */
export function mountCalls(s: PlanState): Partial<FsCalls> {
  return {
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
  };
}
