/**
 * pause/resume through the freezer: v1 freezer.state (FROZEN/THAWED; FREEZING while tasks are still
 * being stopped, so the request is repeated until it settles) or v2 cgroup.freeze, whose effect
 * cgroup.events reports as "frozen 1". A freeze that does not settle in time is undone.
 */
import type { CgroupDir } from "./fs.ts";
import type { CgroupView } from "./view.ts";
import { parseKeyed } from "./stats.ts";
import { sleepSync } from "../util/sleep.ts";

/** How long a freeze may take before it is undone. */
const FREEZE_TIMEOUT_MS = 5000;
const POLL_MS = 5;

/** The freezer of a view: v1 freezer first (hybrid hosts have it), else the unified cgroup.freeze. */
export function freezerDir(view: CgroupView): { version: 1 | 2; dir: CgroupDir } | null {
  const v1 = view.v1.get("freezer");
  if (v1) return { version: 1, dir: v1 };
  if (view.unified?.has("cgroup.freeze")) return { version: 2, dir: view.unified };
  return null;
}

/** True when the container's cgroup is frozen (false without a freezer). */
export function isFrozen(view: CgroupView): boolean {
  const f = freezerDir(view);
  if (!f) return false;
  if (f.version === 1) return (f.dir.read("freezer.state") ?? "").trim() === "FROZEN";
  return parseKeyed(f.dir.read("cgroup.events")).frozen === 1;
}

/** Freezes (true) or thaws (false) every process of the container, and waits until that took effect. */
export function setFrozen(view: CgroupView, frozen: boolean, timeoutMs = FREEZE_TIMEOUT_MS): void {
  const f = freezerDir(view);
  if (!f) throw new Error("the container has no freezer cgroup (no v1 freezer, no cgroup v2)");
  const deadline = Date.now() + timeoutMs;
  if (f.version === 1) {
    const want = frozen ? "FROZEN" : "THAWED";
    for (;;) {
      f.dir.write("freezer.state", want);
      if ((f.dir.read("freezer.state") ?? "").trim() === want) return;
      if (Date.now() > deadline) break;
      sleepSync(POLL_MS);
    }
  } else {
    f.dir.write("cgroup.freeze", frozen ? "1" : "0");
    for (;;) {
      if (parseKeyed(f.dir.read("cgroup.events")).frozen === (frozen ? 1 : 0)) return;
      if (Date.now() > deadline) break;
      sleepSync(POLL_MS);
    }
  }
  let undo = "";
  if (frozen) {
    try {
      setFrozen(view, false, timeoutMs);
    } catch (e) {
      undo = `; thawing it again failed too: ${(e as Error).message}`;
    }
  }
  throw new Error(
    `${frozen ? "freezing" : "thawing"} ${f.dir.where} did not complete in ${timeoutMs} ms${undo}`,
  );
}
