/**
 * boot run by an unprivileged user (rootless). Such a caller owns exactly its own uid and gid and the
 * subordinate ranges /etc/subuid and /etc/subgid give it; the kernel lets it write a map of its own ids
 * only, one id each, with setgroups denied; the setuid helpers newuidmap and newgidmap (Debian's uidmap)
 * write maps of its subordinate ranges. Any other host id in the spec's maps is refused here, with an
 * error that says which ids the caller may use, before anything is made.
 */
import type { IdMaps, Kernel } from "../../ffi/mod.ts";
import type { LinuxIDMapping, Spec } from "../specutils/spec.ts";
import { capMask } from "../specutils/capabilities.ts";
import { mapText } from "../specutils/idmap.ts";

const CAP_SYS_ADMIN = capMask(["CAP_SYS_ADMIN"]);

/**
 * True when this process may do what a root boot does: CAP_SYS_ADMIN in its effective set, over its own
 * user namespace (the host's, or one it is root of, as under rootless podman). It may then copy mount
 * trees of its mount namespace and write any map of its namespace's ids for a child namespace.
 */
export function capableInOwnNamespace(k: Kernel): boolean {
  return (k.capget().effective & CAP_SYS_ADMIN) !== 0n;
}

/** A range of host ids: `start` … `start + size - 1`. */
export interface IdRange {
  start: number;
  size: number;
}

/** The ranges /etc/subuid (or /etc/subgid) text gives the user `name` (or its numeric id). */
export function parseSubids(text: string, name: string, id: number): IdRange[] {
  const out: IdRange[] = [];
  for (const line of text.split("\n")) {
    const [who, start, size] = line.trim().split(":");
    if (who !== name && who !== String(id)) continue;
    if (/^\d+$/.test(start ?? "") && /^\d+$/.test(size ?? "")) {
      out.push({ start: Number(start), size: Number(size) });
    }
  }
  return out;
}

function within(m: LinuxIDMapping, ranges: readonly IdRange[]): boolean {
  return ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.size);
}

function describe(ranges: readonly IdRange[]): string {
  return ranges.map((r) => (r.size === 1 ? `${r.start}` : `${r.start}-${r.start + r.size - 1}`)).join(", ");
}

/**
 * Checks that every range of `map` lies in the caller's own id or its subordinate ranges; `field` names
 * the map in the error. Returns true when the map is just the caller's own id (no helper needed).
 */
export function checkOwnedMap(
  map: readonly LinuxIDMapping[],
  own: number,
  subs: readonly IdRange[],
  field: string,
  kind: "uid" | "gid",
): boolean {
  const mine: IdRange[] = [{ start: own, size: 1 }, ...subs];
  map.forEach((m, i) => {
    if (within(m, mine)) return;
    const ids = describe([{ start: m.hostID, size: m.size }]);
    const what = m.size === 1 ? `host ${kind} ${ids} is` : `host ${kind}s ${ids} are`;
    throw new Error(
      `${field}[${i}]: ${what} not the caller's: an unprivileged user may map its own ${kind} (${own}) ` +
        `and its subordinate ${kind}s from /etc/sub${kind} (${subs.length ? describe(subs) : "none"})`,
    );
  });
  return map.length === 1 && map[0].hostID === own && map[0].size === 1;
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

/** The user name of `uid` from /etc/passwd, or its number as a string. */
function userName(uid: number): string {
  for (const line of readOr("/etc/passwd").split("\n")) {
    const f = line.split(":");
    if (f[2] === String(uid)) return f[0];
  }
  return String(uid);
}

/** Flattens a map into newuidmap's arguments: container host size, for each range. */
function helperArgs(map: readonly LinuxIDMapping[]): string[] {
  return map.flatMap((m) => [m.containerID, m.hostID, m.size].map(String));
}

/**
 * How an unprivileged boot gets the spec's maps written: by the map writer itself when each is just the
 * caller's own id (setgroups denied first, as the kernel demands), else by newuidmap and newgidmap.
 * Throws when a map names ids the caller does not own.
 */
export function rootlessIdMaps(k: Kernel, spec: Spec): IdMaps {
  const uid = k.getuid(), gid = k.getgid();
  const name = userName(uid);
  const uids = spec.linux?.uidMappings ?? [], gids = spec.linux?.gidMappings ?? [];
  // /etc/subgid names its owners as users too (by name or uid), as newgidmap reads it.
  const owned = (map: readonly LinuxIDMapping[], own: number, kind: "uid" | "gid") =>
    checkOwnedMap(map, own, parseSubids(readOr(`/etc/sub${kind}`), name, uid), `linux.${kind}Mappings`, kind);
  const selfU = owned(uids, uid, "uid");
  const selfG = owned(gids, gid, "gid");
  if (selfU && selfG) {
    return { uidMap: mapText(uids), gidMap: mapText(gids), setgroups: "deny", helpers: null };
  }
  return {
    uidMap: mapText(uids),
    gidMap: mapText(gids),
    setgroups: null,
    helpers: {
      newuidmap: findHelper("newuidmap"),
      newgidmap: findHelper("newgidmap"),
      uid: helperArgs(uids),
      gid: helperArgs(gids),
    },
  };
}

/**
 * The absolute path of a set-id helper, looked up now (before anything is made) on PATH and in the
 * system directories: engines may run the runtime with a PATH of their own.
 */
function findHelper(name: string): string {
  const dirs = [
    ...(Deno.env.get("PATH") ?? "").split(":").filter((d) => d.startsWith("/")),
    "/usr/bin",
    "/bin",
  ];
  for (const dir of dirs) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not there
    }
  }
  throw new Error(
    `the spec maps subordinate ids, which needs ${name} (Debian and Ubuntu: the uidmap package; Fedora: shadow-utils)`,
  );
}
