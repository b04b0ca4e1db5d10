/**
 * Idmapped bind mounts (mount options idmap/ridmap, a mount's own uidMappings/gidMappings): boot sets
 * MOUNT_ATTR_IDMAP on the detached tree of the source before init attaches it. The kernel wants, for
 * that, CAP_SYS_ADMIN over the source filesystem's user namespace (boot's, not the container's) and a
 * user namespace fd whose maps say how to show the files' owners: a file stored as containerID appears as
 * hostID. boot makes such a namespace with a holder child (ffi/holder.ts), writes its maps, keeps
 * /proc/PID/ns/user open and lets the holder go. Mounts with the same maps share one namespace.
 */
import { CLONE, Errno, isErrno, type Kernel, MOUNT_ATTR, O, P, SIGNALS, W } from "../../ffi/mod.ts";
import type { LinuxIDMapping, Mount, Spec } from "../specutils/spec.ts";
import { mapText, mountIdMap } from "../specutils/idmap.ts";

function writeFile(k: Kernel, path: string, text: string): void {
  const fd = k.open(path, O.WRONLY | O.CLOEXEC);
  try {
    // One write: the kernel takes a map whole or not at all.
    k.write(fd, new TextEncoder().encode(text));
  } catch (e) {
    throw new Error(`writing ${JSON.stringify(text.trim().replaceAll("\n", ", "))}: ${(e as Error).message}`);
  } finally {
    k.close(fd);
  }
}

/** A new user namespace with these maps, as an fd of it (CLOEXEC); the caller closes it. */
export function userNamespaceFd(
  k: Kernel,
  uids: readonly LinuxIDMapping[],
  gids: readonly LinuxIDMapping[],
): number {
  const pid = k.cloneHolder(CLONE.NEWUSER);
  try {
    writeFile(k, `/proc/${pid}/uid_map`, mapText(uids));
    writeFile(k, `/proc/${pid}/gid_map`, mapText(gids));
    return k.open(`/proc/${pid}/ns/user`, O.RDONLY | O.CLOEXEC);
  } finally {
    endHolder(k, pid);
  }
}

/** Kills and reaps a holder: its namespace lives on in the fds opened of it. */
function endHolder(k: Kernel, pid: number): void {
  try {
    k.kill(pid, SIGNALS.KILL);
  } catch (e) {
    if (!isErrno(e, Errno.ESRCH)) throw e;
  }
  k.waitid(P.PID, pid, W.EXITED);
}

/**
 * Idmaps the detached trees of a create's mounts as they are handed over (detachSources' `adjust`).
 * close() releases the user namespaces made for them.
 */
export class Idmapper {
  readonly #k: Kernel;
  readonly #spec: Spec;
  readonly #mounts: readonly Mount[];
  readonly #namespaces = new Map<string, number>();

  constructor(k: Kernel, spec: Spec, mounts: readonly Mount[]) {
    this.#k = k;
    this.#spec = spec;
    this.#mounts = mounts;
  }

  /** Sets MOUNT_ATTR_IDMAP on `tree`, the detached source of mount `index`, when that mount asks for it. */
  apply(index: number, tree: number): void {
    const m = this.#mounts[index];
    const at = `mounts[${index}] (${m.destination})`;
    const idmap = mountIdMap(m, this.#spec.linux, at);
    if (!idmap) return;
    const key = mapText(idmap.uids) + "|" + mapText(idmap.gids);
    try {
      let ns = this.#namespaces.get(key);
      if (ns === undefined) {
        ns = userNamespaceFd(this.#k, idmap.uids, idmap.gids);
        this.#namespaces.set(key, ns);
      }
      this.#k.mountSetattr(tree, idmap.recursive, MOUNT_ATTR.IDMAP, 0, ns);
    } catch (e) {
      const hint = isErrno(e, Errno.EINVAL) ? " (does the source's filesystem support idmapped mounts?)" : "";
      throw new Error(`${at}: idmapping ${m.source}: ${(e as Error).message}${hint}`);
    }
  }

  /** Closes the user namespace fds. */
  close(): void {
    for (const fd of this.#namespaces.values()) this.#k.close(fd);
    this.#namespaces.clear();
  }
}
