/**
 * `start`: a created container's startContainer hooks, StartRoot, status "running", its poststart hooks.
 */
import { log, warnCaller } from "../log/log.ts";
import { testPause } from "../util/test_pause.ts";
import { ContainerError } from "./errors.ts";
import { runHooks, runHooksBestEffort } from "./hooks.ts";
import { type Container, loadContainerModules } from "./container.ts";
import { stage } from "../util/stages.ts";
import { killContainer } from "./container_kill.ts";

/**
 * Starts a created container: startContainer hooks, StartRoot, status "running", poststart hooks.
 * Takes the lock itself.
 */
export async function startContainer(c: Container): Promise<void> {
  // A failing startContainer hook kills the container, which thaws its cgroups first.
  if (c.spec.hooks?.startContainer?.length) await loadContainerModules(["cgroups"]);
  stage("start: modules");
  const lock = c.lock();
  stage("start: locked");
  try {
    const live = c.liveState();
    stage("start: live state");
    if (live.status !== "created") {
      const why = live.status === "stopped"
        ? "cannot start a container that has stopped"
        : live.status === "creating"
        ? "cannot start a container that is being created"
        : `cannot start an already ${live.status} container`;
      throw new ContainerError("bad-state", why);
    }
    try {
      await runHooks(c.k, "startContainer", c.spec.hooks, c.hookState("created"));
    } catch (e) {
      killContainer(c);
      throw e;
    }
    testPause("start-before-startroot");
    c.control().startRoot(c.id);
    stage("start: StartRoot");
    c.rec.status = "running";
    try {
      c.save();
    } catch (e) {
      // The app runs: failing start now would misreport it. The record is a hint; boot tells the truth.
      log.warning(`container ${c.id} started; ${(e as Error).message}`);
    }
  } finally {
    lock.release();
  }
  await runHooksBestEffort(
    c.k,
    "poststart",
    c.spec.hooks,
    c.hookState("running"),
    warnCaller,
  );
}
