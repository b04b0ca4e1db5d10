/**
 * Builds the container's root inside init's private mount namespace: binds the root, mounts the spec's
 * mounts in order (each destination resolved inside the root), creates /dev, masks and read-only paths,
 * then pivot_root (or chroot with --no-pivot).
 */
import { Errno, isErrno, type Kernel, MNT_DETACH, MOUNT_ATTR, MS, O } from "../../ffi/mod.ts";
import type { Mount } from "../specutils/spec.ts";
import type { SysctlNamespace } from "../specutils/sysctl.ts";
import { parseMountOptions, propagationFlags } from "./mount_options.ts";
import { ensureInRoot, fdPath, openInRoot } from "./paths.ts";
import { setUpConsole, wantsConsole } from "./console.ts";
import { bindConsole, createDevice, createDevSymlinks, DEFAULT_DEVICES } from "./devices.ts";
import { applySysctls } from "./process.ts";
import type { InitConfig } from "./config.ts";
import { mountCgroupV1Tree } from "../cgroups/mount.ts";
import { mountOrBind } from "./fallback_mounts.ts";

/** Detached copies of the root and of every bind source, taken before init leaves boot's mount namespace. */
export interface Sources {
  root: number;
  binds: Record<string, number>;
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
export function takeSources(k: Kernel, cfg: InitConfig): Sources {
  if (cfg.sourcesDetached) return { root: cfg.rootFd!, binds: { ...cfg.bindFds } };
  const rootFd = cfg.rootFd ?? k.open(cfg.spec.root!.path, O.PATH | O.DIRECTORY | O.CLOEXEC);
  const binds: Record<string, number> = {};
  cfg.mounts.forEach((m, i) => {
    const opts = parseMountOptions(m.type, m.options);
    if (!opts.bind) return;
    const src = cfg.bindFds[String(i)] ?? k.open(m.source ?? "", O.PATH | O.CLOEXEC);
    binds[String(i)] = detachAndClose(k, src, (opts.flags & MS.REC) !== 0);
  });
  return { root: detachAndClose(k, rootFd, true), binds };
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

function isFile(k: Kernel, fd: number): boolean {
  return (k.fstatMode(fd) & 0o170000) !== 0o040000;
}

/** Mounts one spec mount inside the root. `tree` is the detached source of a bind mount. */
export function mountEntry(k: Kernel, rootFd: number, m: Mount, tree?: number): void {
  const opts = parseMountOptions(m.type, m.options);
  if (opts.bind) {
    if (tree === undefined) throw new Error(`bind mount on ${m.destination}: no source`);
    const dest = ensureInRoot(k, rootFd, m.destination, isFile(k, tree));
    try {
      k.attachMount(tree, dest);
    } finally {
      k.close(dest);
    }
    if (opts.flags & ~(MS.BIND | MS.REC)) {
      remount(k, rootFd, m.destination, (opts.flags & ~MS.REC) | MS.BIND);
    }
  } else {
    const dest = ensureInRoot(k, rootFd, m.destination);
    try {
      const fstype = m.type === "cgroup" ? "cgroup2" : m.type ?? "";
      // On a host with v1 hierarchies, "cgroup" is runc's tree of v1 mounts (src/cgroups/mount.ts).
      const v1Tree = m.type === "cgroup" &&
        mountCgroupV1Tree(k, fdPath(dest), () => openInRoot(k, rootFd, m.destination), opts.flags);
      if (!v1Tree) {
        const reopen = () => openInRoot(k, rootFd, m.destination);
        mountOrBind(k, m.source || fstype, fdPath(dest), reopen, fstype, opts.flags, opts.data || undefined);
      }
    } finally {
      k.close(dest);
    }
  }
  if (opts.recursiveReadonly) {
    const fd = openInRoot(k, rootFd, m.destination);
    try {
      k.mountSetattr(fd, true, MOUNT_ATTR.RDONLY, 0);
    } finally {
      k.close(fd);
    }
  }
  for (const p of opts.propagation) {
    const fd = openInRoot(k, rootFd, m.destination);
    try {
      k.mount("", fdPath(fd), "", p);
    } finally {
      k.close(fd);
    }
  }
}

/** Remounts the mount at `path` (inside the root) with `flags`, keeping MS_REMOUNT semantics. */
function remount(k: Kernel, rootFd: number, path: string, flags: number): void {
  const fd = openInRoot(k, rootFd, path);
  try {
    k.mount("", fdPath(fd), "", flags | MS.REMOUNT);
  } finally {
    k.close(fd);
  }
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

/** Makes each path read-only with a bind over itself. Missing paths are skipped. */
export function readonlyPaths(k: Kernel, rootFd: number, paths: readonly string[]): void {
  for (const p of paths) {
    const fd = tryOpenInRoot(k, rootFd, p);
    if (fd === null) continue;
    try {
      k.mount(fdPath(fd), fdPath(fd), "", MS.BIND | MS.REC);
    } finally {
      k.close(fd);
    }
    remount(k, rootFd, p, MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
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

/** Replaces the process root with the directory `rootFd`: pivot_root, or MS_MOVE + chroot. */
export function enterRoot(k: Kernel, rootFd: number, noPivot: boolean): void {
  k.fchdir(rootFd);
  if (noPivot) {
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
  cfg: InitConfig,
  sources: Sources,
  own: ReadonlySet<SysctlNamespace> = new Set(),
): void {
  const spec = cfg.spec;
  k.mount("", "/", "", MS.SLAVE | MS.REC);
  const root = attachRoot(k, sources.root);
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
  enterRoot(k, root, cfg.noPivot);
  k.close(root);
  const prop = propagationFlags(spec.linux?.rootfsPropagation ?? "");
  if (prop !== undefined) k.mount("", "/", "", prop);
  if (spec.root?.readonly) k.mount("", "/", "", MS.BIND | MS.REMOUNT | MS.RDONLY);
}
