/**
 * The plan kernel's user namespaces and what hangs on them (user_namespaces(7)). A namespace is owned by
 * the user namespace current when it was made; a clone makes its new user namespace first, so its
 * CLONE_NEWPID makes a pid namespace that the new one owns. A process holds capabilities over what its
 * user namespace (or one below it) owns: so it may mount proc only for a pid namespace, sysfs for a
 * network namespace, cgroup file systems for a cgroup namespace and mqueue for an ipc namespace of its
 * own, and only file systems a user namespace may mount at all; it may not mknod devices outside the
 * host's. A user namespace's maps are written once, from its parent: by boot's map writer (a thread of boot,
 * modelled on the pipe it reads) for init, by boot itself for an idmap holder. Credentials must be mapped.
 */
import { CLONE, Errno, type IdMaps, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { LinuxIDMapping } from "../specutils/spec.ts";
import { mapText, parseMapText, validateIdMap } from "../specutils/idmap.ts";
import { cloneFlagNames, NAMESPACE_OF } from "./describe.ts";
import { type FdObj, forkState, type PlanState, type ProcState, type UserNs } from "./state.ts";

/** The uid and gid an unmapped id shows as (/proc/sys/kernel/overflowuid). */
const OVERFLOW = 65534;

/** The order in which clone(2) and unshare(2) make namespaces: the user namespace first. */
const ORDER = [
  CLONE.NEWUSER,
  CLONE.NEWNS,
  CLONE.NEWUTS,
  CLONE.NEWIPC,
  CLONE.NEWNET,
  CLONE.NEWPID,
  CLONE.NEWCGROUP,
  CLONE.NEWTIME,
];

/**
 * Gives `p` the new namespaces of `flags`; returns their kinds. In a new user namespace `p` holds every
 * capability and, until the maps are written, is the overflow uid and gid.
 */
export function makeNamespaces(s: PlanState, p: ProcState, flags: number): string[] {
  const made: string[] = [];
  for (const f of ORDER) {
    if (!(flags & f)) continue;
    const t = NAMESPACE_OF[f];
    if (f === CLONE.NEWUSER) {
      const id = s.newNs("user", p.ns.user);
      s.users.set(id, {
        parent: p.ns.user,
        uidMap: null,
        gidMap: null,
        setgroups: "allow",
        creator: { uid: p.uid, gid: p.gid },
      });
      enterUserNs(s, p, id, { uid: p.uid, gid: p.gid });
    } else p.ns[t] = s.newNs(t, p.ns.user);
    made.push(t);
  }
  return made;
}

/**
 * What entering user namespace `id` (by clone, unshare or setns) does to `p`: every capability there, and
 * its ids (`outer`, as its old namespace saw them) as the new one's maps show them.
 */
function enterUserNs(s: PlanState, p: ProcState, id: string, outer: { uid: number; gid: number }): void {
  const u = s.users.get(id)!;
  const all = (1n << BigInt(s.ctx.lastCap + 1)) - 1n;
  p.ns.user = id;
  p.caps = { effective: all, permitted: all, inheritable: 0n, bounding: all, ambient: 0n };
  p.uid = inside(u.uidMap, outer.uid);
  p.gid = inside(u.gidMap, outer.gid);
  p.groups = p.groups.map(() => OVERFLOW);
}

/** The id inside a namespace of `map` that the parent's id `outer` is; the overflow id when unmapped. */
function inside(map: readonly LinuxIDMapping[] | null, outer: number): number {
  const r = map?.find((m) => outer >= m.hostID && outer < m.hostID + m.size);
  return r ? r.containerID + outer - r.hostID : OVERFLOW;
}

/** Whether `p` holds capabilities in user namespace `user` (its own, or one made below it). */
function capableIn(s: PlanState, p: ProcState, user: string): boolean {
  for (let u: string | null = user; u !== null; u = s.users.get(u)?.parent ?? null) {
    if (u === p.ns.user) return true;
  }
  return false;
}

/** Whether `p` holds capabilities over namespace `id` (a user namespace, or one that a user namespace owns). */
export function privileged(s: PlanState, p: ProcState, id: string): boolean {
  return capableIn(s, p, s.users.has(id) ? id : s.owners.get(id) ?? s.hostNs.user);
}

/** Whether `p` is in the initial user namespace (the identity map; the host's when explain runs there). */
export function initialUser(s: PlanState, p: ProcState = s.proc): boolean {
  const u = s.userNs(p);
  return u.parent === null && mapText(u.uidMap ?? []) === "0 0 4294967295\n";
}

/** mknod of a device outside the initial user namespace: EPERM. */
export function checkMknod(s: PlanState, mode: number, name: string): void {
  const t = mode & S_IF.FMT;
  if ((t === S_IF.CHR || t === S_IF.BLK) && !initialUser(s)) {
    throw new SyscallError("mknodat", name, Errno.EPERM);
  }
}

/** File systems a user namespace may mount (FS_USERNS_MOUNT), with the namespace it must own for them. */
const USERNS_MOUNT: Record<string, string | null> = {
  proc: "pid",
  sysfs: "net",
  cgroup: "cgroup",
  cgroup2: "cgroup",
  mqueue: "ipc",
  tmpfs: null,
  devpts: null,
  ramfs: null,
  fuse: null,
  overlay: null,
};

/**
 * EPERM where the kernel refuses the process a mount call: without capabilities over its mount namespace;
 * for a new file system of `fstype`, outside the initial user namespace, one a user namespace may not
 * mount, or whose namespace it does not own.
 */
export function checkMount(s: PlanState, call: string, arg: string, fstype?: string): void {
  const p = s.proc;
  const refuse = () => {
    throw new SyscallError(call, arg, Errno.EPERM);
  };
  if (!privileged(s, p, p.ns.mnt)) refuse();
  if (fstype === undefined || initialUser(s, p)) return;
  if (!(fstype in USERNS_MOUNT)) refuse();
  const needs = USERNS_MOUNT[fstype];
  if (needs && !privileged(s, p, p.ns[needs])) refuse();
}

/**
 * setresuid/setresgid/setgroups as the process's user namespace allows them: setgroups(2) only with
 * gid_map written and setgroups allowed (EPERM), and only ids the namespace maps (EINVAL).
 */
export function checkMapped(s: PlanState, kind: "uid" | "gid", ids: readonly number[], call: string): void {
  const u = s.userNs();
  if (call === "setgroups" && (u.setgroups === "deny" || !u.gidMap)) {
    throw new SyscallError(call, `${ids.length} groups`, Errno.EPERM);
  }
  const map = kind === "uid" ? u.uidMap : u.gidMap;
  for (const id of ids) {
    if (!map?.some((m) => id >= m.containerID && id < m.containerID + m.size)) {
      throw new SyscallError(call, `${kind} ${id}`, Errno.EINVAL);
    }
  }
}

/** "uids 0-65535 are host uids 100000-165535" (per range). */
function mapDescription(map: readonly LinuxIDMapping[], kind: string): string {
  const span = (a: number, n: number) => n === 1 ? `${a}` : `${a}-${a + n - 1}`;
  return map.map((m) => {
    const s = m.size === 1 ? "" : "s";
    return `${kind}${s} ${span(m.containerID, m.size)} ${m.size === 1 ? "is" : "are"} host ${kind}${s} ${
      span(m.hostID, m.size)
    }`;
  }).join("; ");
}

type UserNsFile = "uid_map" | "gid_map" | "setgroups";

/**
 * A write of `file` of `target`'s user namespace by `writer`, as the kernel takes it: once, whole, from
 * the parent namespace (the only writer modelled), ranges valid and mapped in the parent; setgroups only
 * before gid_map. Recorded in the current stage.
 */
export function writeUserNsFile(
  s: PlanState,
  writer: ProcState,
  target: ProcState,
  file: UserNsFile,
  text: string,
): void {
  const path = `/proc/${target.pid}/${file}`;
  const fail = (errno: number): never => {
    throw new SyscallError("write", path, errno);
  };
  const u = s.userNs(target);
  if (u.parent === null || writer.ns.user !== u.parent) fail(Errno.EPERM);
  const who = `${target.name} (pid ${target.pid})`;
  if (file === "setgroups") {
    const v = text.trim();
    if (v !== "allow" && v !== "deny") fail(Errno.EINVAL);
    if (u.gidMap) fail(Errno.EPERM);
    u.setgroups = v as UserNs["setgroups"];
    s.record("userns-map", `write setgroups of ${who}: ${v}`, `setgroups-file:${target.name}`);
    return;
  }
  const key = file === "uid_map" ? "uidMap" : "gidMap";
  if (u[key] !== null) fail(Errno.EPERM);
  const map = parseMapText(text);
  try {
    validateIdMap(map, file);
  } catch {
    fail(Errno.EINVAL);
  }
  const parent = s.users.get(u.parent!)!;
  const outer = parent[key] ?? [];
  for (const m of map) {
    const r = outer.find((o) => m.hostID >= o.containerID && m.hostID + m.size <= o.containerID + o.size);
    if (!r) fail(Errno.EPERM);
  }
  u[key] = map;
  for (const p of new Set([s.proc, ...s.procs.values()])) {
    if (p.ns.user !== target.ns.user) continue;
    if (key === "uidMap") p.uid = inside(map, u.creator.uid);
    else p.gid = inside(map, u.creator.gid);
  }
  const kind = file === "uid_map" ? "uid" : "gid";
  s.record("userns-map", `write ${file} of ${who}: ${mapDescription(map, kind)}`, `${file}:${target.name}`);
}

function mapFileText(map: readonly LinuxIDMapping[] | null): string {
  const col = (n: number) => String(n).padStart(10);
  return (map ?? []).map((m) => `${col(m.containerID)} ${col(m.hostID)} ${col(m.size)}\n`).join("");
}

/** /proc/PID/{uid_map,gid_map,setgroups} of `target`: read as the kernel shows them, written as above. */
export function userNsFile(s: PlanState, target: ProcState, file: UserNsFile): FdObj {
  const u = s.userNs(target);
  const content = file === "setgroups"
    ? `${u.setgroups}\n`
    : mapFileText(file === "uid_map" ? u.uidMap : u.gidMap);
  const writer = s.proc;
  return {
    kind: "special",
    name: `/proc/${target.pid}/${file}`,
    content,
    pos: 0,
    onWrite: (text) => writeUserNsFile(s, writer, target, file, text),
  };
}

/**
 * boot's map writer (Kernel.startMapWriter): it serves each pid line written into the request pipe by
 * writing that process's maps with boot's privileges, and answers on the answer pipe, as the real thread
 * does. Its writes are boot's operations.
 */
export function startMapWriter(s: PlanState, request: number, answer: number, maps: IdMaps): () => void {
  const req = s.fd(request, "startMapWriter"), ans = s.fd(answer, "startMapWriter");
  if (req.kind !== "pipe" || req.end !== "r" || ans.kind !== "pipe" || ans.end !== "w") {
    throw new SyscallError("startMapWriter", `fds ${request}, ${answer}`, Errno.EBADF);
  }
  const boot = s.proc;
  const data = req.data, reply = ans.data;
  s.record(
    "map-writer",
    "start the map writer: a thread of boot, in the host's user namespace, that writes the maps of " +
      "init's new user namespace when init asks (init cannot write them itself)",
    "map-writer",
  );
  let pending = "";
  s.pipeReaders.set(data, () => {
    pending += new TextDecoder().decode(new Uint8Array(data.splice(0)));
    for (let i = pending.indexOf("\n"); i >= 0; i = pending.indexOf("\n")) {
      const line = pending.slice(0, i).trim();
      pending = pending.slice(i + 1);
      const stage = s.stage;
      s.stage = "boot";
      let answerLine = "ok";
      try {
        const target = /^[0-9]+$/.test(line) ? s.procs.get(Number(line)) : undefined;
        if (!target) throw new Error(`bad request ${JSON.stringify(line)}`);
        writeUserNsFile(s, boot, target, "uid_map", maps.uidMap);
        if (maps.setgroups) writeUserNsFile(s, boot, target, "setgroups", maps.setgroups);
        writeUserNsFile(s, boot, target, "gid_map", maps.gidMap);
      } catch (e) {
        answerLine = `error: ${(e as Error).message}`;
      } finally {
        s.stage = stage;
      }
      reply.push(...new TextEncoder().encode(answerLine + "\n"));
    }
  });
  return () => void s.pipeReaders.delete(data);
}

/** Kernel.cloneHolder: a process that only sits in its new namespaces (the idmap holder). */
export function cloneHolder(s: PlanState, flags: number): number {
  const h = forkState(s.proc);
  h.pid = h.pidInNs = s.newPid();
  h.name = "the idmap holder";
  const made = makeNamespaces(s, h, flags);
  s.procs.set(h.pid, h);
  s.record(
    "clone",
    `clone(${cloneFlagNames(flags)}): a holder (pid ${h.pid}) in new ${made.join(", ")} namespaces, ` +
      "whose maps idmapped mounts use",
    "holder",
  );
  return h.pid;
}

/** The maps of a user namespace the host has, read from the first process in it (read-only). */
function hostUserNs(s: PlanState, id: string, path: string): UserNs {
  const read = (dir: string) => ({
    uidMap: parseMapText(Deno.readTextFileSync(`${dir}/uid_map`)),
    gidMap: parseMapText(Deno.readTextFileSync(`${dir}/gid_map`)),
    setgroups: Deno.readTextFileSync(`${dir}/setgroups`).trim() === "deny"
      ? "deny" as const
      : "allow" as const,
  });
  const base = { parent: s.hostNs.user, creator: { uid: 0, gid: 0 } };
  const m = /^\/proc\/(\d+)\/ns\/user$/.exec(path);
  try {
    if (m) return { ...base, ...read(`/proc/${m[1]}`) };
  } catch { /* gone: look for another process */ }
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const st = Deno.statSync(`/proc/${e.name}/ns/user`);
      if (`${st.dev}:${st.ino}` === id) return { ...base, ...read(`/proc/${e.name}`) };
    } catch { /* exited, or not ours to look at */ }
  }
  return { ...base, uidMap: null, gidMap: null, setgroups: "allow" };
}

