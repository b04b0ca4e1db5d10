/**
 * The mount(8) option vocabulary validation accepts. The parser that turns options into mount(2) flags is
 * src/init/mount_options.ts; this list must stay a subset of what it honours, so that a bind mount option
 * that passes validation is never silently dropped.
 */
import type { Mount } from "./spec.ts";

/** Per-mount flag options (mount(8) names), plus "defaults", which means nothing here. */
const FLAG_OPTIONS: ReadonlySet<string> = new Set([
  "defaults",
  "ro",
  "rw",
  "bind",
  "rbind",
  "nosuid",
  "suid",
  "nodev",
  "dev",
  "noexec",
  "exec",
  "sync",
  "async",
  "dirsync",
  "remount",
  "mand",
  "nomand",
  "atime",
  "noatime",
  "diratime",
  "nodiratime",
  "relatime",
  "norelatime",
  "strictatime",
  "nostrictatime",
  "lazytime",
  "nolazytime",
  "nosymfollow",
  "symfollow",
  "silent",
  "loud",
  // Recursive read-only (runc's "rro"): read-only on the mount and every submount.
  "rro",
  // Idmapped bind mounts (runtime-spec 1.2): mount_setattr(MOUNT_ATTR_IDMAP), never mount(2) data.
  "idmap",
  "ridmap",
]);

/** Propagation options; also the values `linux.rootfsPropagation` may take. */
export const PROPAGATION_OPTIONS: ReadonlySet<string> = new Set([
  "private",
  "rprivate",
  "shared",
  "rshared",
  "slave",
  "rslave",
  "unbindable",
  "runbindable",
]);

/** True when `name` may appear in a bind mount's options (a flag or a propagation option). */
export function isBindMountOption(name: string): boolean {
  return FLAG_OPTIONS.has(name) || PROPAGATION_OPTIONS.has(name);
}

/** True when `name` is a propagation option (private, rslave, ...). */
export function isPropagationOption(name: string): boolean {
  return PROPAGATION_OPTIONS.has(name);
}

/** True for a bind mount: type "bind", or a "bind"/"rbind" option (runc's rule; runsc checks only the type). */
export function isBindMount(m: Pick<Mount, "type" | "options">): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}
