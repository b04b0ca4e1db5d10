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
  /**
   * A rootless runtime (src/util/privilege.ts rootlessCgroups): the container's cgroups go where a
   * subtree is delegated to the caller, and each hierarchy where the caller may not make them is left
   * out with a warning (its limits are then not enforced) instead of failing. Default: a caller that is
   * not root.
   */
  rootless?: boolean;
  /** Receives notices about resources that are not enforced here. */
  warn(msg: string): void;
  /**
   * Called with the record before the first directory is made and again once they exist, so a crash
   * leaves a trace to clean up.
   */
  record?(rec: CgroupRecord): void;
  /** The layout (default: this process's, from /proc/self). */
  layout?: Layout;
  /** The cgroup filesystem (default: the host's). */
  fs?: CgroupFs;
}

/** Errors that mean "this cgroup is not the caller's" (a rootless runtime then goes without it). */
const REFUSED = /\b(EACCES|EPERM|EROFS)\b/;

/**
 * Makes the container's cgroups and applies `linux.resources`. On failure nothing is left behind and
 * the error says what failed. Rootless, a hierarchy whose directory the caller may not make is left
 * out with a warning, and with none left the container has no cgroups: null.
 */
export function setUpCgroups(k: Kernel, spec: Spec, id: string, opts: SetupOptions): CgroupRecord | null {
  const layout = opts.layout ?? detectLayout();
  const fs = opts.fs ?? hostCgroupFs(k);
  const rootless = opts.rootless === true || k.getuid() !== 0;
  const target = resolveCgroupsPath(spec.linux?.cgroupsPath, id, opts.systemd);
  const rec: CgroupRecord = { mode: layout.mode, dirs: plannedDirs(layout, target, rootless), created: [] };
  opts.record?.(rec);
  const resources: LinuxResources = spec.linux?.resources ?? {};
  const refused: { key: string; why: string }[] = [];
  try {
    createCgroups(fs, layout, rec, {
      needV2: v2ControllersFor(resources),
      claim: !spec.linux?.cgroupsPath,
      progress: opts.record,
      refused: rootless
        ? (h, e) => REFUSED.test(e.message) && (refused.push({ key: h.key, why: e.message }), true)
        : undefined,
    });
    if (refused.length) {
      opts.warn(
        `rootless: container ${id} has no cgroup in ${refused.map((r) => r.key).join(", ")} ` +
          `(${refused[0].why}): limits there are not enforced (give this user a cgroup subtree of its own ` +
          "to have them)",
      );
    }
    if (Object.keys(rec.dirs).length === 0) {
      destroyCgroups(k, fs, rec);
      return null;
    }
    opts.record?.(rec);
    applyResources(viewOf(fs, rec), resources, {
      k,
      warn: opts.warn,
      // Device rules need privileges over the host (v1 devices.deny, v2 bpf); as runc, rootless skips
      // them: its devices are binds of nodes the caller may open anyway.
      devices: rootless ? null : deviceRules(resources.devices, spec.linux?.devices),
    });
  } catch (e) {
    try {
      destroyCgroups(k, fs, rec);
    } catch (undo) {
      opts.warn(`cleaning up after a failed cgroup setup: ${(undo as Error).message}`);
    }
    throw new Error(`setting up cgroups: ${(e as Error).message}`);
  }
  return rec;
}

/** True when `resources` asks for a limit (device rules aside: they are access control). */
export function asksForLimits(resources: LinuxResources | undefined): boolean {
  return Object.entries(resources ?? {}).some(([key, v]) =>
    key !== "devices" && v !== undefined && v !== null && (typeof v !== "object" || Object.keys(v).length > 0)
  );
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
