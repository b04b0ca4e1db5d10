/**
 * Entering the container's cgroups from init: "0" written to cgroup.procs under each directory fd boot
 * passed on moves the whole calling process (all its threads) there. init does this first, before any
 * namespace changes, so the app is in its cgroups before it execs and a new cgroup namespace is rooted
 * at the container's cgroup.
 *
 * A cgroup.procs write takes the kernel's global cgroup_threadgroup_rwsem for writing, and the first
 * writer after an idle spell waits for an RCU grace period (5–20 ms measured on a 2-CPU VM, most of a
 * clone init's time). Moving one thread ("0" written to a v1 hierarchy's `tasks`) does not take it, so a
 * process of one thread (a clone child) moves that way wherever it can; v2 has no `tasks` (cgroup.threads
 * moves threads only inside a threaded subtree), and a multi-threaded process (the `runts init` fallback)
 * must move all its threads.
 */
import { Errno, isErrno, type Kernel } from "../../ffi/mod.ts";
import { CgroupWriteError, fdDir } from "./fs.ts";

/** Moves the calling process into the cgroup directory of each fd (`singleThreaded`: see above). */
export function joinCgroups(k: Kernel, fds: readonly number[], singleThreaded = false): void {
  for (const fd of fds) {
    const dir = fdDir(k, fd);
    try {
      if (singleThreaded && writeUnlessMissing(() => dir.write("tasks", "0"))) continue;
      dir.write("cgroup.procs", "0");
    } catch (e) {
      throw new Error(`joining the container's cgroup: ${(e as Error).message}`);
    }
  }
}

/** Runs the write; false when the file does not exist (a v2 directory has no `tasks`). */
function writeUnlessMissing(write: () => void): boolean {
  try {
    write();
    return true;
  } catch (e) {
    if (e instanceof CgroupWriteError && isErrno(e.cause, Errno.ENOENT)) return false;
    throw e;
  }
}
