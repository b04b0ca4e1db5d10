/**
 * Builds the container's root: binds the root, mounts the spec's mounts in order (each destination
 * resolved inside the root), creates /dev, masks and read-only paths, then pivot_root (or chroot with
 * --no-pivot) in init's own mount namespace. In a mount namespace init shares (the runtime's, when the spec
 * has no mount entry, or a joined one) the root is bound over the root directory where that namespace has
 * it, and entered with chroot: pivot_root there would move the root of every process in the namespace.
 */
import { Errno, isErrno, type Kernel, MNT_DETACH, MOUNT_ATTR, MS, O } from "../../ffi/mod.ts";
import type { Mount } from "../specutils/spec.ts";
import type { SysctlNamespace } from "../specutils/sysctl.ts";
import { parseMountOptions, propagationFlags } from "./mount_options.ts";
import { ensureDestination, fdPath, openDestination, openInRoot } from "./paths.ts";
import { setUpConsole, wantsConsole } from "./console.ts";
import { bindConsole, createDevice, createDevSymlinks, DEFAULT_DEVICES } from "./devices.ts";
import { applySysctls } from "./process.ts";
import type { CreateInitConfig } from "../protocol/init_config.ts";
import { mountCgroupV1Tree } from "./cgroup_mounts.ts";
import { type MountNamespaceKind, mountNamespaceKind } from "./namespaces.ts";
import { openRootfs } from "../specutils/rootfs.ts";
import { mountOrBind } from "./fallback_mounts.ts";

/** Detached copies of the root and of every bind source, taken before init leaves boot's mount namespace. */
export interface Sources {
  root: number;
  binds: Record<string, number>;
  /**
   * The root directory itself, kept when the container shares the runtime's mount namespace: the root's
   * copy is bound over it there. null otherwise.
   */
  rootDir: number | null;
}

/**
 * A detached copy of the mount tree at `fd`. Mounts can only be copied from the caller's own mount
 * namespace, so this runs before unshare; an fd that is already a detached tree (boot's --setup-root
 * prepares them so) is used as it is.
 */
export function detach(k: Kernel, fd: number, recursive: boolean): number {
  try {
    return k.cloneMount(fd, recursive);
  } catch (e) {
    if (isErrno(e, Errno.EINVAL)) return fd;
    throw e;
  }
}

/**
 * detach(), closing `fd` when a copy was made: an fd of a host directory must not stay open in init, where
 * a cwd of /proc/self/fd/N could reach it (CVE-2024-21626).
 */
function detachAndClose(k: Kernel, fd: number, recursive: boolean): number {
  const tree = detach(k, fd, recursive);
  if (tree !== fd) k.close(fd);
  return tree;
}

/** Opens and detaches the root and the bind sources (by fd when the wrapper gave one, else by path). */
export function takeSources(k: Kernel, cfg: CreateInitConfig): Sources {
  if (cfg.sourcesDetached) return { root: cfg.rootFd!, binds: { ...cfg.bindFds }, rootDir: null };
  const rootFd = cfg.rootFd ?? openRootfs(k, cfg.spec.root!.path);
  // In a shared mount namespace the root directory itself is kept: the root is bound over it (h3's model).
  const shared = mountNamespaceKind(cfg.spec) === "shared";
  const root = shared ? detach(k, rootFd, true) : detachAndClose(k, rootFd, true);
  const binds: Record<string, number> = {};
  cfg.mounts.forEach((m, i) => {
    const opts = parseMountOptions(m.type, m.options);
    if (!opts.bind) return;
    const src = cfg.bindFds[String(i)] ?? k.open(m.source ?? "", O.PATH | O.CLOEXEC);
    binds[String(i)] = detachAndClose(k, src, (opts.flags & MS.REC) !== 0);
  });
  return { root, binds, rootDir: shared && root !== rootFd ? rootFd : null };
}

/** Where init attaches the container's root inside its own mount namespace before pivot_root. */
export const STAGE = "/tmp";

/** Attaches the detached root at STAGE and returns an O_PATH fd of it. */
export function attachRoot(k: Kernel, tree: number): number {
  const stage = k.open(STAGE, O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    k.attachMount(tree, stage);
  } finally {
    k.close(stage);
  }
  const root = k.open(STAGE, O.PATH | O.DIRECTORY | O.CLOEXEC);
  if (k.fileId(root) !== k.fileId(tree)) {
    k.close(root);
    throw new Error(`the container root did not appear at ${STAGE}`);
  }
  return root;
}

/**
 * In a mount namespace init shares, binds the detached root over the root directory where that namespace
 * has it (runc's bind of the rootfs onto itself): `dir` in the runtime's namespace, else root.path, which
 * must be the same directory the wrapper gave. Never over the namespace's own "/" (the container's mounts
 * would then land on the host's /proc, /dev, ...). Made private at once, so that the container's mounts
 * below it do not propagate to the namespace's peers. Returns an O_PATH fd of the bound root.
 */
