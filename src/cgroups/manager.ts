/**
 * The container's cgroups from creation to removal, by path (the wrapper, and boot before its chroot):
 * one directory per mounted hierarchy (every v1 hierarchy, plus the unified one), made with their
 * missing parents. On v1 a new cpuset inherits its parent's cpus and mems (it starts empty); on v2 the
 * parents enable the controllers the container needs in cgroup.subtree_control. Only directories runts
 * made are removed again, deepest first, after the processes left in them are killed.
 */
import { Errno, isErrno, type Kernel, SIGNALS } from "../../ffi/mod.ts";
import type { CgroupDir, CgroupFs } from "./fs.ts";
import { type Hierarchy, type Layout, type LayoutMode, parseControllers, UNIFIED } from "./layout.ts";
import { directoryOf } from "./layout.ts";
import { cgroupPathIn, type CgroupTarget } from "./path.ts";
import type { CgroupView } from "./view.ts";
import { setFrozen } from "./freezer.ts";
import { sleepSync } from "../util/sleep.ts";

/** What the wrapper records about a container's cgroups (state.json). */
export interface CgroupRecord {
  mode: LayoutMode;
  /** Hierarchy key ("memory", "cpu,cpuacct", "name=systemd", "unified") → the container's directory. */
  dirs: Record<string, string>;
  /** The directories runts made, parents before children; delete removes exactly these. */
  created: string[];
}

/** rmdir attempts (20 ms apart) on a cgroup whose last processes are still leaving. */
const RMDIR_ATTEMPTS = 50;

/** The chain of directories from the hierarchy's mount point down to `dir`, mount point excluded. */
function chain(mountpoint: string, dir: string): string[] {
  const mp = mountpoint.replace(/\/+$/, "");
  if (!dir.startsWith(mp + "/")) return [];
  const out: string[] = [];
  let cur = mp;
  for (const part of dir.slice(mp.length + 1).split("/").filter(Boolean)) {
    cur += "/" + part;
    out.push(cur);
  }
  return out;
}

function parentOf(dir: string): string {
  return dir.slice(0, dir.lastIndexOf("/")) || "/";
}

/** The directory of the container in each usable hierarchy of `layout`. */
export function plannedDirs(layout: Layout, target: CgroupTarget): Record<string, string> {
  const dirs: Record<string, string> = {};
  for (const h of layout.hierarchies) dirs[h.key] = directoryOf(h, cgroupPathIn(h, target, layout.mode));
  return dirs;
}

/** The view over recorded directories. */
export function viewOf(fs: CgroupFs, rec: Pick<CgroupRecord, "dirs">): CgroupView {
  const view: CgroupView = { v1: new Map(), unified: null };
  for (const [key, path] of Object.entries(rec.dirs)) {
    const dir = fs.dir(path);
    if (key === UNIFIED) view.unified = dir;
    else for (const c of key.split(",")) view.v1.set(c, dir);
  }
  return view;
}

/** Options of createCgroups. */
export interface CreateOptions {
  /** v2 controllers the container's resources need (v2ControllersFor). */
  needV2: string[];
  /**
   * The container's directories are runts's own (the default path "/<id>"): an existing empty one is a
   * leftover to take over, one that holds processes belongs to another container (an error).
   */
  claim?: boolean;
  /**
   * Called once before the first directory is made, with a copy of the record whose `created` already
   * counts every directory this call may make (those missing now): saved then, it lets a delete after a
   * kill part-way remove what was made. One write, not one per directory: each costs a state-file save.
   */
  planned?: (intent: CgroupRecord) => void;
}

/**
 * Makes the container's directories. On a pure v2 layout every controller the root offers is enabled
 * down to the container (as runc does, so stats work); on a hybrid one only those the resources need
 * and no v1 hierarchy serves. `rec.created` is filled as directories appear, so a failure part-way
 * still leaves a record `destroyCgroups` can undo.
 */
