/**
 * The one seam between cgroup logic and cgroupfs: a directory handle that reads and writes interface
 * files, and a filesystem that makes and removes directories. The real ones go through the Kernel
 * (synchronous calls only, so they also work in boot after its chroot and in init); unit tests use an
 * in-memory model.
 *
 * Every write is one write(2) on a fresh open: cgroupfs treats each write as one command (one device
 * rule, one io.max line).
 */
import { AT, Errno, isErrno, type Kernel, O } from "../../ffi/mod.ts";
import { readAll } from "../specutils/read_all.ts";

/** One cgroup directory. */
export interface CgroupDir {
  /** Where it is, for messages: a path, or `fd N`. */
  readonly where: string;
  /** The content of interface file `file`, or null when it does not exist. */
  read(file: string): string | null;
  /** Writes `value` to interface file `file`; throws an error naming the file, the value and the errno. */
  write(file: string, value: string): void;
  /** True when interface file `file` exists. */
  has(file: string): boolean;
  /** Runs `fn` with an open fd of the directory (for bpf(2) attachment). */
  withFd<T>(fn: (fd: number) => T): T;
  /** The child cgroups' names ([] when the directory is gone). */
  children(): string[];
  /** The child cgroup `name`. */
  child(name: string): CgroupDir;
}

/** Directory operations on a cgroup filesystem, by absolute path. */
export interface CgroupFs {
  /** The cgroup directory at `path`. */
  dir(path: string): CgroupDir;
  /** mkdir; false when the directory already existed. */
  mkdir(path: string): boolean;
  /** rmdir; a missing directory is fine. Throws SyscallError (EBUSY while processes remain). */
  rmdir(path: string): void;
  /** The names of the child cgroups of `path` ([] when it does not exist). */
  children(path: string): string[];
  /** True when the directory exists. */
  exists(path: string): boolean;
}

/** A cgroup write that failed. */
export class CgroupWriteError extends Error {
  constructor(
    readonly file: string,
    readonly value: string,
    readonly where: string,
    override readonly cause: Error,
  ) {
    super(`writing ${JSON.stringify(value.trim())} to ${file} in ${where}: ${cause.message}`);
    this.name = "CgroupWriteError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A cgroup directory reached through `dirfd` (AT.FDCWD with absolute file paths for the path form). */
class KernelDir implements CgroupDir {
  constructor(
    private readonly k: Kernel,
    private readonly dirfd: number,
    private readonly prefix: string,
    readonly where: string,
  ) {}

  read(file: string): string | null {
    let fd: number;
    try {
      fd = this.k.open(this.prefix + file, O.RDONLY | O.CLOEXEC, 0, this.dirfd);
    } catch (e) {
      if (isErrno(e, Errno.ENOENT)) return null;
      throw e;
    }
    try {
      return decoder.decode(readAll(this.k, fd));
    } finally {
      this.k.close(fd);
    }
  }

  write(file: string, value: string): void {
    try {
      const fd = this.k.open(this.prefix + file, O.WRONLY | O.CLOEXEC, 0, this.dirfd);
      try {
        const bytes = encoder.encode(value);
        if (this.k.write(fd, bytes) !== bytes.length) throw new Error("short write");
      } finally {
        this.k.close(fd);
      }
    } catch (e) {
      throw new CgroupWriteError(file, value, this.where, e as Error);
    }
  }

  has(file: string): boolean {
    try {
      this.k.close(this.k.open(this.prefix + file, O.PATH | O.CLOEXEC, 0, this.dirfd));
      return true;
    } catch (e) {
      if (isErrno(e, Errno.ENOENT)) return false;
      throw e;
    }
  }

  children(): string[] {
    // An fd's directory is listed through /proc (boot has /proc in its chroot).
    const path = this.dirfd === AT.FDCWD ? this.prefix : `/proc/self/fd/${this.dirfd}/${this.prefix}`;
    try {
      return [...Deno.readDirSync(path)].filter((e) => e.isDirectory).map((e) => e.name);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  child(name: string): CgroupDir {
    return new KernelDir(this.k, this.dirfd, `${this.prefix}${name}/`, `${this.where}/${name}`);
  }

  withFd<T>(fn: (fd: number) => T): T {
    if (this.dirfd !== AT.FDCWD && this.prefix === "") return fn(this.dirfd);
    const fd = this.k.open(this.prefix || ".", O.RDONLY | O.DIRECTORY | O.CLOEXEC, 0, this.dirfd);
    try {
      return fn(fd);
    } finally {
      this.k.close(fd);
    }
  }
}

/** The cgroup directory open as `fd` (boot and init, which cannot reach cgroupfs by path). */
export function fdDir(k: Kernel, fd: number): CgroupDir {
  return new KernelDir(k, fd, "", `fd ${fd}`);
}

/** The host's cgroup filesystems, by path. */
export function hostCgroupFs(k: Kernel): CgroupFs {
  return {
    dir: (path) => new KernelDir(k, AT.FDCWD, path.replace(/\/*$/, "/"), path),
    mkdir(path) {
      try {
        k.mkdirat(AT.FDCWD, path, 0o755);
        return true;
      } catch (e) {
        if (isErrno(e, Errno.EEXIST)) return false;
        throw e;
      }
    },
    rmdir(path) {
      try {
        k.unlinkat(AT.FDCWD, path, AT.REMOVEDIR);
      } catch (e) {
        if (!isErrno(e, Errno.ENOENT)) throw e;
      }
    },
    children(path) {
      try {
        return [...Deno.readDirSync(path)].filter((e) => e.isDirectory).map((e) => e.name);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return [];
        throw e;
      }
    },
    exists(path) {
      try {
        return Deno.statSync(path).isDirectory;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
        throw e;
      }
    },
  };
}
