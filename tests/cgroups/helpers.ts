/** What the cgroup tests share: the record runts keeps, reading limit files, a bundle with resources. */
import type { CgroupRecord } from "../../src/cgroups/manager.ts";
import type { LinuxResources, Spec } from "../../src/specutils/spec.ts";
import { makeBundle } from "../util/rootfs.ts";

/** True when these tests can touch cgroups for real: root, and a cgroup filesystem mounted. */
export function canUseCgroups(): boolean {
  if (Deno.uid() !== 0) return false;
  try {
    return Deno.readTextFileSync("/proc/self/mountinfo").includes(" - cgroup");
  } catch {
    return false;
  }
}

/** The cgroup record of container `id` under state root `root`. */
export function recordOf(root: string, id: string): CgroupRecord {
  const rec = JSON.parse(Deno.readTextFileSync(`${root}/${id}/state.json`)).cgroups as
    | CgroupRecord
    | undefined;
  if (!rec) throw new Error(`container ${id} has no cgroups recorded`);
  return rec;
}

/**
 * The content of a controller's file for the container: the v1 file in the controller's hierarchy when
 * there is one, else the v2 file in the unified directory.
 */
export function limitFile(rec: CgroupRecord, controller: string, v1: string, v2: string): string {
  const key = Object.keys(rec.dirs).find((k) => k !== "unified" && k.split(",").includes(controller));
  const path = key ? `${rec.dirs[key]}/${v1}` : `${rec.dirs.unified}/${v2}`;
  return Deno.readTextFileSync(path).trim();
}

/** True when none of the record's directories exists any more. */
export function allGone(rec: CgroupRecord): boolean {
  return Object.values(rec.dirs).every((d) => {
    try {
      Deno.statSync(d);
      return false;
    } catch {
      return true;
    }
  });
}

/** A bundle running `script` with `resources` merged into the default ones (deny-all devices). */
export function cgroupBundle(
  script: string,
  resources: LinuxResources,
  more?: (spec: Spec) => void,
): { dir: string; cleanup(): void } {
  return makeBundle({
    args: ["/bin/sh", "-c", script],
    mutate: (s) => {
      s.linux!.resources = { ...s.linux!.resources, ...resources };
      more?.(s);
    },
  });
}

/** "key value" lines as a map. */
export function keyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}
