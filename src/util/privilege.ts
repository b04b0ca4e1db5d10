/**
 * How privileged this runtime is (no imports but types: the global flags use it). Three cases matter: root of the host (everything); root of a user
 * namespace of its own, as under rootless podman (every capability, but only over what that namespace
 * owns: no host cgroups, no host ids outside its map); and an unprivileged user (its own uid and gid,
 * and the subordinate ids newuidmap grants).
 */
import type { Kernel } from "../../ffi/kernel.ts";

/** The uid_map of the initial user namespace: every id is itself. */
const IDENTITY = /^\s*0\s+0\s+4294967295\s*$/;

let initial: boolean | undefined;

/**
 * True when this process is in the host's (initial) user namespace; `uidMap` is the text of
 * /proc/self/uid_map (default: read once, a process never changes its user namespace here).
 */
export function inInitialUserNamespace(uidMap?: string): boolean {
  if (uidMap !== undefined) return IDENTITY.test(uidMap);
  if (initial === undefined) {
    try {
      initial = IDENTITY.test(Deno.readTextFileSync("/proc/self/uid_map"));
    } catch {
      return true; // no /proc (boot's --setup-root chroot): nothing says otherwise
    }
  }
  return initial;
}

/**
 * runc's rule for rootless cgroups: --rootless, a caller that is not root, or root of a user namespace
 * other than the host's. Such a runtime can make cgroups only where a subtree was delegated to it (owned
 * by it), and runs the container without them elsewhere.
 */
export function rootlessCgroups(k: Kernel, forced: boolean): boolean {
  return forced || k.getuid() !== 0 || !inInitialUserNamespace();
}
