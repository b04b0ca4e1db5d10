/**
 * Entering the container's cgroups from init: "0" written to cgroup.procs under each directory fd boot
 * passed on moves the whole calling process (all its threads) there. init does this first, before any
 * namespace changes, so the app is in its cgroups before it execs and a new cgroup namespace is rooted
 * at the container's cgroup.
 */
import type { Kernel } from "../../ffi/mod.ts";
import { fdDir } from "./fs.ts";

/** Moves the calling process into the cgroup directory of each fd. */
export function joinCgroups(k: Kernel, fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      fdDir(k, fd).write("cgroup.procs", "0");
    } catch (e) {
      throw new Error(`joining the container's cgroup: ${(e as Error).message}`);
    }
  }
}
