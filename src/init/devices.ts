/** /dev inside the container: the default device nodes, spec.linux.devices and the standard symlinks. */
import { AT, Errno, isErrno, type Kernel, O, S_IF } from "../../ffi/mod.ts";
import type { LinuxDevice } from "../specutils/spec.ts";
import { ensureInRoot, fdPath, openInRoot } from "./paths.ts";

/** Linux's makedev for the 64-bit dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return (mi & 0xffn) | ((ma & 0xfffn) << 8n) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

/** The devices every container gets (runtime-spec "Default Devices"). */
export const DEFAULT_DEVICES: LinuxDevice[] = [
  { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

const SYMLINKS: Array<[string, string]> = [
  ["/proc/self/fd", "/dev/fd"],
  ["/proc/self/fd/0", "/dev/stdin"],
  ["/proc/self/fd/1", "/dev/stdout"],
  ["/proc/self/fd/2", "/dev/stderr"],
  ["pts/ptmx", "/dev/ptmx"],
];

function typeBits(type: string): number {
  switch (type) {
    case "c":
    case "u":
      return S_IF.CHR;
    case "b":
      return S_IF.BLK;
    case "p":
      return S_IF.FIFO;
    default:
      throw new Error(`device type ${JSON.stringify(type)} is not one of c, u, b, p`);
  }
}

/**
 * Creates `dev` inside the root: mknod, or a bind mount of the host's node where mknod is not allowed
 * (as in a user namespace).
 */
export function createDevice(k: Kernel, rootFd: number, dev: LinuxDevice): void {
  const parts = dev.path.split("/").filter(Boolean);
  const name = parts.pop()!;
  const parent = ensureInRoot(k, rootFd, "/" + parts.join("/"));
  try {
    try {
      k.unlinkat(parent, name, 0);
    } catch (e) {
      if (!isErrno(e, Errno.ENOENT)) throw e;
    }
    const mode = (dev.fileMode ?? 0o666) & 0o7777;
    try {
      k.mknodat(parent, name, typeBits(dev.type) | mode, makedev(dev.major ?? 0, dev.minor ?? 0));
    } catch (e) {
      if (!isErrno(e, Errno.EPERM) || dev.type === "p") throw e;
      k.close(k.open(name, O.CREAT | O.EXCL | O.WRONLY | O.NOFOLLOW | O.CLOEXEC, 0o644, parent));
      const target = openInRoot(k, rootFd, dev.path);
      try {
        k.mount(dev.path, fdPath(target), "", 0x1000 /* MS_BIND */);
      } finally {
        k.close(target);
      }
      return;
    }
    // init runs with umask 0, so the mode is exact; the owner is set without following links.
    k.fchownat(parent, name, dev.uid ?? 0, dev.gid ?? 0, AT.SYMLINK_NOFOLLOW);
  } finally {
    k.close(parent);
  }
}

/**
 * Makes /dev/console the container's terminal: a bind of init's stdin, which for process.terminal is the
 * pseudoterminal slave the engine (or the wrapper) handed over (runtime-spec "Default Devices").
 */
export function bindConsole(k: Kernel, rootFd: number): void {
  if ((k.fstatMode(0) & 0o170000) !== S_IF.CHR) {
    throw new Error("process.terminal is set but the container's stdin is not a terminal");
  }
  // fd 0 belongs to the mount namespace init left, and a bind needs a source in its own: the same node
  // is opened again by its path, and checked to be the same.
  const path = k.readlinkat(AT.FDCWD, fdPath(0));
  const src = k.open(path, O.PATH | O.CLOEXEC);
  try {
    if (k.fileId(src) !== k.fileId(0)) {
      throw new Error(`process.terminal: ${path} is not the container's terminal`);
    }
    const target = ensureInRoot(k, rootFd, "/dev/console", true);
    try {
      k.mount(fdPath(src), fdPath(target), "", 0x1000 /* MS_BIND */);
    } finally {
      k.close(target);
    }
  } finally {
    k.close(src);
  }
}

/** Adds the /dev symlinks (fd, stdin, stdout, stderr, ptmx) where nothing is in the way. */
export function createDevSymlinks(k: Kernel, rootFd: number): void {
  const dev = openInRoot(k, rootFd, "/dev", O.PATH | O.DIRECTORY);
  try {
    for (const [target, link] of SYMLINKS) {
      const name = link.slice("/dev/".length);
      if (name === "ptmx") {
        try {
          k.unlinkat(dev, name, 0);
        } catch (e) {
          if (!isErrno(e, Errno.ENOENT)) throw e;
        }
      }
      try {
        k.symlinkat(target, dev, name);
      } catch (e) {
        if (!isErrno(e, Errno.EEXIST)) throw e;
      }
    }
  } finally {
    k.close(dev);
  }
}