export function attachInPlace(k: Kernel, tree: number, dir: number | null, rootPath: string): number {
  const target = dir ?? k.open(rootPath, O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    if (k.fileId(target) !== k.fileId(tree)) {
      throw new Error(`root.path ${rootPath} is another directory in the container's mount namespace`);
    }
    const slash = k.open("/", O.PATH | O.DIRECTORY | O.CLOEXEC);
    const isSlash = k.fileId(slash) === k.fileId(target);
    k.close(slash);
    if (isSlash) {
      throw new Error(
        `root.path ${rootPath} is the root of a mount namespace the container shares: its mounts would ` +
          "cover that namespace's own; give the container a mount namespace of its own",
      );
    }
    k.attachMount(tree, target);
  } finally {
    k.close(target);
  }
  k.mount("", fdPath(tree), "", MS.PRIVATE | MS.REC);
  const root = k.open(fdPath(tree), O.PATH | O.DIRECTORY | O.CLOEXEC);
  if (k.fileId(root) !== k.fileId(tree)) {
    k.close(root);
    throw new Error(`the container root did not appear at ${rootPath}`);
  }
  return root;
}

function isFile(k: Kernel, fd: number): boolean {
  return (k.fstatMode(fd) & 0o170000) !== 0o040000;
}

/**
 * Mounts one spec mount inside the root. `tree` is the detached source of a bind mount. The destination is
 * checked on the fd that gets covered (paths.ts `checkDestination`): never the root itself, nor /proc,
 * /dev or /sys unless the destination names them. Later changes of a bind act on its attached copy (renewMount);
 * those of other mounts reopen the destination, checked the same way, so a symlink swapped
 * in after the mount cannot turn them onto the root.
 */
export function mountEntry(k: Kernel, rootFd: number, m: Mount, tree?: number): void {
  const opts = parseMountOptions(m.type, m.options);
  const reopen = () => openDestination(k, rootFd, m.destination);
  const onMount = (fn: (fd: number) => void) => withFd(k, reopen(), fn);
  if (opts.bind) {
    if (tree === undefined) throw new Error(`bind mount on ${m.destination}: no source`);
    const dest = ensureDestination(k, rootFd, m.destination, isFile(k, tree));
    let attached: number;
    try {
      k.attachMount(tree, dest);
      attached = renewMount(k, tree, dest, (opts.flags & MS.REC) !== 0);
    } finally {
      k.close(dest);
    }
    try {
      if (opts.flags & ~(MS.BIND | MS.REC)) remount(k, attached, (opts.flags & ~MS.REC) | MS.BIND);
      if (opts.recursiveReadonly) k.mountSetattr(attached, true, MOUNT_ATTR.RDONLY, 0);
      for (const p of opts.propagation) k.mount("", fdPath(attached), "", p);
    } finally {
      k.close(attached);
    }
    return;
  } else {
    const dest = ensureDestination(k, rootFd, m.destination);
    try {
      const fstype = m.type === "cgroup" ? "cgroup2" : m.type ?? "";
      // On a host with v1 hierarchies, "cgroup" is runc's tree of v1 mounts (src/init/cgroup_mounts.ts).
      const v1Tree = m.type === "cgroup" && mountCgroupV1Tree(k, fdPath(dest), reopen, opts.flags);
      if (!v1Tree) {
        mountOrBind(k, m.source || fstype, fdPath(dest), reopen, fstype, opts.flags, opts.data || undefined);
      }
    } finally {
      k.close(dest);
    }
  }
  if (opts.recursiveReadonly) onMount((fd) => k.mountSetattr(fd, true, MOUNT_ATTR.RDONLY, 0));
  for (const p of opts.propagation) onMount((fd) => k.mount("", fdPath(fd), "", p));
}

/**
 * Replaces the tree just attached on the mount point `dest` by a fresh copy of itself and returns the
 * copy's fd (attached now; the caller closes it). The kernel lists a namespace's mounts
 * (/proc/self/mountinfo) in the order they were created, and the bind trees were copied before init left
 * boot's namespace, so without this every bind would be listed before the root and the mounts that precede
 * it in the spec (runtime-tools `mounts` checks the order). It works on `tree` itself, never on a path
 * looked up again, so a symlink swapped in meanwhile cannot redirect it.
 */
function renewMount(k: Kernel, tree: number, dest: number, recursive: boolean): number {
  const copy = k.cloneMount(tree, recursive);
  try {
    k.umount2(fdPath(tree), MNT_DETACH);
    k.attachMount(copy, dest);
  } catch (e) {
    k.close(copy);
    throw e;
  }
  return copy;
}

/** Runs `fn` on `fd`, then closes it. */
function withFd(k: Kernel, fd: number, fn: (fd: number) => void): void {
  try {
    fn(fd);
  } finally {
    k.close(fd);
  }
}

/** Remounts the mount at `fd` with `flags`, keeping MS_REMOUNT semantics. */
function remount(k: Kernel, fd: number, flags: number): void {
  k.mount("", fdPath(fd), "", flags | MS.REMOUNT);
}

