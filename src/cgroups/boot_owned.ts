/**
 * boot's own cgroup, for `boot --total-memory B` / `--cpu-num N` when no wrapper handed it cgroup fds
 * (someone drives boot directly). boot's first stage (root, still in the host's mount namespace) makes
 * "runts-<id>" below its own cgroup in every v1 hierarchy, so limits the caller put on boot still hold,
 * and "/runts-<id>" at the root of a cgroup v2 hierarchy (a v2 cgroup that holds processes, as boot's
 * own does, cannot delegate controllers). There it sets memory.limit_in_bytes / memory.max to B and
 * the first N allowed CPUs as the cpuset. The directories are passed on as fds, like a wrapper's; the
 * parents' fds let boot remove them after its chroot (unlinkat AT_REMOVEDIR) once the container is gone.
 */
import { AT, Errno, isErrno, type Kernel, O } from "../../ffi/mod.ts";
import { hostCgroupFs } from "./fs.ts";
import { detectLayout, directoryOf, type Layout } from "./layout.ts";
import { cgroupPathIn } from "./path.ts";
import { type CgroupRecord, createCgroups, destroyCgroups, killAll, viewOf } from "./manager.ts";
import { applyResources } from "./resources.ts";
import { viewFromFds } from "./view.ts";
import type { LinuxResources } from "../specutils/spec.ts";
import { sleepSync } from "../util/sleep.ts";

/** The fds of boot's own cgroups. */
export interface OwnedCgroups {
  /** The container's cgroup directories (not CLOEXEC: they survive boot's re-exec). */
  dirFds: number[];
  /** Their parents, where "runts-<id>" is removed at the end (not CLOEXEC either). */
  parentFds: number[];
}

/** The name of boot's own cgroup directory in each hierarchy. */
export function ownedName(id: string): string {
  return `runts-${id}`;
}

/** Parses a cpu list ("0-3,6") into cpu numbers. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(",").filter(Boolean)) {
    const [a, b] = part.split("-").map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** The first `n` cpus this process may run on, as a cpu list. */
function firstCpus(n: number): string {
  const status = Deno.readTextFileSync("/proc/self/status");
  const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? "0";
  return parseCpuList(allowed).slice(0, n).join(",");
}

/**
 * Makes boot's own cgroups with the memory limit and cpu count; null (after `warn`) when this host or
 * user cannot have them.
 */
export function createOwnedCgroups(
  k: Kernel,
  id: string,
  totalMem: bigint,
  cpuNum: number,
  warn: (msg: string) => void,
  layout: Layout = detectLayout(),
): OwnedCgroups | null {
  const fs = hostCgroupFs(k);
  const name = ownedName(id);
  const dirs: Record<string, string> = {};
  for (const h of layout.hierarchies) {
    const path = h.version === 1 ? cgroupPathIn(h, { path: name, relative: true }, layout.mode) : `/${name}`;
    dirs[h.key] = directoryOf(h, path);
  }
  for (const d of Object.values(dirs)) if (fs.exists(d)) throw new Error(`cgroup ${d} already exists`);
  const rec: CgroupRecord = { mode: layout.mode, dirs, created: [] };
  const resources: LinuxResources = {};
  if (totalMem > 0n) resources.memory = { limit: Number(totalMem) };
  if (cpuNum > 0) resources.cpu = { cpus: firstCpus(cpuNum) };
  const needV2 = [...(resources.memory ? ["memory"] : []), ...(resources.cpu ? ["cpuset"] : [])];
  const opened: number[] = [];
  try {
    createCgroups(fs, layout, rec, { needV2 });
    applyResources(viewOf(fs, rec), resources, { k, warn });
    const owned: OwnedCgroups = { dirFds: [], parentFds: [] };
    const open = (path: string) => {
      const fd = k.open(path, O.RDONLY | O.DIRECTORY);
      opened.push(fd);
      return fd;
    };
    for (const d of Object.values(dirs)) {
      owned.dirFds.push(open(d));
      owned.parentFds.push(open(d.slice(0, d.lastIndexOf("/"))));
    }
    return owned;
  } catch (e) {
    for (const fd of opened) k.close(fd);
    try {
      destroyCgroups(k, fs, rec);
    } catch (undo) {
      warn(`removing boot's cgroups after a failure: ${(undo as Error).message}`);
    }
    if (rec.created.length === 0 && /EACCES|EPERM|EROFS/.test((e as Error).message)) {
      warn(`--total-memory/--cpu-num: no cgroup for the container (${(e as Error).message})`);
      return null;
    }
    throw e;
  }
}

/** rmdir attempts (20 ms apart) while the container's last processes leave. */
const RMDIR_ATTEMPTS = 50;

/**
 * Removes boot's own cgroups through the fds (boot may be in its chroot by now): kills what is left
 * in them, then unlinkat(parent, "runts-<id>", AT_REMOVEDIR) under each parent.
 */
export function removeOwnedCgroups(k: Kernel, id: string, owned: OwnedCgroups): void {
  killAll(k, viewFromFds(k, owned.dirFds));
  const errors: string[] = [];
  for (const parent of owned.parentFds) {
    for (let i = 0;; i++) {
      try {
        k.unlinkat(parent, ownedName(id), AT.REMOVEDIR);
        break;
      } catch (e) {
        if (isErrno(e, Errno.ENOENT)) break;
        if (!isErrno(e, Errno.EBUSY) || i >= RMDIR_ATTEMPTS - 1) {
          errors.push((e as Error).message);
          break;
        }
        sleepSync(20);
      }
    }
  }
  if (errors.length) throw new Error(`removing boot's cgroups: ${errors.join("; ")}`);
}
