/**
 * Where a container's cgroup goes, from `linux.cgroupsPath`:
 * - absolute ("/libpod_parent/libpod-ID"): that path from the root of every hierarchy;
 * - relative ("a/b"), and empty (as "ID"): where runc's drivers put a relative path (see cgroupPathIn),
 *   so the container stays inside the caller's cgroup and the limits put on the caller still hold;
 * - with --systemd-cgroup, the systemd form "slice:prefix:name" (empty: "system.slice:runts:ID"). runts
 *   does not talk to systemd: it creates the directories systemd would use for that unit,
 *   /<expanded slice>/<prefix>-<name>.scope (a name ending in ".slice" is a slice of its own).
 */
import { type Hierarchy, isWithin, type LayoutMode } from "./layout.ts";

/** A resolved cgroupsPath. */
export interface CgroupTarget {
  /** Absolute cgroup path, or a path relative to the caller's own cgroup. */
  path: string;
  relative: boolean;
}

/** Cleans a cgroup path like Go's filepath.Clean; ".." cannot climb above the start. */
export function cleanPath(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length) out.pop();
      continue;
    }
    out.push(part);
  }
  return (abs ? "/" : "") + out.join("/");
}

/**
 * systemd's slice expansion: "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root.
 */
export function expandSlice(slice: string): string {
  if (!slice.endsWith(".slice") || slice.includes("/")) {
    throw new Error(`invalid slice name ${JSON.stringify(slice)}`);
  }
  const name = slice.slice(0, -".slice".length);
  if (name === "-") return "/";
  if (name === "" || name.startsWith("-") || name.endsWith("-") || name.includes("--")) {
    throw new Error(`invalid slice name ${JSON.stringify(slice)}`);
  }
  let path = "";
  let prefix = "";
  for (const part of name.split("-")) {
    prefix = prefix ? `${prefix}-${part}` : part;
    path += `/${prefix}.slice`;
  }
  return path;
}

/** The cgroupfs path of a systemd-form cgroupsPath "slice:prefix:name". */
export function systemdPath(cgroupsPath: string, id: string): string {
  const spec = cgroupsPath || `system.slice:runts:${id}`;
  const parts = spec.split(":");
  if (parts.length !== 3) {
    throw new Error(
      `expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got ${
        JSON.stringify(spec)
      }`,
    );
  }
  const [slice, prefix, name] = parts;
  if (!name || name.includes("/")) throw new Error(`invalid unit name ${JSON.stringify(name)} in ${spec}`);
  if (name.endsWith(".slice")) return expandSlice(name);
  const unit = prefix ? `${prefix}-${name}.scope` : `${name}.scope`;
  const parent = expandSlice(slice || "system.slice");
  return parent === "/" ? `/${unit}` : `${parent}/${unit}`;
}

/** Resolves a container's cgroupsPath (see the module comment). */
export function resolveCgroupsPath(
  cgroupsPath: string | undefined,
  id: string,
  systemd: boolean,
): CgroupTarget {
  if (systemd) return { path: systemdPath(cgroupsPath ?? "", id), relative: false };
  if (!cgroupsPath) return { path: id, relative: true };
  if (cgroupsPath.startsWith("/")) {
    const path = cleanPath(cgroupsPath);
    if (path === "/") throw new Error("cgroupsPath must not be the root cgroup");
    return { path, relative: false };
  }
  const path = cleanPath(cgroupsPath);
  if (path === "") throw new Error(`invalid cgroupsPath ${JSON.stringify(cgroupsPath)}`);
  return { path, relative: true };
}

/**
 * The cgroup path of `target` in hierarchy `h` of a `mode` layout. A relative target goes where runc
 * (1.1, and its main branch) puts it:
 * - a v1 hierarchy: below our own cgroup (libcontainer's fs driver, GetOwnCgroupPath);
 * - pure v2: below the parent of our own cgroup (fs2's defaultDirPath: our own cgroup holds processes,
 *   so it could not enable controllers for a child);
 * - the unified hierarchy of a hybrid host: from its root (fs joins /sys/fs/cgroup/unified/<path>), but
 *   for a rootless runtime as on pure v2, where a subtree delegated to the caller is.
 */
export function cgroupPathIn(h: Hierarchy, target: CgroupTarget, mode: LayoutMode, rootless = false): string {
  if (!target.relative) return target.path;
  // Our own cgroup as the mount shows it: outside the mount's root it cannot be reached.
  const own = isWithin(h.own, h.mountRoot) ? h.own : h.mountRoot;
  let base = own;
  if (h.version === 2 && mode === "hybrid" && !rootless) base = h.mountRoot;
  else if (h.version === 2) {
    const up = own.slice(0, own.lastIndexOf("/")) || "/";
    base = isWithin(up, h.mountRoot) ? up : h.mountRoot;
  }
  return base === "/" ? `/${target.path}` : `${base}/${target.path}`;
}
