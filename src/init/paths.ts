/**
 * Path resolution inside the container's root that never leaves it: openat2 with RESOLVE_IN_ROOT, so a
 * symlink or ".." planted in the image (or swapped in during setup) resolves inside the root. Every mount
 * then targets the resolved fd through /proc/self/fd/N, so the path cannot change between check and use.
 */
import { Errno, isErrno, type Kernel, O, RESOLVE } from "../../ffi/mod.ts";
import { clean } from "../specutils/path.ts";

const PATH_FLAGS = O.PATH | O.CLOEXEC;
const IN_ROOT = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;

/** Splits an absolute container path into its components, dropping empty and "." parts. */
export function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/** Opens `path` inside the root at `rootFd` (O_PATH unless `flags` say otherwise). */
export function openInRoot(k: Kernel, rootFd: number, path: string, flags = PATH_FLAGS): number {
  const rel = components(path).join("/") || ".";
  return k.openat2(rootFd, rel, flags | O.CLOEXEC, 0, IN_ROOT);
}

/** The magic-link path that names an open fd, for mount(2) and friends. */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/**
 * Opens `path` inside the root, creating what is missing: directories for every component, and for the
 * last one a directory or (when `file` is set) an empty regular file. Returns an O_PATH fd.
 */
export function ensureInRoot(k: Kernel, rootFd: number, path: string, file = false, mode = 0o755): number {
  const parts = components(path);
  let created = -1;
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    const last = i === parts.length;
    try {
      const fd = openInRoot(k, rootFd, prefix);
      if (last) return fd;
      k.close(fd);
      continue;
    } catch (e) {
      // A dangling symlink stays ENOENT after we "created" it: give up rather than loop.
      if (!isErrno(e, Errno.ENOENT) || created === i) throw e;
    }
    created = i;
    const parent = openInRoot(k, rootFd, parts.slice(0, i - 1).join("/"), O.PATH | O.DIRECTORY);
    try {
      if (last && file) {
        k.close(k.open(parts[i - 1], O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC, 0o644, parent));
      } else {
        k.mkdirat(parent, parts[i - 1], mode);
      }
    } catch (e) {
      if (!isErrno(e, Errno.EEXIST)) throw e;
    } finally {
      k.close(parent);
    }
    i--; // open what now exists on the next pass
  }
  return openInRoot(k, rootFd, "/");
}

/** The kernel's filesystems in the root, which a mount may cover only where the spec names them. */
const KERNEL_DIRS = ["/proc", "/dev", "/sys"] as const;

/**
 * Refuses the mount destination `destination` whose resolved fd is `fd` when it is the root at `rootFd`
 * itself, or the root's /proc, /dev or /sys while `destination` does not name that directory: a symlink
 * planted in the image (`data -> /`) or swapped in during setup resolves inside the root, and a volume
 * there would cover the container's / (which every exec enters) or its kernel filesystems. Compares
 * (dev, inode) of the fd that will be mounted on, so what was checked is what gets covered.
 */
export function checkDestination(k: Kernel, rootFd: number, destination: string, fd: number): void {
  const id = k.fileId(fd);
  if (id === k.fileId(rootFd)) {
    throw new Error("destination resolves to the container's root, not to a directory inside it");
  }
  const named = clean("/" + destination);
  for (const dir of KERNEL_DIRS) {
    if (named === dir) continue;
    let kernelDir: number;
    try {
      kernelDir = openInRoot(k, rootFd, dir);
    } catch (e) {
      if (isErrno(e, Errno.ENOENT)) continue;
      throw e;
    }
    try {
      if (k.fileId(kernelDir) === id) {
        throw new Error(
          `destination resolves to the container's ${dir}, which only a mount at ${dir} may cover`,
        );
      }
    } finally {
      k.close(kernelDir);
    }
  }
}

function checked(k: Kernel, rootFd: number, destination: string, fd: number): number {
  try {
    checkDestination(k, rootFd, destination, fd);
  } catch (e) {
    k.close(fd);
    throw e;
  }
  return fd;
}

/** openInRoot() of a mount destination, refused as checkDestination() refuses it. */
export function openDestination(k: Kernel, rootFd: number, destination: string): number {
  return checked(k, rootFd, destination, openInRoot(k, rootFd, destination));
}

/** ensureInRoot() of a mount destination, refused as checkDestination() refuses it. */
export function ensureDestination(k: Kernel, rootFd: number, destination: string, file = false): number {
  return checked(k, rootFd, destination, ensureInRoot(k, rootFd, destination, file));
}
