/**
 * Opening `root.path` without following a symlink. runc refuses a rootfs that is, or passes through, a
 * symlink ("invalid rootfs: not an absolute path, or a symlink"); runts does the same, but atomically:
 * the directory is opened with openat2(RESOLVE_NO_SYMLINKS), so the fd the container gets is the one that
 * was checked, and a `bundle/rootfs -> /` can never make the host's root the container's.
 */
import { AT, Errno, isErrno, type Kernel, O, RESOLVE } from "../../ffi/mod.ts";
import { clean, isAbs, join } from "./path.ts";

/** root.path is a symlink, passes through one, or is not a directory that can be opened. */
export class RootfsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RootfsError";
  }
}

/** runc's text for the same refusal (libcontainer/configs/validate), so that engines see one message. */
const NOT_PLAIN = "invalid rootfs: not an absolute path, or a symlink";

/**
 * Opens the container's root directory `path` (absolute, as normalizeSpec leaves it) as an O_PATH fd,
 * refusing a symlink in any component. When `path` lies under `bundle`, only the components below the
 * bundle are checked: the bundle's own path is the engine's choice (runc too resolves a relative root.path
 * against the bundle's real path), but nothing in the bundle may redirect the root.
 */
export function openRootfs(k: Kernel, path: string, bundle?: string): number {
  if (!isAbs(path)) throw new RootfsError(`${NOT_PLAIN}: ${path}`);
  const flags = O.PATH | O.DIRECTORY | O.CLOEXEC;
  const base = bundle === undefined ? undefined : isAbs(bundle) ? clean(bundle) : join(Deno.cwd(), bundle);
  const target = clean(path);
  try {
    if (base !== undefined && base !== "/" && target.startsWith(base + "/")) {
      const dir = k.open(base, O.PATH | O.DIRECTORY | O.CLOEXEC);
      try {
        return k.openat2(dir, target.slice(base.length + 1), flags, 0, RESOLVE.NO_SYMLINKS);
      } finally {
        k.close(dir);
      }
    }
    return k.openat2(AT.FDCWD, target, flags, 0, RESOLVE.NO_SYMLINKS);
  } catch (e) {
    if (isErrno(e, Errno.ELOOP)) throw new RootfsError(`${NOT_PLAIN}: ${path}`);
    throw new RootfsError(`invalid rootfs: ${(e as Error).message}`);
  }
}
