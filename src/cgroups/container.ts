/**
 * A container's cgroups as the wrapper handles them: made and filled before boot starts, handed to
 * boot as directory fds, changed by `update`, removed by `delete`. Everything is synchronous.
 */
import { type Kernel, O } from "../../ffi/mod.ts";
import type { LinuxResources, Spec } from "../specutils/spec.ts";
import { type CgroupFs, hostCgroupFs } from "./fs.ts";
import { detectLayout, type Layout } from "./layout.ts";
import { resolveCgroupsPath } from "./path.ts";
import { type CgroupRecord, createCgroups, destroyCgroups, plannedDirs, viewOf } from "./manager.ts";
import { applyResources, v2ControllersFor } from "./resources.ts";
import { deviceRules } from "./devices.ts";
import { type CgroupStats, readStats } from "./stats.ts";
import { isFrozen, setFrozen } from "./freezer.ts";

export type { CgroupRecord } from "./manager.ts";

/** How the wrapper sets up cgroups. */
export interface SetupOptions {
  /** --systemd-cgroup: cgroupsPath is "slice:prefix:name". */
  systemd: boolean;
  /** --rootless: cgroups the user may not make are skipped (with a warning) instead of failing. */
  rootless?: boolean;
  /** Receives notices about resources that are not enforced here. */
  warn(msg: string): void;
  /**
   * Called before the first directory is made, with a record that counts every directory the setup may
   * make (so a kill part-way leaves a trace to clean up), and again once they exist (or, after a failure,
   * are removed again), with the record of exactly those made.
   */
  record?(rec: CgroupRecord): void;
  /** The layout (default: this process's, from /proc/self). */
  layout?: Layout;
  /** The cgroup filesystem (default: the host's). */
  fs?: CgroupFs;
}

/**
 * Makes the container's cgroups and applies `linux.resources`. On failure nothing is left behind and
 * the error says what failed. Without root (rootless), a refused mkdir means "no cgroups": null.
 */
export function setUpCgroups(k: Kernel, spec: Spec, id: string, opts: SetupOptions): CgroupRecord | null {
  const layout = opts.layout ?? detectLayout();
  const fs = opts.fs ?? hostCgroupFs(k);
  const target = resolveCgroupsPath(spec.linux?.cgroupsPath, id, opts.systemd);
  const rec: CgroupRecord = { mode: layout.mode, dirs: plannedDirs(layout, target), created: [] };
  const resources: LinuxResources = spec.linux?.resources ?? {};
  let recorded = false;
  try {
    createCgroups(fs, layout, rec, {
      needV2: v2ControllersFor(resources),
      claim: !spec.linux?.cgroupsPath,
      planned: (intent) => {
        recorded = true;
        opts.record?.(intent);
      },
    });
    opts.record?.(rec);
    applyResources(viewOf(fs, rec), resources, {
      k,
      warn: opts.warn,
      devices: deviceRules(resources.devices, spec.linux?.devices),
    });
  } catch (e) {
    try {
      destroyCgroups(k, fs, rec);
    } catch (undo) {
      opts.warn(`cleaning up after a failed cgroup setup: ${(undo as Error).message}`);
    }
    // The planned record overstates what was made: the exact one, for the caller's own clean-up.
    if (recorded) opts.record?.(rec);
    const unprivileged = opts.rootless === true || k.getuid() !== 0;
    if (unprivileged && rec.created.length === 0 && /EACCES|EPERM|EROFS/.test((e as Error).message)) {
      opts.warn(`no cgroups for container ${id}: ${(e as Error).message}`);
      return null;
    }
    throw new Error(`setting up cgroups: ${(e as Error).message}`);
  }
  return rec;
}

/**
 * Opens each of the container's cgroup directories (O_RDONLY|O_DIRECTORY|O_CLOEXEC) for boot's
 * --cgroup-fd. The caller closes them.
 */
export function openCgroupDirs(k: Kernel, rec: CgroupRecord): number[] {
  const fds: number[] = [];
  try {
    for (const dir of Object.values(rec.dirs)) fds.push(k.open(dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC));
  } catch (e) {
    for (const fd of fds) k.close(fd);
    throw e;
  }
  return fds;
}

/** Applies changed resources to a running container (`update`). */
export function updateCgroups(
  k: Kernel,
  rec: CgroupRecord,
  resources: LinuxResources,
  spec: Spec,
  warn: (msg: string) => void,
  fs: CgroupFs = hostCgroupFs(k),
): void {
  applyResources(viewOf(fs, rec), resources, {
    k,
    warn,
    devices: resources.devices ? deviceRules(resources.devices, spec.linux?.devices) : null,
  });
}

/** The container's usage numbers. */
export function cgroupStats(k: Kernel, rec: CgroupRecord, fs: CgroupFs = hostCgroupFs(k)): CgroupStats {
  return readStats(viewOf(fs, rec));
}

/** Kills what is left in the container's cgroups and removes the directories runts made. */
export function removeCgroups(k: Kernel, rec: CgroupRecord, fs: CgroupFs = hostCgroupFs(k)): void {
  destroyCgroups(k, fs, rec);
}

/** Thaws the container when it is frozen (so a SIGKILL sent to it can take effect). */
export function thawCgroups(k: Kernel, rec: CgroupRecord, fs: CgroupFs = hostCgroupFs(k)): void {
  const view = viewOf(fs, rec);
  if (isFrozen(view)) setFrozen(view, false);
}
