/**
 * Sources for a caller without privileges over the host's mount namespace (rootless): open_tree cannot
 * copy its mounts, so init takes the root and the bind sources by path once it is in a mount namespace of
 * its own (a copy of the host's, owned by its user namespace), as runc binds them. The fds the wrapper
 * opened name mounts of the host's namespace, which open_tree refuses here: init compares them with what
 * it opened and closes them.
 */
import { type Kernel, MS, O } from "../../ffi/mod.ts";
import type { CreateInitConfig } from "../protocol/init_config.ts";
import { parseMountOptions } from "./mount_options.ts";
import type { Sources } from "./rootfs.ts";
import { mountNamespaceKind } from "./namespaces.ts";

function copyOf(k: Kernel, path: string, recursive: boolean, flags: number, what: string): number {
  const fd = k.open(path, O.PATH | O.CLOEXEC | flags);
  try {
    return k.cloneMount(fd, recursive);
  } catch (e) {
    // A user namespace may not leave out mounts it inherited locked: only a recursive bind takes them.
    const hint = recursive ? "" : " (a bind of a tree with mounts below it needs rbind in a user namespace)";
    throw new Error(`${what} ${path}: ${(e as Error).message}${hint}`);
  } finally {
    k.close(fd);
  }
}

/**
 * Detached copies of the root and of every bind source, opened by path in init's own mount namespace.
 * Each must be the file the wrapper opened (same device and inode): a path swapped meanwhile is refused.
 */
export function takeSourcesByPath(k: Kernel, cfg: CreateInitConfig): Sources {
  const given = [cfg.rootFd, ...Object.values(cfg.bindFds)].filter((fd): fd is number => fd !== null);
  const made: number[] = [];
  try {
    if (mountNamespaceKind(cfg.spec) !== "own") {
      throw new Error(
        "linux.namespaces: a rootless container needs a mount namespace of its own (a mount entry without a path)",
      );
    }
    const take = (
      fd: number | null | undefined,
      path: string,
      recursive: boolean,
      flags: number,
      what: string,
    ) => {
      const tree = copyOf(k, path, recursive, flags, what);
      made.push(tree);
      if (fd !== null && fd !== undefined && k.fileId(fd) !== k.fileId(tree)) {
        throw new Error(`${what} ${path}: it is no longer the file the runtime opened`);
      }
      return tree;
    };
    const root = take(cfg.rootFd, cfg.spec.root!.path, true, O.DIRECTORY, "the root");
    const binds: Record<string, number> = {};
    cfg.mounts.forEach((m, i) => {
      const opts = parseMountOptions(m.type, m.options);
      if (!opts.bind) return;
      const recursive = (opts.flags & MS.REC) !== 0;
      binds[String(i)] = take(
        cfg.bindFds[String(i)],
        m.source ?? "",
        recursive,
        0,
        `mount ${m.destination}: source`,
      );
    });
    return { root, binds, rootDir: null };
  } catch (e) {
    for (const fd of made) k.close(fd);
    throw e;
  } finally {
    for (const fd of given) k.close(fd);
  }
}
