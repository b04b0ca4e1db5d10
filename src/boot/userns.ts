/**
 * The container's user namespace, from boot's side. A new one is made by the clone itself
 * (CLONE_NEWUSER, with CLONE_NEWPID when the container gets a pid namespace), so the pid namespace and every
 * namespace init creates later are owned by it and root inside may mount proc, sysfs and the like.
 *
 * Its maps must be written from the parent namespace while boot's main thread sleeps in the vfork clone:
 * a Worker thread of boot does it (the map writer, Kernel.startMapWriter), answering the child's request
 * over a pipe pair. A Worker starts in tens of milliseconds, so one is started only for a container that
 * gets a new user namespace.
 *
 * The child cannot copy mount trees of boot's namespace once it is in a user namespace of its own
 * (open_tree needs CAP_SYS_ADMIN over boot's mount namespace), so boot detaches the root and the bind
 * sources beforehand (detachSources), and makes idmapped mounts of them there (src/boot/idmap.ts).
 */
import { CLONE, type IdMaps, type Kernel, MS, O } from "../../ffi/mod.ts";
import type { IdMapHandshake } from "../init/userns.ts";
import { detach } from "../init/rootfs.ts";
import { parseMountOptions } from "../init/mount_options.ts";
import type { Spec } from "../specutils/spec.ts";
import { getNS } from "../specutils/namespaces.ts";
import { isIdmapped, mapText } from "../specutils/idmap.ts";
import { Idmapper } from "./idmap.ts";
import { capableInOwnNamespace, rootlessIdMaps } from "./rootless.ts";
import { enterForInit, execPlan, type FirstChildPlan, spawnAfterFirstChild } from "./first_child.ts";
import { inInitialUserNamespace } from "../util/privilege.ts";
import { log } from "../log/log.ts";
import { createSpawn, type InitSpawn } from "./spawn_init.ts";
import type { CreateInitPlan } from "../protocol/init_config.ts";

export type { IdMaps };

/** True when the spec asks for a new user namespace (one without a path). */
export function wantsNewUserNamespace(spec: Spec): boolean {
  const ns = getNS(spec, "user");
  return ns !== undefined && !ns.path;
}

/** The maps a new user namespace gets from the spec. */
export function specIdMaps(spec: Spec): IdMaps {
  return {
    uidMap: mapText(spec.linux?.uidMappings ?? []),
    gidMap: mapText(spec.linux?.gidMappings ?? []),
    setgroups: null,
    helpers: null,
  };
}

/** A started map writer and the child's side of its handshake. */
export interface MapWriter {
  handshake: IdMapHandshake;
  /** Ends the writer and closes boot's pipe ends. Idempotent. */
  close(): void;
}

/**
 * Starts a map writer (Kernel.startMapWriter) for one child. The child writes its host pid on `handshake.request`
 * and reads the answer on `handshake.answer` (init/userns.ts awaitIdMaps).
 */
export function startMapWriter(k: Kernel, maps: IdMaps): MapWriter {
  const [reqR, reqW] = k.pipe2(O.CLOEXEC);
  let ansR: number, ansW: number;
  try {
    [ansR, ansW] = k.pipe2(O.CLOEXEC);
  } catch (e) {
    k.close(reqR);
    k.close(reqW);
    throw e;
  }
  const all = [reqR, reqW, ansR, ansW];
  let stop: () => void;
  try {
    stop = k.startMapWriter(reqR, ansW, maps, (m) => log.warning(`the uid/gid map writer failed: ${m}`));
  } catch (e) {
    for (const fd of all) k.close(fd);
    throw e;
  }
  let open = true;
  return {
    handshake: { request: reqW, answer: ansR, all },
    close() {
      if (!open) return;
      open = false;
      // EOF on its request pipe ends the writer's loop; terminate() covers a writer still starting.
      for (const fd of all) k.close(fd);
      stop();
    },
  };
}

/** Trees boot detached for a child, and the InitSpawn that names them. */
export interface DetachedSources {
  spawn: InitSpawn;
  /** Closes the trees (after the clone: the child has its own copies of the fds). */
  close(): void;
}

/**
 * Detaches the root and every bind source in boot's mount namespace (the child may not) and returns an
 * InitSpawn that hands the trees to the child as they are (config.sourcesDetached). `adjust` may change a
 * bind source's tree before the child gets it (idmapped mounts); it gets the mount's index and the tree.
 */
