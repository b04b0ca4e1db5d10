/**
 * uid/gid mappings (linux.uidMappings, linux.gidMappings, and a mount's own for idmapped mounts): the rules
 * the kernel applies when /proc/PID/uid_map is written, checked up front so a bad mapping fails with a
 * clear error before anything is created, and the text the kernel expects.
 */
import type { Linux, LinuxIDMapping, Mount, Process } from "./spec.ts";
import { SpecError } from "./errors.ts";

/** The kernel's limit on ranges per map (UID_GID_MAP_MAX_EXTENTS). */
export const MAX_EXTENTS = 340;
/** The highest id a range may reach: (u32)-1 is never a valid id, and a range may not wrap. */
const ID_MAX = 0xffffffff;

function fail(message: string): never {
  throw new SpecError(`spec: ${message}`);
}

function overlaps(a0: number, an: number, b0: number, bn: number): boolean {
  return a0 < b0 + bn && b0 < a0 + an;
}

/**
 * Checks one map (`field` names it in messages, e.g. `linux.uidMappings`): at least one and at most 340
 * ranges, each of a positive size that neither wraps nor reaches 4294967295 on either side, and no two
 * overlapping on the container side or on the host side (the kernel refuses both with EINVAL).
 */
export function validateIdMap(map: readonly LinuxIDMapping[], field: string): void {
  if (map.length === 0) fail(`${field} must not be empty`);
  if (map.length > MAX_EXTENTS) fail(`${field} has ${map.length} ranges, at most ${MAX_EXTENTS} allowed`);
  map.forEach((m, i) => {
    const at = `${field}[${i}]`;
    if (m.size === 0) fail(`${at}.size must be at least 1`);
    for (const side of ["containerID", "hostID"] as const) {
      if (m[side] + m.size > ID_MAX) {
        fail(`${at}: ${side} ${m[side]} + size ${m.size} goes past the highest id ${ID_MAX - 1}`);
      }
    }
    for (let j = 0; j < i; j++) {
      const o = map[j];
      if (overlaps(m.containerID, m.size, o.containerID, o.size)) {
        fail(`${at} overlaps ${field}[${j}] on the container side (ids ${describe(o, "containerID")})`);
      }
      if (overlaps(m.hostID, m.size, o.hostID, o.size)) {
        fail(`${at} overlaps ${field}[${j}] on the host side (ids ${describe(o, "hostID")})`);
      }
    }
  });
}

function describe(m: LinuxIDMapping, side: "containerID" | "hostID"): string {
  return `${m[side]}-${m[side] + m.size - 1}`;
}

/** The host id that container id `id` maps to, or null when no range holds it. */
export function hostId(map: readonly LinuxIDMapping[], id: number): number | null {
  for (const m of map) {
    if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + id - m.containerID;
  }
  return null;
}

/**
 * Checks that the ids the container's init and process need are mapped: root (init becomes uid and gid 0
 * of the namespace to build the container, as runc does), the process's uid, gid and additional gids.
 */
export function validateMappedUser(
  uids: readonly LinuxIDMapping[],
  gids: readonly LinuxIDMapping[],
  p: Process,
): void {
  if (hostId(uids, 0) === null) fail("linux.uidMappings must map container uid 0 (the container's root)");
  if (hostId(gids, 0) === null) fail("linux.gidMappings must map container gid 0 (the container's root)");
  const user = p.user ?? { uid: 0, gid: 0 };
  if (hostId(uids, user.uid) === null) {
    fail(`process.user.uid ${user.uid} is not mapped by linux.uidMappings`);
  }
  if (hostId(gids, user.gid) === null) {
    fail(`process.user.gid ${user.gid} is not mapped by linux.gidMappings`);
  }
  for (const g of user.additionalGids ?? []) {
    if (hostId(gids, g) === null) {
      fail(`process.user.additionalGids: gid ${g} is not mapped by linux.gidMappings`);
    }
  }
}

/** A map as /proc/PID/uid_map takes it: one `container host size` line per range. */
export function mapText(map: readonly LinuxIDMapping[]): string {
  return map.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
}

