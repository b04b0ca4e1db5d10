/**
 * `wait`: the container's process's wait status, from boot, or from the record boot left.
 */
import { RemoteError } from "../urpc/client.ts";
import { ContainerError } from "./errors.ts";
import type { Container } from "./container.ts";

/**
 * Blocks until the container's process exits; its raw wait status. When boot is gone (or stops
 * serving while we ask), the status boot left in the state directory; null when there is none.
 */
export function waitStatus(c: Container): number | null {
  const live = c.liveState();
  if (live.status !== "stopped") {
    try {
      return c.control().wait(c.id);
    } catch (e) {
      if (e instanceof RemoteError || c.bootServing()) throw e;
    }
  }
  const ws = live.exitStatus ?? c.dir.readExitStatus(c.rec.pid);
  // A delete that ran meanwhile took the status with it: for this caller the container is gone.
  if (ws === null && !c.dir.exists()) {
    throw new ContainerError("not-exist", `container ${c.id} does not exist`);
  }
  return ws;
}
