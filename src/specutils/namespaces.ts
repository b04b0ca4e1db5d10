/** OCI namespace types, their clone(2) flags, and lookups in a spec (runsc's GetNS/FilterNS). */
import { CLONE } from "../../ffi/mod.ts";
import type { LinuxNamespace, LinuxNamespaceType, Spec } from "./spec.ts";

/** The clone/unshare/setns flag of each OCI namespace type. */
export const NAMESPACE_FLAGS: Readonly<Record<LinuxNamespaceType, number>> = Object.freeze({
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
});

/** The name of each namespace type under /proc/<pid>/ns/. */
export const NAMESPACE_PROC_NAMES: Readonly<Record<LinuxNamespaceType, string>> = Object.freeze({
  pid: "pid",
  network: "net",
  mount: "mnt",
  ipc: "ipc",
  uts: "uts",
  user: "user",
  cgroup: "cgroup",
  time: "time",
});

/** Every OCI namespace type, in a fixed order. */
export const NAMESPACE_TYPES: readonly LinuxNamespaceType[] = Object.freeze(
  Object.keys(NAMESPACE_FLAGS) as LinuxNamespaceType[],
);

/** True when `t` is an OCI namespace type name. */
export function isNamespaceType(t: string): t is LinuxNamespaceType {
  return Object.hasOwn(NAMESPACE_FLAGS, t);
}

/** The spec's entry for namespace `type`, if any (created when it has no path, joined otherwise). */
export function getNS(spec: Spec, type: LinuxNamespaceType): LinuxNamespace | undefined {
  return spec.linux?.namespaces?.find((ns) => ns.type === type);
}

/** True when the spec lists namespace `type` (to create or to join). */
export function hasNS(spec: Spec, type: LinuxNamespaceType): boolean {
  return getNS(spec, type) !== undefined;
}

/** The spec's entries whose type is in `types`, in the spec's order (runsc's FilterNS). */
export function filterNS(spec: Spec, types: readonly LinuxNamespaceType[]): LinuxNamespace[] {
  return (spec.linux?.namespaces ?? []).filter((ns) => types.includes(ns.type));
}

/** The OR of the CLONE_NEW* flags of the namespaces to create (entries without a path). */
export function newNamespaceFlags(spec: Spec): number {
  let flags = 0;
  for (const ns of spec.linux?.namespaces ?? []) {
    if (!ns.path) flags |= NAMESPACE_FLAGS[ns.type];
  }
  return flags;
}
