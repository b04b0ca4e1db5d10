/**
 * `pause` and `resume`: the container's cgroup freezer, through boot.
 */
import { ContainerError } from "./errors.ts";
import type { Container } from "./container.ts";

/** Freezes (pause) or thaws (resume) the container through boot. Takes the lock itself. */
export function setPaused(c: Container, paused: boolean): void {
  const lock = c.lock();
  try {
    const live = c.liveState();
    const want = paused ? "running" : "paused";
    if (live.status !== want) {
      throw new ContainerError("bad-state", `container ${c.id} is ${live.status}, not ${want}`);
    }
    if (paused) c.control().pause(c.id);
    else c.control().resume(c.id);
    c.rec.status = paused ? "paused" : "running";
    c.save();
  } finally {
    lock.release();
  }
}
