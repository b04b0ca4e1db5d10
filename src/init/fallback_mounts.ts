/**
 * Mounts a user namespace may be refused, and their stand-ins. The kernel lets root of a user namespace
 * mount sysfs only with a network namespace it owns, and cgroup hierarchies only with a cgroup namespace
 * it owns (EPERM otherwise). Then, as runc does for cgroups (and for /sys in its rootless specs), a bind of
 * the host's view stands in: /sys read-only, and the container's own cgroup directory of each hierarchy.
 */
import { Errno, isErrno, type Kernel, MOUNT_ATTR, MS } from "../../ffi/mod.ts";
import { detectLayout, directoryOf, type Hierarchy } from "../cgroups/layout.ts";
import { readText } from "../specutils/read_all.ts";

const ATTRS: Array<[number, number]> = [
  [MS.RDONLY, MOUNT_ATTR.RDONLY],
  [MS.NOSUID, MOUNT_ATTR.NOSUID],
  [MS.NODEV, MOUNT_ATTR.NODEV],
  [MS.NOEXEC, MOUNT_ATTR.NOEXEC],
];

/**
 * Binds host path `source` on `target` (an fd path) and sets the restricting bits of `flags` (ro, nosuid,
 * nodev, noexec) on it, and with `recursive` on every mount below (mount_setattr: a remount would have to
 * repeat the flags the kernel locked on the host's mounts). `reopen` opens the target again: an fd taken
 * before the bind names the directory under it.
 */
export function bindWithFlags(
  k: Kernel,
  source: string,
  target: string,
  reopen: () => number,
  flags: number,
  recursive: boolean,
): void {
  k.mount(source, target, "", MS.BIND | (recursive ? MS.REC : 0));
  const attrs = ATTRS.reduce((a, [ms, attr]) => (flags & ms ? a | attr : a), 0);
  if (!attrs) return;
  const fd = reopen();
  try {
    k.mountSetattr(fd, recursive, attrs, 0);
  } finally {
    k.close(fd);
  }
}

/** True when this process is outside the initial user namespace (its uid_map is not the identity). */
export function inUserNamespace(k: Kernel): boolean {
  return readText(k, "/proc/self/uid_map").trim().split(/\s+/).join(" ") !== "0 0 4294967295";
}

/** True for the refusal a stand-in answers: EPERM inside a user namespace. */
export function refusedInUserNamespace(k: Kernel, e: unknown): boolean {
  return isErrno(e, Errno.EPERM) && inUserNamespace(k);
}

/** The host directory of this process's own cgroup in the hierarchy `pick` chooses. */
export function ownCgroupDir(k: Kernel, pick: (h: Hierarchy) => boolean): string {
  const h = detectLayout(readText(k, "/proc/self/cgroup")).hierarchies.find(pick);
  if (!h) throw new Error("the cgroup hierarchy is not mounted here");
  return directoryOf(h, h.own);
}

/** Where sysfs is mounted whole in this mount namespace (the host's /sys), from /proc/self/mountinfo. */
function sysfsMount(): string {
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const [left, right] = line.split(" - ");
    const f = left?.split(" ") ?? [];
    if (right?.startsWith("sysfs ") && f[3] === "/") {
      return f[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    }
  }
  throw new Error("sysfs cannot be mounted in this user namespace, and there is no /sys to bind");
}

/**
 * mount(2) of a filesystem; in a user namespace that may not mount it (EPERM), the stand-in: for sysfs a
 * read-only recursive bind of the host's /sys, for cgroup2 a bind of the container's own cgroup directory.
 * Every other refusal is thrown as it is.
 */
export function mountOrBind(
  k: Kernel,
  source: string,
  target: string,
  reopen: () => number,
  fstype: string,
  flags: number,
  data?: string,
): void {
  try {
    k.mount(source, target, fstype, flags, data);
    return;
  } catch (e) {
    if ((fstype !== "sysfs" && fstype !== "cgroup2") || !refusedInUserNamespace(k, e)) throw e;
  }
  if (fstype === "sysfs") bindWithFlags(k, sysfsMount(), target, reopen, flags | MS.RDONLY, true);
  else bindWithFlags(k, ownCgroupDir(k, (h) => h.version === 2), target, reopen, flags, false);
}