export function createCgroups(fs: CgroupFs, layout: Layout, rec: CgroupRecord, opts: CreateOptions): void {
  const seen = new Map<string, boolean>();
  const exists = (d: string) => seen.get(d) ?? (seen.set(d, fs.exists(d)), seen.get(d)!);
  if (opts.claim) {
    for (const dir of Object.values(rec.dirs)) {
      if (!exists(dir)) continue;
      if (procsOf(fs.dir(dir)).length > 0 || fs.children(dir).length > 0) {
        throw new Error(`cgroup ${dir} is in use (another container with this id?)`);
      }
      rec.created.push(dir);
    }
  }
  if (opts.planned) {
    const missing = layout.hierarchies
      .flatMap((h) => (rec.dirs[h.key] ? chain(h.mountpoint, rec.dirs[h.key]) : []))
      .filter((d) => !rec.created.includes(d) && !exists(d));
    opts.planned({ ...rec, created: [...rec.created, ...new Set(missing)] });
  }
  for (const h of layout.hierarchies) {
    const dir = rec.dirs[h.key];
    if (!dir) continue;
    const dirs = chain(h.mountpoint, dir);
    if (h.version === 2) {
      const v1Served = new Set(layout.hierarchies.flatMap((x) => (x.version === 1 ? x.controllers : [])));
      const wanted = layout.mode === "v2"
        ? h.controllers
        : opts.needV2.filter((c) => !v1Served.has(c === "io" ? "blkio" : c));
      makeV2(fs, h, dirs, wanted, opts.needV2, rec);
    } else {
      for (const d of dirs) if (mkdirRetrying(fs, d) && !rec.created.includes(d)) rec.created.push(d);
      if (h.controllers.includes("cpuset")) inheritCpuset(fs, dirs);
    }
  }
}

/** mkdir that survives a concurrent rmdir of a parent (another container's delete). */
function mkdirRetrying(fs: CgroupFs, dir: string): boolean {
  for (let i = 0;; i++) {
    try {
      return fs.mkdir(dir);
    } catch (e) {
      if (!isErrno(e, Errno.ENOENT) || i >= 5) throw e;
      const parent = parentOf(dir);
      if (!fs.exists(parent)) mkdirRetrying(fs, parent);
    }
  }
}

function makeV2(
  fs: CgroupFs,
  h: Hierarchy,
  dirs: string[],
  wanted: string[],
  needed: string[],
  rec: CgroupRecord,
): void {
  // Each directory above the container enables the controllers for its children.
  let parent = h.mountpoint.replace(/\/+$/, "") || "/";
  for (const d of dirs) {
    const pdir = fs.dir(parent);
    const offered = new Set(parseControllers(pdir.read("cgroup.controllers")));
    const enabled = new Set(parseControllers(pdir.read("cgroup.subtree_control")));
    for (const c of wanted) {
      if (!offered.has(c) || enabled.has(c)) continue;
      try {
        pdir.write("cgroup.subtree_control", `+${c}`);
      } catch (e) {
        // Only a controller the container's limits need is worth failing for.
        if (needed.includes(c)) {
          throw new Error(
            `cannot enable the ${c} controller for ${d}: ${(e as Error).message}` +
              " (a cgroup v2 parent that holds processes cannot delegate controllers)",
          );
        }
      }
    }
    if (mkdirRetrying(fs, d) && !rec.created.includes(d)) rec.created.push(d);
    parent = d;
  }
}

/** A new v1 cpuset has empty cpus and mems, and takes no tasks until they are set: copy the parent's. */
function inheritCpuset(fs: CgroupFs, dirs: string[]): void {
  for (const d of dirs) {
    const dir = fs.dir(d);
    const parent = fs.dir(parentOf(d));
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if ((dir.read(file) ?? "").trim() !== "") continue;
      dir.write(file, (parent.read(file) ?? "").trim() || "\n");
    }
  }
}

