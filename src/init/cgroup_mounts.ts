/**
 * The container's own /sys/fs/cgroup on a host with v1 hierarchies, as runc makes it: a tmpfs holding one
 * v1 mount per hierarchy ("memory", "cpu,cpuacct" with a symlink per controller, "systemd" for
 * name=systemd), each showing the container's cgroup as its root because init is in a new cgroup
 * namespace by then. The app reads its limits where it expects them (memory/memory.limit_in_bytes).
 * A read-only mount makes the hierarchies read-only; the tmpfs holding them stays writable, as with runc.
 */
import { AT, type Kernel, MNT_DETACH, MS, O } from "../../ffi/mod.ts";
import { parseProcCgroup } from "../cgroups/layout.ts";
import { bindWithFlags, ownCgroupDir, refusedInUserNamespace } from "./fallback_mounts.ts";
import { readText } from "../specutils/read_all.ts";

const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

/**
 * Without a cgroup namespace the container's cgroup is a subdirectory of the hierarchy: mount the
 * hierarchy at a staging directory, bind just that subdirectory (as runc does), then drop the staging
 * mount. The staging mount never reaches the container.
 */
function bindOwnCgroup(k: Kernel, top: number, dir: string, path: string, flags: number, data: string): void {
  const stage = ".runts-stage";
  const openDir = (name: string, at = top) =>
    k.open(name, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, at);
  k.mkdirat(top, stage, 0o700);
  const stageFd = openDir(stage);
  try {
    k.mount("cgroup", fdPath(stageFd), "cgroup", flags & ~MS.RDONLY, data);
  } catch (e) {
    k.unlinkat(top, stage, AT.REMOVEDIR);
    throw e;
  } finally {
    k.close(stageFd);
  }
  // An fd opened before a mount names the covered directory: reopen to reach what was mounted.
  const hierarchy = openDir(stage);
  try {
    const own = openDir(path.replace(/^\/+/, "") || ".", hierarchy);
    const sub = openDir(dir);
    try {
      k.mount(fdPath(own), fdPath(sub), "", MS.BIND);
    } finally {
      k.close(sub);
      k.close(own);
    }
    if (flags & MS.RDONLY) {
      const bound = openDir(dir);
      try {
        const keep = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
        k.mount("", fdPath(bound), "", MS.BIND | MS.REMOUNT | MS.RDONLY | keep);
      } finally {
        k.close(bound);
      }
    }
    k.umount2(fdPath(hierarchy), MNT_DETACH);
  } finally {
    k.close(hierarchy);
  }
  k.unlinkat(top, stage, AT.REMOVEDIR);
}

/**
 * Mounts the v1 tree at `target` (an fd path of the destination) and returns true; false when it does
 * not apply (no v1 hierarchy), and the caller mounts cgroup2 as usual. Without a cgroup namespace each
 * hierarchy shows only the container's own cgroup (bindOwnCgroup). `reopen` opens the destination again,
 * which after the tmpfs is mounted on it is the tmpfs.
 */
export function mountCgroupV1Tree(
  k: Kernel,
  target: string,
  reopen: () => number,
  flags: number,
  // Read through the Kernel: init has joined the container's cgroups.
  procCgroup: string = readText(k, "/proc/self/cgroup"),
): boolean {
  const lines = parseProcCgroup(procCgroup);
  const v1 = lines.filter((l) => l.controllers.length > 0);
  if (v1.length === 0) return false;
  const perMount = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
  k.mount("tmpfs", target, "tmpfs", perMount, "mode=755");
  const top = reopen();
  const openDir = (name: string) => k.open(name, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, top);
  try {
    for (const l of v1) {
      const named = l.controllers.find((c) => c.startsWith("name="));
      const dir = named ? named.slice("name=".length) : l.controllers.join(",");
      k.mkdirat(top, dir, 0o755);
      const sub = k.open(dir, O.PATH | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0, top);
      const data = named ? `none,${named}` : l.controllers.join(",");
      try {
        if (l.path === "/") k.mount("cgroup", fdPath(sub), "cgroup", flags, data);
        else bindOwnCgroup(k, top, dir, l.path, flags, data);
      } catch (e) {
        // A user namespace without a cgroup namespace of its own may not mount hierarchies: runc binds.
        if (!refusedInUserNamespace(k, e)) throw e;
        const key = l.controllers.join(",");
        const own = ownCgroupDir(k, (h) => h.version === 1 && h.key === key);
        bindWithFlags(k, own, fdPath(sub), () => openDir(dir), flags, false);
      } finally {
        k.close(sub);
      }
      if (!named && l.controllers.length > 1) { for (const c of l.controllers) k.symlinkat(dir, top, c); }
    }
  } finally {
    k.close(top);
  }
  return true;
}
