/**
 * A container's cgroups as one object: a directory per v1 controller (co-mounted controllers share
 * one) and the unified directory, with the controllers usable there. The wrapper builds it from paths,
 * boot from the directory fds it was given; everything that reads or writes cgroup files takes it.
 */
import { type CgroupDir, fdDir } from "./fs.ts";
import { parseControllers } from "./layout.ts";
import type { Kernel } from "../../ffi/mod.ts";

/** The container's cgroup directories. */
export interface CgroupView {
  /** v1 directories by controller name ("memory", "cpu", "name=systemd", ...). */
  v1: Map<string, CgroupDir>;
  /** The unified (cgroup2) directory, if the layout has one. */
  unified: CgroupDir | null;
}

/** Controllers the unified directory offers (its cgroup.controllers). */
export function unifiedControllers(view: CgroupView): Set<string> {
  return new Set(parseControllers(view.unified?.read("cgroup.controllers") ?? null));
}

/** Where a controller's files are: its v1 directory, else the unified one when it offers it. */
export interface ControllerDir {
  version: 1 | 2;
  dir: CgroupDir;
}

/** The v2 name of a v1 controller (blkio is io on v2). */
export function v2Name(controller: string): string {
  return controller === "blkio" ? "io" : controller;
}

/** The directory that serves `controller` (v1 name), or null when no hierarchy has it. */
export function controllerDir(
  view: CgroupView,
  controller: string,
  offered?: Set<string>,
): ControllerDir | null {
  const d1 = view.v1.get(controller);
  if (d1) return { version: 1, dir: d1 };
  if (!view.unified) return null;
  const have = offered ?? unifiedControllers(view);
  return have.has(v2Name(controller)) ? { version: 2, dir: view.unified } : null;
}

/** Marker files that tell which v1 controller a directory belongs to. */
const V1_MARKERS: ReadonlyArray<[string, string]> = [
  ["memory", "memory.limit_in_bytes"],
  ["cpu", "cpu.shares"],
  ["cpuacct", "cpuacct.usage"],
  ["cpuset", "cpuset.cpus"],
  ["pids", "pids.max"],
  ["freezer", "freezer.state"],
  ["devices", "devices.list"],
  ["blkio", "blkio.throttle.read_bps_device"],
  ["hugetlb", "hugetlb.2MB.limit_in_bytes"],
  ["net_cls", "net_cls.classid"],
  ["net_prio", "net_prio.ifpriomap"],
  ["perf_event", "perf_event.ignored"],
  ["rdma", "rdma.max"],
];

/**
 * The view over directory fds (boot's --cgroup-fd): a directory with cgroup.controllers is the unified
 * one; a v1 directory is known by its controllers' files.
 */
export function viewFromFds(k: Kernel, fds: readonly number[]): CgroupView {
  const view: CgroupView = { v1: new Map(), unified: null };
  for (const fd of fds) {
    const dir = fdDir(k, fd);
    if (dir.has("cgroup.controllers")) {
      view.unified = dir;
      continue;
    }
    for (const [controller, marker] of V1_MARKERS) if (dir.has(marker)) view.v1.set(controller, dir);
  }
  return view;
}