/** Masks each path: /dev/null over files, an empty read-only tmpfs over directories. Missing paths are skipped. */
export function maskPaths(k: Kernel, rootFd: number, paths: readonly string[], devNull: string): void {
  for (const p of paths) {
    const fd = tryOpenInRoot(k, rootFd, p);
    if (fd === null) continue;
    try {
      if (isFile(k, fd)) k.mount(devNull, fdPath(fd), "", MS.BIND);
      else k.mount("tmpfs", fdPath(fd), "tmpfs", MS.RDONLY);
    } finally {
      k.close(fd);
    }
  }
}

/**
 * Makes each path read-only with a bind over itself; missing paths are skipped. Only the read-only flag
 * is added (mount_setattr on the top mount): the bind keeps nosuid, nodev, noexec and atime as the mount
 * it copies has them, as runc does.
 */
export function readonlyPaths(k: Kernel, rootFd: number, paths: readonly string[]): void {
  for (const p of paths) {
    const fd = tryOpenInRoot(k, rootFd, p);
    if (fd === null) continue;
    try {
      k.mount(fdPath(fd), fdPath(fd), "", MS.BIND | MS.REC);
    } finally {
      k.close(fd);
    }
    withFd(k, openInRoot(k, rootFd, p), (fd) => k.mountSetattr(fd, false, MOUNT_ATTR.RDONLY, 0));
  }
}

function tryOpenInRoot(k: Kernel, rootFd: number, path: string): number | null {
  try {
    return openInRoot(k, rootFd, path);
  } catch (e) {
    if (isErrno(e, Errno.ENOENT)) return null;
    throw e;
  }
}

/**
 * Replaces the process root with the directory `rootFd`: pivot_root, or MS_MOVE + chroot, in init's own
 * mount namespace; a plain chroot in one it shares (`kind` other than "own"), where both would change the
 * root every other process of the namespace sees.
 */
export function enterRoot(
  k: Kernel,
  rootFd: number,
  noPivot: boolean,
  kind: MountNamespaceKind = "own",
): void {
  k.fchdir(rootFd);
  if (kind !== "own") {
    k.chroot(".");
  } else if (noPivot) {
    k.mount(".", "/", "", MS.MOVE);
    k.chroot(".");
  } else {
    k.pivotRoot(".", ".");
    k.umount2(".", MNT_DETACH);
  }
  k.chdir("/");
}

/**
 * The whole root build for a new container; returns with the process inside its new root. `own` lists the
 * namespaces init has of its own, which decides the sysctls it may write.
 */
export function buildRoot(
  k: Kernel,
  cfg: CreateInitConfig,
  sources: Sources,
  own: ReadonlySet<SysctlNamespace> = new Set(),
): void {
  const spec = cfg.spec;
  const kind = mountNamespaceKind(spec);
  let root: number;
  if (kind === "own") {
    k.mount("", "/", "", MS.SLAVE | MS.REC);
    root = attachRoot(k, sources.root);
  } else {
    // A namespace init shares keeps its propagation: only the container's own root mount is changed.
    root = attachInPlace(k, sources.root, sources.rootDir, spec.root!.path);
    sources.rootDir = null; // attachInPlace closed it
  }
  let devIsTmpfs = false;
  cfg.mounts.forEach((m, i) => {
    try {
      mountEntry(k, root, m, sources.binds[String(i)]);
    } catch (e) {
      throw new Error(`mount ${m.destination}: ${(e as Error).message}`);
    }
    if (m.destination.replace(/\/+$/, "") === "/dev" && m.type === "tmpfs") devIsTmpfs = true;
  });
  // The trees are attached now; their fds would only be a way out of the container.
  for (const fd of [sources.root, ...Object.values(sources.binds)]) k.close(fd);
  if (devIsTmpfs) {
    for (const d of DEFAULT_DEVICES) createDevice(k, root, d);
    createDevSymlinks(k, root);
  }
  for (const d of spec.linux?.devices ?? []) createDevice(k, root, d);
  // The terminal is made from the container's own /dev/ptmx when the wrapper asked for it (console.ts).
  if (wantsConsole(k, cfg.process)) setUpConsole(k, cfg.process, root);
  if (cfg.process.terminal) bindConsole(k, root);
  // Before the masks: /proc/sys is usually among the read-only paths.
  applySysctls(k, root, spec.linux?.sysctl, own);
  const devNull = tryOpenInRoot(k, root, "/dev/null");
  const nullPath = devNull === null ? "/dev/null" : fdPath(devNull);
  maskPaths(k, root, spec.linux?.maskedPaths ?? [], nullPath);
  if (devNull !== null) k.close(devNull);
  readonlyPaths(k, root, spec.linux?.readonlyPaths ?? []);
  enterRoot(k, root, cfg.noPivot, kind);
  k.close(root);
  const prop = propagationFlags(spec.linux?.rootfsPropagation ?? "");
  if (prop !== undefined) k.mount("", "/", "", prop);
  if (spec.root?.readonly) k.mount("", "/", "", MS.BIND | MS.REMOUNT | MS.RDONLY);
}
