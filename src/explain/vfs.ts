/**
 * The file systems of an explain run, modelled without touching the host: a superblock is a host directory
 * that is only ever looked at (lstat, readlink, reads of regular files), or an empty file system (tmpfs,
 * mqueue, devpts), plus an overlay of what the plan made in it; mounts stack superblocks on locations. Path
 * resolution follows the kernel's rules closely enough for what init does: symlinks (absolute ones from the
 * root, and RESOLVE_IN_ROOT), "..", stacked mounts, ENOENT, ENOTDIR and ELOOP.
 */
import { Errno, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { LinuxIDMapping } from "../specutils/spec.ts";

/** A file the plan created or changed. */
export interface VNode {
  /** File type bits (S_IF.*) and permission bits. */
  mode: number;
  /** A symlink's target. */
  target?: string;
  /** A device node's numbers. */
  rdev?: bigint;
  /** What reading it returns (a written cgroup or proc file, a file the plan made); else the host file. */
  content?: string;
  /** The host file it shows, when it is one (read-only peeks). */
  host?: string;
  /** Made by the plan: nothing of the host's is below it. */
  fresh?: boolean;
  /** A cgroup directory the plan made: its files are answered as a fresh cgroup's (cgroupfiles.ts). */
  cgroup?: boolean;
}

let nextSb = 1;

/** One file system. */
export class Superblock {
  readonly id = nextSb++;
  /** rel path → what the plan made there (null: removed). */
  readonly overlay = new Map<string, VNode | null>();
  /**
   * `fstype`, and the host directory whose content it shows (null: an empty file system). `synth`
   * answers names the overlay and the host do not know (a fresh cgroup's files).
   */
  constructor(
    readonly fstype: string,
    readonly backing: string | null,
    readonly synth?: (rel: string) => VNode | null,
  ) {}
}

let nextMount = 1;

/** One mount: a superblock seen from `root` (a rel path inside it). */
export class Mount {
  readonly id = nextMount++;
  /** rel path inside sb → the mount on top of it. */
  readonly children = new Map<string, Mount>();
  parent: Loc | null = null;
  /** The maps file owners show through (an idmapped mount), or null. */
  idmap: { uids: LinuxIDMapping[]; gids: LinuxIDMapping[] } | null = null;
  constructor(
    readonly sb: Superblock,
    readonly root: string,
    public flags: number,
    readonly source: string,
    readonly data = "",
    /** What mountinfo would call it: the fstype of a new mount, "bind" for a bind mount. */
    public fstype: string = sb.fstype,
  ) {}
}

/** A place: a mount and a rel path inside its superblock ("" is the superblock's root). */
export interface Loc {
  mount: Mount;
  rel: string;
}

/** Joins rel paths. */
export function joinRel(a: string, b: string): string {
  return a === "" ? b : b === "" ? a : `${a}/${b}`;
}

/** The host path of `rel` in a superblock backed by `backing`. */
export function hostPath(backing: string, rel: string): string {
  if (rel === "") return backing;
  return backing === "/" ? `/${rel}` : `${backing}/${rel}`;
}

/** The topmost mount stacked at `loc`, entered at its root. */
export function descend(loc: Loc): Loc {
  let cur = loc;
  for (let m = cur.mount.children.get(cur.rel); m; m = cur.mount.children.get(cur.rel)) {
    cur = { mount: m, rel: m.root };
  }
  return cur;
}

function typeOf(info: Deno.FileInfo): number {
  if (info.isSymlink) return 0o120000;
  if (info.isDirectory) return S_IF.DIR;
  if (info.isFile) return S_IF.REG;
  if (info.isCharDevice) return S_IF.CHR;
  if (info.isBlockDevice) return S_IF.BLK;
  if (info.isFifo) return S_IF.FIFO;
  if (info.isSocket) return S_IF.SOCK;
  return S_IF.REG;
}

/** A host file as a node, or null when it does not exist. Only lstat and readlink: nothing changes. */
export function hostNode(path: string): VNode | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return null;
  }
  const mode = typeOf(info) | ((info.mode ?? 0o644) & 0o7777);
  const node: VNode = { mode, host: path };
  if (info.isSymlink) node.target = Deno.readLinkSync(path);
  if (info.isCharDevice || info.isBlockDevice) node.rdev = BigInt(info.rdev ?? 0);
  return node;
}

/** The node at `loc`, or null when nothing is there. */
export function nodeAt(loc: Loc): VNode | null {
  const sb = loc.mount.sb;
  const made = sb.overlay.get(loc.rel);
  if (made !== undefined) return made;
  // Below a directory the plan made (or removed) there is nothing of the host's.
  for (let p = parentRel(loc.rel); p !== null; p = parentRel(p)) {
    const up = sb.overlay.get(p);
    if (up === null) return null;
    if (up?.fresh) return p === parentRel(loc.rel) && up.cgroup ? sb.synth?.(loc.rel) ?? null : null;
  }
  if (sb.backing === null) return loc.rel === "" ? { mode: S_IF.DIR | 0o755 } : null;
  return hostNode(hostPath(sb.backing, loc.rel));
}