/**
 * setns(2)'s rules for namespace `id` of kind `type` at `path`: a user namespace other than the current
 * one that the process holds capabilities in (its credentials then are root's there, with every
 * capability); another namespace only with capabilities over its owner. A namespace of the host's that the
 * plan did not make is owned by the host's user namespace, or, at /proc/PID/ns/…, by PID's.
 */
export function checkJoin(s: PlanState, type: string, id: string, path: string): void {
  const p = s.proc;
  const refuse = (errno: number): never => {
    throw new SyscallError("setns", path, errno);
  };
  if (type === "user") {
    if (id === p.ns.user) refuse(Errno.EINVAL);
    if (!s.users.has(id)) s.users.set(id, hostUserNs(s, id, path));
    if (!capableIn(s, p, id)) refuse(Errno.EPERM);
    enterUserNs(s, p, id, { uid: p.uid, gid: p.gid });
    return;
  }
  if (!s.owners.has(id) && !s.isPlanned(id)) {
    const m = /^\/proc\/(\d+)\/ns\//.exec(path);
    let owner = s.hostNs.user;
    try {
      if (m) {
        const st = Deno.statSync(`/proc/${m[1]}/ns/user`);
        owner = `${st.dev}:${st.ino}`;
        if (!s.users.has(owner)) s.users.set(owner, hostUserNs(s, owner, `/proc/${m[1]}/ns/user`));
      }
    } catch { /* the host's, then */ }
    s.owners.set(id, owner);
  }
  if (!privileged(s, p, id)) refuse(Errno.EPERM);
}
