/**
 * Which cgroup hierarchies this process sees and where they are mounted, from /proc/self/cgroup (the
 * hierarchies and our place in each) and /proc/self/mountinfo (their mount points). Three layouts:
 * v1 (one hierarchy per controller group), v2 (one unified hierarchy) and hybrid (v1 controllers plus a
 * unified hierarchy, usually at /sys/fs/cgroup/unified, holding the controllers v1 does not bind).
 */

/** The layout kinds. */
export type LayoutMode = "v1" | "v2" | "hybrid";

/** The key of the unified (cgroup2) hierarchy. */
export const UNIFIED = "unified";

/** One mounted hierarchy. */
export interface Hierarchy {
  /** "unified" for cgroup2; else the v1 controller list as /proc/self/cgroup names it ("cpu,cpuacct"). */
  key: string;
  version: 1 | 2;
  /** v1: the controllers bound to it ("name=systemd" for a named one); v2: those its root offers. */
  controllers: string[];
  /** Where it is mounted. */
  mountpoint: string;
  /** The cgroup the mount shows at its mount point (field 4 of mountinfo; "/" on a host). */
  mountRoot: string;
  /** This process's cgroup in the hierarchy (from /proc/self/cgroup). */
  own: string;
}

/** The cgroup layout of this process's view of the system. */
export interface Layout {
  mode: LayoutMode;
  hierarchies: Hierarchy[];
}

/** One line of /proc/self/mountinfo, the fields cgroups need. */
export interface MountEntry {
  root: string;
  mountpoint: string;
  fstype: string;
  superOptions: string[];
}

/** Undoes mountinfo's octal escapes (\040 for a space and so on). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses the cgroup and cgroup2 lines of /proc/self/mountinfo. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    if (left.length < 6 || right.length < 3) continue;
    const fstype = right[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    out.push({
      root: unescape(left[3]),
      mountpoint: unescape(left[4]),
      fstype,
      superOptions: right[2].split(","),
    });
  }
  return out;
}

/** One line of /proc/self/cgroup. */
export interface CgroupLine {
  id: number;
  /** The controllers of a v1 hierarchy; [] for the unified one. */
  controllers: string[];
  path: string;
}

/** Parses /proc/self/cgroup. */
export function parseProcCgroup(text: string): CgroupLine[] {
  const out: CgroupLine[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    out.push({ id: Number(m[1]), controllers: m[2] ? m[2].split(",") : [], path: m[3] || "/" });
  }
  return out;
}

/** True when `ancestor` is `path` or one of its ancestors (cgroup paths, "/"-separated). */
export function isWithin(path: string, ancestor: string): boolean {
  if (ancestor === "/") return true;
  return path === ancestor || path.startsWith(ancestor + "/");
}

/** Picks the mount of a hierarchy: one whose root contains our cgroup, else the first. */
function pickMount(mounts: MountEntry[], own: string): MountEntry | undefined {
  return mounts.find((m) => isWithin(own, m.root)) ?? mounts[0];
}

/**
 * Builds the layout from the two files. `unifiedControllers(mountpoint)` reads the controllers the
 * unified hierarchy offers (its root's cgroup.controllers); it is only called when there is one.
 */
export function buildLayout(
  mountinfo: string,
  procCgroup: string,
  unifiedControllers: (mountpoint: string) => string[],
): Layout {
  const mounts = parseMountinfo(mountinfo);
  const hierarchies: Hierarchy[] = [];
  for (const line of parseProcCgroup(procCgroup)) {
    if (line.id === 0 && line.controllers.length === 0) {
      const m = pickMount(mounts.filter((e) => e.fstype === "cgroup2"), line.path);
      if (!m) continue;
      hierarchies.push({
        key: UNIFIED,
        version: 2,
        controllers: unifiedControllers(m.mountpoint),
        mountpoint: m.mountpoint,
        mountRoot: m.root,
        own: line.path,
      });
      continue;
    }
    if (line.controllers.length === 0) continue;
    const first = line.controllers[0];
    const m = pickMount(
      mounts.filter((e) => e.fstype === "cgroup" && e.superOptions.includes(first)),
      line.path,
    );
    if (!m) continue; // a hierarchy nobody mounted (e.g. net_cls on many hosts): unusable
    hierarchies.push({
      key: line.controllers.join(","),
      version: 1,
      controllers: line.controllers,
      mountpoint: m.mountpoint,
      mountRoot: m.root,
      own: line.path,
    });
  }
  const v1Controllers = hierarchies.some((h) =>
    h.version === 1 && h.controllers.some((c) => !c.includes("="))
  );
  const unified = hierarchies.some((h) => h.version === 2);
  if (!v1Controllers && !unified) throw new Error("no cgroup filesystem is mounted");
  const mode: LayoutMode = !v1Controllers ? "v2" : unified ? "hybrid" : "v1";
  return { mode, hierarchies };
}

/** The controllers listed in a cgroup.controllers file. */
export function parseControllers(text: string | null): string[] {
  return (text ?? "").trim().split(/\s+/).filter(Boolean);
}

/** The layout of this process, from /proc/self (`procCgroup`: its /proc/self/cgroup, when read already). */
export function detectLayout(procCgroup = Deno.readTextFileSync("/proc/self/cgroup")): Layout {
  return buildLayout(
    Deno.readTextFileSync("/proc/self/mountinfo"),
    procCgroup,
    (mp) => {
      try {
        return parseControllers(Deno.readTextFileSync(`${mp}/cgroup.controllers`));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return [];
        throw e;
      }
    },
  );
}

/** The hierarchy that holds v1 controller `c`, if one is mounted. */
export function v1Hierarchy(layout: Layout, c: string): Hierarchy | undefined {
  return layout.hierarchies.find((h) => h.version === 1 && h.controllers.includes(c));
}

/** The unified hierarchy, if one is mounted. */
export function unifiedHierarchy(layout: Layout): Hierarchy | undefined {
  return layout.hierarchies.find((h) => h.version === 2);
}

/** The directory of cgroup `path` (a path inside hierarchy `h`). */
export function directoryOf(h: Hierarchy, path: string): string {
  const rel = isWithin(path, h.mountRoot) ? path.slice(h.mountRoot === "/" ? 0 : h.mountRoot.length) : path;
  const mp = h.mountpoint.replace(/\/+$/, "");
  return rel === "" || rel === "/" ? mp || "/" : mp + rel;
}
