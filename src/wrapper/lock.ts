/**
 * Advisory locks on a container's lock file (flock(2)), so that commands mutating one container
 * (create, start, delete, pause, resume) never interleave. Readers (state, list, kill) do not lock:
 * the state file is replaced atomically, so they always see a whole document.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { LOCK, O } from "../../ffi/consts.ts";
import { Errno } from "../../ffi/errno.ts";
import { isErrno } from "../../ffi/error.ts";

/** A held lock; release() unlocks and closes the file. */
export class FileLock {
  readonly #k: Kernel;
  #fd: number;

  private constructor(k: Kernel, fd: number) {
    this.#k = k;
    this.#fd = fd;
  }

  /**
   * Locks `path` (created 0600 if missing), exclusively or shared. With `wait` false, returns null
   * when another process holds a conflicting lock; otherwise blocks until the lock is free.
   */
  static acquire(k: Kernel, path: string, exclusive: boolean, wait = true): FileLock | null {
    const fd = k.open(path, O.RDWR | O.CREAT | O.CLOEXEC, 0o600);
    try {
      k.flock(fd, (exclusive ? LOCK.EX : LOCK.SH) | (wait ? 0 : LOCK.NB));
    } catch (e) {
      k.close(fd);
      if (!wait && isErrno(e, Errno.EAGAIN)) return null;
      throw e;
    }
    return new FileLock(k, fd);
  }

  /**
   * True when some process holds a lock on `path` (probed with a non-blocking shared lock). A missing
   * file counts as unlocked.
   */
  static isHeld(k: Kernel, path: string): boolean {
    let fd: number;
    try {
      fd = k.open(path, O.RDONLY | O.CLOEXEC);
    } catch (e) {
      if (isErrno(e, Errno.ENOENT)) return false;
      throw e;
    }
    try {
      k.flock(fd, LOCK.SH | LOCK.NB);
      return false;
    } catch (e) {
      if (isErrno(e, Errno.EAGAIN)) return true;
      throw e;
    } finally {
      k.close(fd);
    }
  }

  /** Whether this lock is still held (not released). */
  get held(): boolean {
    return this.#fd >= 0;
  }

  /** Unlocks and closes; safe to call twice. */
  release(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    this.#k.close(fd); // closing the only description drops the flock
  }
}