export function detachSources(
  k: Kernel,
  s: InitSpawn<CreateInitPlan>,
  adjust: (index: number, tree: number) => void = () => {},
): DetachedSources {
  const made: number[] = [];
  // A given fd is boot's (closed by boot); one opened here by path, and every copy, are ours.
  const copy = (given: number | undefined, path: string, recursive: boolean, flags: number) => {
    const fd = given ?? k.open(path, O.PATH | O.CLOEXEC | flags);
    let tree: number;
    try {
      tree = detach(k, fd, recursive);
    } catch (e) {
      if (given === undefined) k.close(fd);
      throw e;
    }
    if (tree !== fd && given === undefined) k.close(fd);
    if (tree !== fd || given === undefined) made.push(tree);
    return tree;
  };
  try {
    const root = copy(s.rootFd ?? undefined, s.config.spec.root!.path, true, O.DIRECTORY);
    const bindFds: Record<string, number> = {};
    s.config.mounts.forEach((m, i) => {
      const opts = parseMountOptions(m.type, m.options);
      if (!opts.bind) return;
      const tree = copy(s.bindFds[String(i)], m.source ?? "", (opts.flags & MS.REC) !== 0, 0);
      adjust(i, tree);
      bindFds[String(i)] = tree;
    });
    return {
      spawn: { ...s, rootFd: root, bindFds, config: { ...s.config, sourcesDetached: true } },
      close: () => made.splice(0).forEach((fd) => k.close(fd)),
    };
  } catch (e) {
    made.splice(0).forEach((fd) => k.close(fd));
    throw e;
  }
}

/** What a create's clone needs for its user namespace and idmapped mounts; see prepareClone. */
export interface ClonePreparation {
  /** The InitSpawn to lay out: the original, or one naming trees detached here. */
  spawn: InitSpawn;
  /** Extra clone flags (CLONE_NEWUSER for a new user namespace). */
  flags: number;
  /** The child's side of the map writer's handshake, for a new user namespace. */
  idMaps: IdMapHandshake | null;
  /**
   * What boot's first child does before it clones init (runInGrandchild), for namespaces boot does not
   * enter itself (src/boot/first_child.ts); null: boot clones init directly.
   */
  firstChild: (() => void) | null;
  /** Releases the trees, the writer and the idmap namespaces; after the clone (or its failure). */
  close(): void;
}

/**
 * Prepares a clone: for a new user namespace, the sources detached here (init takes them by path when
 * boot may not: rootless) and a map writer; for idmapped mounts, the sources detached and idmapped here;
 * a first child for namespaces boot does not enter itself. Anything else passes through as it is.
 */
export function prepareClone(k: Kernel, s: InitSpawn): ClonePreparation {
  const spec = s.config.spec;
  const privileged = capableInOwnNamespace(k);
  // Only root of the host may setns back into boot's own pid namespace (src/boot/first_child.ts).
  const canReturn = privileged && inInitialUserNamespace();
  if (s.config.mode !== "create") return withFirstChild(k, s, execPlan(s, canReturn));
  const c = createSpawn(s);
  const newUser = wantsNewUserNamespace(spec);
  const joined = getNS(spec, "user")?.path;
  const idmapped = c.config.mounts.some(isIdmapped);
  if (!privileged) {
    if (idmapped) throw new Error("idmapped mounts need a privileged runtime (CAP_SYS_ADMIN)");
    if (!newUser && !joined) {
      throw new Error(
        'linux.namespaces: a rootless runtime needs a user namespace: add {"type": "user"} with ' +
          "linux.uidMappings and linux.gidMappings of the caller's ids (`runts spec --rootless` writes one)",
      );
    }
  }
  const first: FirstChildPlan | null = (joined !== undefined && s.pidns.kind === "new") ||
      (!canReturn && s.pidns.kind === "join")
    ? { user: joined ?? null, pid: s.pidns }
    : null;
  // Unprivileged, init cannot copy the host's mount trees (open_tree): it always takes them by path.
  if (privileged && !newUser && !first && !idmapped) return passThrough(c);
  if (newUser && first) {
    // The first child would have to make the user namespace after joining the pid namespace.
    throw new Error(
      "a new user namespace in a joined pid namespace needs a runtime that is root of the host",
    );
  }
  const idmapper = idmapped ? new Idmapper(k, spec, c.config.mounts) : null;
  let sources: DetachedSources | null = null;
  try {
    // Unprivileged, init takes the sources by path in its own mount namespace (src/init/rootless.ts).
    sources = privileged
      ? detachSources(k, c, (i, tree) => idmapper?.apply(i, tree))
      : { spawn: { ...c, config: { ...c.config, sourcesByPath: true } }, close() {} };
    const maps = newUser ? (privileged ? specIdMaps(spec) : rootlessIdMaps(k, spec)) : null;
    const writer = maps ? startMapWriter(k, maps) : null;
    const done = sources;
    return {
      spawn: first ? spawnAfterFirstChild(sources.spawn, first) : sources.spawn,
      flags: newUser ? CLONE.NEWUSER : 0,
      idMaps: writer?.handshake ?? null,
      firstChild: first ? () => enterForInit(k, first) : null,
      close() {
        writer?.close();
        done.close();
        idmapper?.close();
      },
    };
  } catch (e) {
    sources?.close();
    idmapper?.close();
    throw e;
  }
}

function passThrough(s: InitSpawn): ClonePreparation {
  return { spawn: s, flags: 0, idMaps: null, firstChild: null, close() {} };
}

function withFirstChild(k: Kernel, s: InitSpawn, plan: FirstChildPlan | null): ClonePreparation {
  if (!plan) return passThrough(s);
  return {
    spawn: spawnAfterFirstChild(s, plan),
    flags: 0,
    idMaps: null,
    firstChild: () => enterForInit(k, plan),
    close() {},
  };
}
