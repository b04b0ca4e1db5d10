/**
 * `delete` (runsc's Destroy): refuses a running or paused container unless forced, kills what is left,
 * runs the poststop hooks, and removes its cgroups and its state.
 */
import { log, warnCaller } from "../log/log.ts";
import { testPause } from "../util/test_pause.ts";
import { ContainerError } from "./errors.ts";
import { runHooksBestEffort } from "./hooks.ts";
import { type Container, loadContainerModules, modules } from "./container.ts";
import { stage } from "../util/stages.ts";
import { awaitOrphanReaped, killContainer } from "./container_kill.ts";

/**
 * Deletes the container (runsc's Destroy): refuses a running or paused one unless `force`, kills
 * what is left, waits for boot to go, runs the poststop hooks and removes the state. Takes the lock.
 */
export async function deleteContainer(c: Container, force: boolean): Promise<void> {
  await loadContainerModules(["cgroups"]);
  stage("delete: modules");
  const lock = c.lock();
  try {
    const live = c.liveState();
    stage("delete: live state");
    if ((live.status === "running" || live.status === "paused") && !force) {
      throw new ContainerError(
        "bad-state",
        `cannot delete container ${c.id} that is not stopped: ${live.status}`,
      );
    }
    if (live.status !== "stopped" || c.bootAlive(c.rec)) killContainer(c);
    else awaitOrphanReaped(c);
    stage("delete: killed");
    if (c.rec.bootPid > 0 && c.rec.status !== "creating") {
      await runHooksBestEffort(
        c.k,
        "poststop",
        c.spec.hooks,
        c.hookState("stopped"),
        warnCaller,
      );
    }
    await c.releaseHosted(0);
    testPause("delete-before-remove");
    removeCgroup(c);
    stage("delete: cgroups removed");
    c.dir.remove();
  } finally {
    lock.release();
  }
}

/** Kills what is left in the container's cgroups and removes the directories runts made. */
export function removeCgroup(c: Container): void {
  if (!c.rec.cgroups) return;
  try {
    modules().cgroups.removeCgroups(c.k, c.rec.cgroups);
  } catch (e) {
    log.warning(`container ${c.id}: ${(e as Error).message}`);
  }
}
