/**
 * The container's user namespace, from boot's side. A new one is made by the clone itself
 * (CLONE_NEWUSER, with CLONE_NEWPID when the container gets a pid namespace), so the pid namespace and every
 * namespace init creates later are owned by it and root inside may mount proc, sysfs and the like.
 *
 * Its maps must be written from the parent namespace while boot's main thread sleeps in the vfork clone:
 * a Worker thread of boot does it (the map writer), answering the child's request over a pipe pair. A
 * Worker starts in tens of milliseconds, so one is started only for a container that gets a new user
 * namespace. Its code is a blob, not a module file, so it loads inside boot's --setup-root chroot too,
 * and it uses no FFI: it reopens its pipe ends through /proc/self/fd.
 *
 * The child cannot copy mount trees of boot's namespace once it is in a user namespace of its own
 * (open_tree needs CAP_SYS_ADMIN over boot's mount namespace), so boot detaches the root and the bind
 * sources beforehand (detachSources), and makes idmapped mounts of them there (src/boot/idmap.ts).
 */
import { CLONE, type Kernel, MS, O } from "../../ffi/mod.ts";
import type { IdMapHandshake } from "../init/userns.ts";
import { detach } from "../init/rootfs.ts";
import { parseMountOptions } from "../init/mount_options.ts";
import type { Spec } from "../specutils/spec.ts";
import { getNS } from "../specutils/namespaces.ts";
import { isIdmapped, mapText } from "../specutils/idmap.ts";
import { Idmapper } from "./idmap.ts";
import { log } from "../log/log.ts";
import { createSpawn, type InitSpawn } from "./spawn_init.ts";
import type { CreateInitPlan } from "../protocol/init_config.ts";

/** What the map writer writes for one child: /proc/PID/uid_map, setgroups (when set), gid_map. */
export interface IdMaps {
  uidMap: string;
  gidMap: string;
  /** "deny" where an unprivileged writer must deny setgroups before writing gid_map; null leaves it. */
  setgroups: "deny" | null;
}

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
  };
}

// The map writer's code. One request per line (a host pid); one answer per line.
const WRITER_SOURCE = `
const enc = new TextEncoder(), dec = new TextDecoder();
function put(path, text) {
  try {
    Deno.writeTextFileSync(path, text);
  } catch (e) {
    throw new Error("write " + path + " " + JSON.stringify(text.trim()) + ": " + (e.code ?? e.message));
  }
}
self.onmessage = (e) => {
  const { request, answer, maps } = e.data;
  let req, ack;
  try {
    req = Deno.openSync("/proc/self/fd/" + request, { read: true });
    ack = Deno.openSync("/proc/self/fd/" + answer, { write: true });
    const buf = new Uint8Array(64);
    let pending = "";
    for (;;) {
      const n = req.readSync(buf);
      if (!n) break;
      pending += dec.decode(buf.subarray(0, n));
      for (let i = pending.indexOf("\\n"); i >= 0; i = pending.indexOf("\\n")) {
        const pid = pending.slice(0, i).trim();
        pending = pending.slice(i + 1);
        let reply = "ok";
        try {
          if (!/^[0-9]+$/.test(pid)) throw new Error("bad request " + JSON.stringify(pid));
          put("/proc/" + pid + "/uid_map", maps.uidMap);
          if (maps.setgroups) put("/proc/" + pid + "/setgroups", maps.setgroups);
          put("/proc/" + pid + "/gid_map", maps.gidMap);
        } catch (err) {
          reply = "error: " + String(err.message ?? err).replaceAll("\\n", " ");
        }
        ack.writeSync(enc.encode(reply + "\\n"));
      }
    }
  } catch (_) {
    // boot closed the pipes first; nothing is waiting for an answer.
  } finally {
    req?.close();
    ack?.close();
    self.close();
  }
};
`;

let writerUrl: string | undefined;

/** A started map writer and the child's side of its handshake. */
export interface MapWriter {
  handshake: IdMapHandshake;
  /** Ends the writer and closes boot's pipe ends. Idempotent. */
  close(): void;
}

/**
 * Starts a map writer (a Worker) for one child. The child writes its host pid on `handshake.request`
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
  writerUrl ??= URL.createObjectURL(new Blob([WRITER_SOURCE], { type: "application/javascript" }));
  const worker = new Worker(writerUrl, { type: "module" });
  worker.onerror = (e) => {
    e.preventDefault();
    log.warning(`the uid/gid map writer failed: ${e.message}`);
  };
  worker.postMessage({ request: reqR, answer: ansW, maps });
  const all = [reqR, reqW, ansR, ansW];
  let open = true;
  return {
    handshake: { request: reqW, answer: ansR, all },
    close() {
      if (!open) return;
      open = false;
      // EOF on its request pipe ends the writer's loop; terminate() covers a writer still starting.
      for (const fd of all) k.close(fd);
      worker.terminate();
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
   * For a joined user namespace with a new pid namespace: what boot's first child does before it clones
   * init (runInGrandchild), so that the pid namespace is owned by the joined user namespace.
   */
  firstChild: (() => void) | null;
  /** Releases the trees, the writer and the idmap namespaces; after the clone (or its failure). */
  close(): void;
}

/**
 * Prepares a create's clone: for a new user namespace, the sources detached here and a map writer; for
 * idmapped mounts, the sources detached and idmapped here. Anything else passes through as it is.
 */
export function prepareClone(k: Kernel, s: InitSpawn): ClonePreparation {
  const spec = s.config.spec;
  const create = s.config.mode === "create";
  const newUser = create && wantsNewUserNamespace(spec);
  const joined = create ? getNS(spec, "user")?.path : undefined;
  const idmapped = s.config.mode === "create" && s.config.mounts.some(isIdmapped);
  const grandchild = joined !== undefined && s.pidns.kind === "new";
  if (!newUser && !grandchild && !idmapped) {
    return { spawn: s, flags: 0, idMaps: null, firstChild: null, close() {} };
  }
  const c = createSpawn(s);
  const idmapper = idmapped ? new Idmapper(k, spec, c.config.mounts) : null;
  let sources: DetachedSources | null = null;
  try {
    sources = detachSources(k, c, (i, tree) => idmapper?.apply(i, tree));
    const writer = newUser ? startMapWriter(k, specIdMaps(spec)) : null;
    const done = sources;
    const spawn = grandchild
      ? { ...sources.spawn, config: { ...sources.spawn.config, userEntered: true } }
      : sources.spawn;
    return {
      spawn,
      flags: newUser ? CLONE.NEWUSER : 0,
      idMaps: writer?.handshake ?? null,
      firstChild: grandchild ? () => enterForPidNamespace(k, joined) : null,
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

/**
 * In boot's first child: joins the user namespace at `path`, then makes a pid namespace (for its
 * children) that the user namespace owns.
 */
function enterForPidNamespace(k: Kernel, path: string): void {
  const fd = k.open(path, O.RDONLY | O.CLOEXEC);
  try {
    k.setns(fd, CLONE.NEWUSER);
  } catch (e) {
    throw new Error(`joining the user namespace ${path}: ${(e as Error).message}`);
  } finally {
    k.close(fd);
  }
  k.unshare(CLONE.NEWPID);
}