function parentRel(rel: string): string | null {
  if (rel === "") return null;
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

/** The type bits of a node. */
export function kind(n: VNode): number {
  return n.mode & S_IF.FMT;
}

const SYMLINK = 0o120000;

/** How to resolve one path. */
export interface Walk {
  /** Where a relative path starts. */
  start: Loc;
  /** Where "/" and absolute symlinks go, and what ".." never climbs above. */
  root: Loc;
  /** Follow a symlink in the last component. */
  follow: boolean;
  /** For messages. */
  call: string;
}

/** Resolves `path`; throws SyscallError ENOENT, ENOTDIR or ELOOP as the kernel would. */
export function resolve(path: string, w: Walk): Loc {
  const fail = (errno: number): never => {
    throw new SyscallError(w.call, path, errno);
  };
  let stack: Loc[] = path.startsWith("/") ? [w.root] : [w.start];
  const queue = path.split("/");
  let hops = 0;
  while (queue.length) {
    const comp = queue.shift()!;
    if (comp === "" || comp === ".") continue;
    if (comp === "..") {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const cur = stack[stack.length - 1];
    const here = nodeAt(cur);
    if (!here) fail(Errno.ENOENT);
    if (kind(here!) !== S_IF.DIR) fail(Errno.ENOTDIR);
    const next = descend({ mount: cur.mount, rel: joinRel(cur.rel, comp) });
    const n = nodeAt(next);
    if (!n) fail(Errno.ENOENT);
    const last = queue.every((c) => c === "" || c === ".");
    if (kind(n!) === SYMLINK && (!last || w.follow)) {
      if (++hops > 40) fail(Errno.ELOOP);
      const target = n!.target ?? "";
      if (target.startsWith("/")) stack = [w.root];
      queue.unshift(...target.split("/"));
      continue;
    }
    stack.push(next);
  }
  const end = stack[stack.length - 1];
  if (!nodeAt(end)) fail(Errno.ENOENT);
  return end;
}

/** Where `loc` is as seen from `root` ("/proc/sys"), or null when it is not below it. */
export function pathFrom(loc: Loc, root: Loc): string | null {
  const parts: string[] = [];
  let cur: Loc = loc;
  for (let i = 0; i < 256; i++) {
    if (cur.mount === root.mount && within(cur.rel, root.rel)) {
      parts.unshift(strip(cur.rel, root.rel));
      return "/" + parts.filter(Boolean).join("/");
    }
    parts.unshift(strip(cur.rel, cur.mount.root));
    if (!cur.mount.parent) return null;
    cur = cur.mount.parent;
  }
  return null;
}

function within(rel: string, base: string): boolean {
  return base === "" || rel === base || rel.startsWith(base + "/");
}

function strip(rel: string, base: string): string {
  return base === "" ? rel : rel.slice(base.length).replace(/^\//, "");
}

/** Places a new mount on top of whatever is stacked at `at`. */
export function attach(m: Mount, at: Loc): void {
  const top = descend(at);
  // A mount's own root is a place in its parent's terms: stack on the mount whose root it is.
  m.parent = top;
  top.mount.children.set(top.rel, m);
}

/**
 * A copy of the mount at `loc` as a detached tree (open_tree OPEN_TREE_CLONE, or a bind), with its
 * submounts if asked; `source` names it (default: the original's source).
 */
export function cloneTree(loc: Loc, recursive: boolean, source = loc.mount.source): Mount {
  const m = loc.mount;
  const copy = new Mount(m.sb, loc.rel, m.flags, source, m.data, m.fstype);
  copy.idmap = m.idmap;
  if (recursive) {
    for (const [rel, child] of loc.mount.children) {
      if (!within(rel, loc.rel)) continue;
      const sub = cloneTree({ mount: child, rel: child.root }, true);
      sub.parent = { mount: copy, rel };
      copy.children.set(rel, sub);
    }
  }
  return copy;
}

/** Every mount at or below `m`, with where it is seen from `root`, parents first. */
export function mountsBelow(m: Mount, root: Loc): Array<{ mount: Mount; path: string }> {
  const out: Array<{ mount: Mount; path: string }> = [];
  const visit = (x: Mount) => {
    const path = pathFrom({ mount: x, rel: x.root }, root);
    if (path !== null) out.push({ mount: x, path });
    for (const child of x.children.values()) visit(child);
  };
  visit(m);
  return out;
}
