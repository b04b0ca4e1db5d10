/**
 * `exec`: a process started in a running container, by boot (ExecuteAsync) or, detached, as the wrapper's
 * own child from boot's plan (src/wrapper/exec.ts); and its status when boot stopped serving meanwhile.
 */
import type { Process } from "../specutils/spec.ts";
import { type ExecArgs } from "../protocol/control.ts";
import { sleepSync } from "../util/sleep.ts";
import { ContainerError } from "./errors.ts";
import { type Container, modules, STOP_TIMEOUT_MS } from "./container.ts";

/** Starts `process` in the running container with `stdio`; its host pid. */
export function execInContainer(
  c: Container,
  process: Process,
  stdio: [number, number, number],
  detached = false,
): number {
  const live = c.liveState();
  if (live.status !== "running") {
    throw new ContainerError("bad-state", `cannot exec in a ${live.status} container`);
  }
  const args: ExecArgs = {
    Filename: process.args?.[0] ?? "",
    argv: process.args ?? [],
    envv: process.env ?? [],
    wd: process.cwd,
    KUID: process.user.uid,
    KGID: process.user.gid,
    ExtraKGIDs: process.user.additionalGids ?? [],
    Capabilities: process.capabilities ?? null,
    StdioIsPty: process.terminal === true,
    ContainerID: c.id,
    ProcessJSON: JSON.stringify(process),
    Detached: detached,
  };
  try {
    // Detached: our own child, so that it ends up with the engine's subreaper (src/wrapper/exec.ts).
    if (detached) return modules().spawnDetachedExec(c.k, c.control(), args, stdio);
    return c.control().executeAsync(args, stdio);
  } catch (e) {
    throw c.notRunningOr(e);
  }
}

/**
 * The wait status of exec'd process `pid` when WaitPID could not be asked (boot stopped serving
 * meanwhile): boot records it before it stops, so this waits for boot to finish and reads the record.
 * Null when there is none.
 */
export function recordedExecStatus(c: Container, pid: number): number | null {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  for (;;) {
    const ws = c.dir.readExitStatus(pid);
    if (ws !== null || !c.bootAlive(c.rec) || Date.now() > deadline) {
      return ws ?? c.dir.readExitStatus(pid);
    }
    sleepSync(20);
  }
}