/** Parses /proc/PID/uid_map (or gid_map) text back into ranges. */
export function parseMapText(text: string): LinuxIDMapping[] {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const [containerID, hostID, size] = l.split(/\s+/).map(Number);
    return { containerID, hostID, size };
  });
}

/** True when two maps hold the same ranges (in any order). */
export function sameMap(a: readonly LinuxIDMapping[], b: readonly LinuxIDMapping[]): boolean {
  const key = (m: readonly LinuxIDMapping[]) => mapText([...m].sort((x, y) => x.containerID - y.containerID));
  return key(a) === key(b);
}

/**
 * The user namespace rules of the semantic pass: maps only with a user namespace; a new one needs both
 * maps (valid ones, mapping root and the process's ids); a joined one may repeat its maps (init checks
 * that they agree).
 */
export function validateUserNamespace(l: Linux, p: Process): void {
  const user = l.namespaces?.find((ns) => ns.type === "user");
  const uids = l.uidMappings ?? [], gids = l.gidMappings ?? [];
  if (!user) {
    for (const [k, m] of [["uidMappings", uids], ["gidMappings", gids]] as const) {
      if (m.length) fail(`linux.${k} requires a user namespace`);
    }
    return;
  }
  if (uids.length) validateIdMap(uids, "linux.uidMappings");
  if (gids.length) validateIdMap(gids, "linux.gidMappings");
  if (user.path) return;
  if (!uids.length || !gids.length) {
    fail(
      "a new user namespace needs linux.uidMappings and linux.gidMappings (or a namespace path to join): " +
        `got ${uids.length ? "no gidMappings" : gids.length ? "no uidMappings" : "neither"}`,
    );
  }
  validateMappedUser(uids, gids, p);
}

/** How one mount is idmapped: its maps and whether they apply to every submount (ridmap). */
export interface MountIdMap {
  uids: LinuxIDMapping[];
  gids: LinuxIDMapping[];
  recursive: boolean;
}

/** True when a mount asks for an idmapping (an idmap or ridmap option, or maps of its own). */
export function isIdmapped(m: Mount): boolean {
  return !!(m.uidMappings?.length || m.gidMappings?.length) ||
    (m.options ?? []).some((o) => o === "idmap" || o === "ridmap");
}

/**
 * The idmapping of mount `m` (`at` names it in messages), or null for a plain mount. Its own maps when it
 * has them (a mount with maps but no option is idmapped non-recursively, as runc treats it); otherwise,
 * for idmap/ridmap alone, the container's user namespace maps from `linux`, or an error without them.
 */
export function mountIdMap(m: Mount, linux: Linux | undefined, at: string): MountIdMap | null {
  if (!isIdmapped(m)) return null;
  const recursive = (m.options ?? []).includes("ridmap");
  if (m.uidMappings?.length || m.gidMappings?.length) {
    return { uids: m.uidMappings ?? [], gids: m.gidMappings ?? [], recursive };
  }
  const user = linux?.namespaces?.find((ns) => ns.type === "user");
  if (!user || !linux?.uidMappings?.length || !linux?.gidMappings?.length) {
    fail(
      `${at}: ${recursive ? "ridmap" : "idmap"} without uidMappings and gidMappings of its own needs the ` +
        `container's user namespace maps (linux.uidMappings and linux.gidMappings)${
          user ? "" : ", and there is no user namespace"
        }`,
    );
  }
  return { uids: linux.uidMappings, gids: linux.gidMappings, recursive };
}

/** The idmap rules a mount must follow on its own (validateMount): maps in pairs, valid, bind mounts only. */
export function validateMountIdMap(m: Mount, at: string, bind: boolean): void {
  if (!isIdmapped(m)) return;
  const opts = (m.options ?? []).filter((o) => o === "idmap" || o === "ridmap");
  if (opts.length > 1) fail(`${at}.options: at most one of idmap and ridmap may be given`);
  const uids = m.uidMappings ?? [], gids = m.gidMappings ?? [];
  if (!uids.length !== !gids.length) fail(`${at}: uidMappings and gidMappings must be given together`);
  if (uids.length) {
    validateIdMap(uids, `${at}.uidMappings`);
    validateIdMap(gids, `${at}.gidMappings`);
  }
  if (!bind) fail(`${at}: idmapped mounts are supported for bind mounts only`);
}