/** The pids in a cgroup directory (cgroup.procs); [] when it is gone. */
export function procsOf(dir: CgroupDir): number[] {
  return (dir.read("cgroup.procs") ?? "").split("\n").filter((l) => /^\d+$/.test(l)).map(Number);
}

/** A directory and every cgroup below it. */
function subtree(dir: CgroupDir): CgroupDir[] {
  return [dir, ...dir.children().flatMap((name) => subtree(dir.child(name)))];
}

/**
 * The pids of every process in the container's cgroups (child cgroups included), as the reader's pid
 * namespace numbers them, sorted; from one hierarchy (each holds them all).
 */
export function cgroupPids(view: CgroupView): number[] {
  const dir = view.unified ?? view.v1.values().next().value;
  if (!dir) return [];
  return [...new Set(subtree(dir).flatMap(procsOf))].sort((a, b) => a - b);
}

/**
 * SIGKILLs every process left in the container's cgroups (child cgroups included): cgroup.kill where
 * the kernel has it (v2, including the unified hierarchy of a hybrid host), else each pid in
 * cgroup.procs. A v1 freezer is thawed after the first round so frozen tasks can die. Waits (up to
 * about 1 s) until the cgroups are empty.
 */
export function killAll(k: Kernel, view: CgroupView): void {
  const tops = [...new Set([...view.v1.values(), ...(view.unified ? [view.unified] : [])])];
  const procs = () => tops.flatMap(subtree).flatMap(procsOf);
  if (procs().length === 0) return;
  if (view.unified?.has("cgroup.kill")) view.unified.write("cgroup.kill", "1");
  for (let i = 0; i < 50; i++) {
    const left = procs();
    if (left.length === 0) return;
    for (const pid of new Set(left)) {
      try {
        k.kill(pid, SIGNALS.KILL);
      } catch (e) {
        if (!isErrno(e, Errno.ESRCH)) throw e;
      }
    }
    if (i === 0 && view.v1.has("freezer")) setFrozen(view, false);
    sleepSync(20);
  }
}

/**
 * Removes the directories runts made, deepest first; processes still in them are killed first. A parent
 * runts made for this container may hold other containers by now: it goes only when it is empty.
 */
export function destroyCgroups(k: Kernel, fs: CgroupFs, rec: CgroupRecord): void {
  const made = new Set(rec.created);
  // A cgroup that existed before the container (a shared cgroupsPath) is neither emptied nor removed.
  const own = Object.fromEntries(Object.entries(rec.dirs).filter(([, dir]) => made.has(dir)));
  killAll(k, viewOf(fs, { dirs: own }));
  const leaves = new Set(Object.values(own));
  const errors: string[] = [];
  for (const dir of [...rec.created].reverse()) {
    try {
      if (leaves.has(dir)) removeTree(fs, dir);
      else if (fs.children(dir).length === 0) removeIfUnused(fs, dir);
    } catch (e) {
      errors.push(`${dir}: ${(e as Error).message}`);
    }
  }
  if (errors.length) throw new Error(`removing cgroups: ${errors.join("; ")}`);
}

function removeIfUnused(fs: CgroupFs, dir: string): void {
  try {
    fs.rmdir(dir);
  } catch (e) {
    // Someone else's processes or cgroups moved in meanwhile: it is theirs now.
    if (!isErrno(e, Errno.EBUSY) && !isErrno(e, Errno.ENOTEMPTY)) throw e;
  }
}

/** rmdir of the container's directory and of any child cgroups made inside it (by the container itself). */
function removeTree(fs: CgroupFs, dir: string): void {
  for (const child of fs.children(dir)) removeTree(fs, `${dir}/${child}`);
  for (let i = 0;; i++) {
    try {
      fs.rmdir(dir);
      return;
    } catch (e) {
      // EBUSY: the last tasks are still exiting.
      if (!isErrno(e, Errno.EBUSY) || i >= RMDIR_ATTEMPTS - 1) throw e;
      sleepSync(20);
    }
  }
}
