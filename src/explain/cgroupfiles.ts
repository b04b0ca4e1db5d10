/**
 * The interface files of a cgroup the plan would create, which does not exist while explain runs. A fresh
 * cgroup reads as the kernel makes one: no processes, nothing delegated, empty v1 cpusets, unlimited v1
 * memory; on v2 it has the files of the controllers its parent enables. Any other file is answered from the
 * nearest existing ancestor; files the root cgroup lacks (pids.max, memory.max ...) from a first-level cgroup
 * of the hierarchy that has them, else as a fresh cgroup has them. This is a model: docs/explain.md.
 */
import { S_IF } from "../../ffi/mod.ts";
import type { VNode } from "./vfs.ts";

/** A mounted cgroup hierarchy. */
export interface CgroupMountInfo {
  mountpoint: string;
  version: 1 | 2;
  /** v1: the controllers bound to it. */
  controllers?: string[];
}

/** Reads a host or planned file (overlay first); null when it does not exist. */
export type Peek = (path: string) => string | null;

const V1_UNLIMITED = "9223372036854771712";

const FRESH: Record<string, string> = {
  "cgroup.procs": "",
  "cgroup.threads": "",
  "cgroup.subtree_control": "",
  "cgroup.freeze": "0",
  "cgroup.kill": "",
  "tasks": "",
  "cpuset.cpus": "",
  "cpuset.mems": "",
  "memory.limit_in_bytes": V1_UNLIMITED,
  "memory.memsw.limit_in_bytes": V1_UNLIMITED,
  "memory.soft_limit_in_bytes": V1_UNLIMITED,
};

/** Files the root cgroup lacks, with a fresh cgroup's content, where no existing cgroup shows them. */
const NON_ROOT: Record<string, string> = {
  "pids.max": "max",
  "pids.current": "0",
  "pids.events": "max 0",
  "memory.max": "max",
  "memory.high": "max",
  "memory.low": "0",
  "memory.min": "0",
  "memory.swap.max": "max",
  "memory.current": "0",
  "cpu.max": "max 100000",
  "cpu.weight": "100",
  "io.max": "",
  "io.weight": "default 100",
};

function dirname(p: string): string {
  return p.slice(0, p.lastIndexOf("/")) || "/";
}

/** The hierarchy `path` is in, if any. */
export function hierarchyOf(path: string, mounts: readonly CgroupMountInfo[]): CgroupMountInfo | undefined {
  return mounts.find((m) => path.startsWith(m.mountpoint.replace(/\/+$/, "") + "/"));
}

function file(content: string): VNode {
  return { mode: S_IF.REG | 0o644, content };
}

/** Content of `name` in the nearest ancestor of `dir` that has it. */
function fromAncestors(dir: string, name: string, top: string, peek: Peek): string | null {
  for (let d = dirname(dir);; d = dirname(d)) {
    const v = peek(`${d}/${name}`);
    if (v !== null) return v;
    if (d === top || d === "/") return null;
  }
}

/** A first-level cgroup of the hierarchy that has `name` (the root lacks v2 controller files). */
function fromSample(top: string, name: string): string | null {
  try {
    for (const e of Deno.readDirSync(top)) {
      if (!e.isDirectory) continue;
      try {
        return Deno.readTextFileSync(`${top}/${e.name}/${name}`);
      } catch {
        // not there
      }
    }
  } catch {
    // no hierarchy
  }
  return null;
}

/**
 * The file `path` in a cgroup directory the plan creates, or null when a fresh cgroup would not have it.
 * `mounts` are the host's cgroup hierarchies.
 */
export function freshCgroupFile(path: string, mounts: readonly CgroupMountInfo[], peek: Peek): VNode | null {
  const h = hierarchyOf(path, mounts);
  if (!h) return null;
  const dir = dirname(path);
  const name = path.slice(dir.length + 1);
  const top = h.mountpoint.replace(/\/+$/, "");
  if (h.version === 2 && name === "cgroup.controllers") {
    return file(peek(`${dirname(dir)}/cgroup.subtree_control`) ?? "");
  }
  if (h.version === 2 && !name.startsWith("cgroup.")) {
    const enabled = (peek(`${dirname(dir)}/cgroup.subtree_control`) ?? "").split(/\s+/);
    if (!enabled.includes(name.split(".")[0])) return null;
    if (name in FRESH) return file(FRESH[name]);
    const v = fromAncestors(dir, name, top, peek) ?? fromSample(top, name) ?? NON_ROOT[name] ?? null;
    return v === null ? null : file(v);
  }
  if (name in FRESH && (h.version === 1 || name.startsWith("cgroup."))) {
    // A v1 hierarchy has only the files of its own controllers.
    if (h.version === 1 && fromAncestors(dir, name, top, peek) === null) return null;
    return file(FRESH[name]);
  }
  const v = fromAncestors(dir, name, top, peek) ?? fromSample(top, name) ??
    (h.controllers?.some((c) => name.startsWith(`${c}.`)) ? NON_ROOT[name] ?? null : null);
  return v === null ? null : file(v);
}
