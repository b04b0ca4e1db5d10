/**
 * The plan kernel's mount calls: mount(2), open_tree/move_mount, mount_setattr (idmapped mounts too),
 * umount2, pivot_root and chroot change only the modelled mount trees (vfs.ts), and are recorded with
 * readable flags. Each is refused (EPERM) where a user namespace may not make it (kernel_userns.ts).
 */
import { Errno, MOUNT_ATTR, MS, O, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { FsCalls } from "../../ffi/kernel.ts";
import type { LinuxIDMapping } from "../specutils/spec.ts";
import { mountFlagNames, PER_MOUNT } from "./describe.ts";
import { checkMount } from "./kernel_userns.ts";
import type { FdObj, PlanState } from "./state.ts";
import {
  attach,
  cloneTree,
  descend,
  hostPath,
  kind,
  type Loc,
  Mount,
  nodeAt,
  resolve,
  Superblock,
} from "./vfs.ts";

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

let hostMounts: Array<{ mountpoint: string; fstype: string }> | undefined;

/** The type of the host file system that holds host path `path` (read from /proc/self/mountinfo). */
function hostFsType(path: string): string {
  hostMounts ??= Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) => l.includes(" - "))
    .map((l) => ({
      mountpoint: l.split(" ")[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))),
      fstype: l.slice(l.indexOf(" - ") + 3).split(" ")[0],
    }))
    .sort((a, b) => b.mountpoint.length - a.mountpoint.length);
  const within = (mp: string) => mp === "/" || path === mp || path.startsWith(mp + "/");
  return hostMounts.find((m) => within(m.mountpoint))?.fstype ?? "";
}

/** File systems that support idmapped mounts (FS_ALLOW_IDMAP, as of Linux 6.x; tmpfs since 6.3). */
const IDMAP_FS = new Set([
  "ext2",
  "ext3",
  "ext4",
  "xfs",
  "btrfs",
  "vfat",
  "msdos",
  "f2fs",
  "tmpfs",
  "overlay",
  "squashfs",
  "erofs",
  "ntfs3",
  "ceph",
  "hugetlbfs",
  "zfs",
]);

/** The file-system type a mount shows (the host's own for a place of the host). */
function realFsType(m: Mount): string {
  return m.sb.backing !== null ? hostFsType(hostPath(m.sb.backing, m.root)) : m.sb.fstype;
}

/** `m` and every mount below it. */
function subtree(m: Mount): Mount[] {
  return [m, ...[...m.children.values()].flatMap(subtree)];
}

const ATTR_FLAGS: Array<[number, number]> = [
  [MOUNT_ATTR.RDONLY, MS.RDONLY],
  [MOUNT_ATTR.NOSUID, MS.NOSUID],
  [MOUNT_ATTR.NODEV, MS.NODEV],
  [MOUNT_ATTR.NOEXEC, MS.NOEXEC],
];

/**
 * The maps MOUNT_ATTR_IDMAP with user namespace fd `usernsFd` gives `mounts` (the first is the one
 * named), or the kernel's refusal: only a detached mount, not idmapped yet, of a file system that
 * supports it, with a user namespace other than the initial one.
 */
function idmapOf(s: PlanState, mounts: Mount[], usernsFd: number | undefined, arg: string): Mount["idmap"] {
  const refusal = (errno: number) => new SyscallError("mount_setattr", arg, errno);
  const o = s.fd(usernsFd ?? -1, "mount_setattr");
  if (o.kind !== "ns" || o.type !== "user") throw refusal(Errno.EINVAL);
  const u = s.users.get(o.id);
  if (!u || u.parent === null) throw refusal(Errno.EPERM);
  if (mounts[0].parent !== null) throw refusal(Errno.EINVAL);
  for (const m of mounts) {
    if (m.idmap) throw refusal(Errno.EPERM);
    if (!IDMAP_FS.has(realFsType(m))) throw refusal(Errno.EINVAL);
  }
  return { uids: u.uidMap ?? [], gids: u.gidMap ?? [] };
}

/** mount(8)-style options of a mount, "idmapped" included. */
function mountOpts(m: Mount): string {
  const all = [...mountFlagNames(m.flags), ...(m.idmap ? ["idmapped"] : [])];
  return all.length ? ` (${all.join(", ")})` : "";
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
      const arg = `${source} on ${target}`;
      const fresh = !(flags & (MS.REMOUNT | MS.BIND | MS.MOVE)) &&
        !(!fstype && flags & (MS.SHARED | MS.SLAVE | MS.PRIVATE | MS.UNBINDABLE));
      if (fresh && !knownFsTypes().has(fstype)) throw new SyscallError("mount", arg, Errno.ENODEV);
      checkMount(s, "mount", arg, fresh ? fstype : undefined);
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
      checkMount(s, "umount2", target);
      const m = at.mount;
      if (target !== "." && at.rel === m.root && m.parent) {
        const p = m.parent;
        p.mount.children.delete(p.rel);
        s.record("umount", `unmount ${s.describe(p)} (MNT_DETACH)`, `umount:${s.describe(p)}`);
        return;
      }
      s.record("umount", 'detach the old root (umount2 ".", MNT_DETACH)', "umount:old-root");
    },
    pivotRoot(newRoot, putOld) {
      checkMount(s, "pivot_root", `${newRoot} ${putOld}`);
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
      checkMount(s, "open_tree", `fd ${fd}`);
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
      checkMount(s, "move_mount", `fd ${treeFd}`);
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
        s.record("bind", `bind ${source} on ${where}${mountOpts(tree)}`, `mount:${where}`);
      }
    },
    mountSetattr(fd, recursive, set, clr, usernsFd) {
      const loc = s.loc(fd, "mount_setattr");
      checkMount(s, "mount_setattr", `fd ${fd}`);
      const mounts = recursive ? subtree(loc.mount) : [loc.mount];
      const idmap = set & MOUNT_ATTR.IDMAP ? idmapOf(s, mounts, usernsFd, `fd ${fd}`) : null;
      for (const m of mounts) {
        for (const [attr, ms] of ATTR_FLAGS) {
          if (set & attr) m.flags |= ms;
          if (clr & attr) m.flags &= ~ms;
        }
        if (idmap) m.idmap = idmap;
      }
      const below = recursive ? " (recursive)" : "";
      if (idmap) {
        const text = (m: LinuxIDMapping[]) =>
          JSON.stringify(m.map((r) => `${r.containerID} ${r.hostID} ${r.size}`).join(", "));
        s.record(
          "idmap",
          `idmap ${loc.mount.source}: files show their owners through uid map ${text(idmap.uids)}, ` +
            `gid map ${text(idmap.gids)}${below}`,
          `idmap:${loc.mount.source}`,
        );
      }
      const names = (bits: number) =>
        ATTR_FLAGS.filter(([a]) => bits & a).map(([, ms]) => mountFlagNames(ms)[0]);
      const what = [
        ...names(set).map((n) => `set ${n}`),
        ...names(clr).map((n) => `clear ${n}`),
      ];
      const other = (set | clr) &
        ~(MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.IDMAP);
      if (other) what.push(`attributes 0x${set.toString(16)}/0x${clr.toString(16)}`);
      if (!what.length) return;
      s.record(
        "mount_setattr",
        `mount_setattr ${s.describe(loc)}: ${what.join(", ")}${below}`,
        `mount_setattr:${s.describe(loc)}`,
      );
    },
  };
}
