/** Turns OCI mount options (mount(8) names) into mount(2) flags, propagation and filesystem data. */
import { MS } from "../../ffi/mod.ts";

/** The parsed form of one mount's options. */
export interface ParsedMount {
  /** Flags for the mount call itself. */
  flags: number;
  /** Flags to clear (an option like "rw" or "suid" resets its opposite). */
  cleared: number;
  /** Propagation flags to apply with separate mount calls (MS_SHARED|MS_REC …). */
  propagation: number[];
  /** Comma-joined filesystem-specific options. */
  data: string;
  /** True for bind mounts (type "bind" or a bind/rbind option). */
  bind: boolean;
  /** True for "rro": read-only applied recursively with mount_setattr. */
  recursiveReadonly: boolean;
}

const SET: Record<string, number> = {
  ro: MS.RDONLY,
  nosuid: MS.NOSUID,
  nodev: MS.NODEV,
  noexec: MS.NOEXEC,
  sync: MS.SYNCHRONOUS,
  remount: MS.REMOUNT,
  mand: MS.MANDLOCK,
  dirsync: MS.DIRSYNC,
  nosymfollow: MS.NOSYMFOLLOW,
  noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME,
  relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME,
  lazytime: MS.LAZYTIME,
  bind: MS.BIND,
  rbind: MS.BIND | MS.REC,
  silent: MS.SILENT,
};

const CLEAR: Record<string, number> = {
  rw: MS.RDONLY,
  suid: MS.NOSUID,
  dev: MS.NODEV,
  exec: MS.NOEXEC,
  async: MS.SYNCHRONOUS,
  nomand: MS.MANDLOCK,
  atime: MS.NOATIME,
  diratime: MS.NODIRATIME,
  norelatime: MS.RELATIME,
  nostrictatime: MS.STRICTATIME,
  nolazytime: MS.LAZYTIME,
  symfollow: MS.NOSYMFOLLOW,
  loud: MS.SILENT,
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * Options that only make sense to other tools and are ignored here; idmap and ridmap are boot's (it
 * idmaps the detached tree before init attaches it, src/boot/idmap.ts).
 */
const IGNORED = new Set([
  "defaults",
  "auto",
  "noauto",
  "user",
  "nouser",
  "_netdev",
  "nofail",
  "tmpcopyup",
  "idmap",
  "ridmap",
]);

/** Propagation flags for a rootfsPropagation value, or undefined for an unknown one. */
export function propagationFlags(name: string): number | undefined {
  return PROPAGATION[name];
}

/** Parses `options` for a mount of `type`. Unknown options are filesystem data, as mount(8) passes them. */
export function parseMountOptions(type: string | undefined, options: readonly string[] = []): ParsedMount {
  const out: ParsedMount = {
    flags: 0,
    cleared: 0,
    propagation: [],
    data: "",
    bind: type === "bind",
    recursiveReadonly: false,
  };
  const data: string[] = [];
  for (const opt of options) {
    if (opt in SET) {
      out.flags |= SET[opt];
      out.cleared &= ~SET[opt];
    } else if (opt in CLEAR) {
      out.flags &= ~CLEAR[opt];
      out.cleared |= CLEAR[opt];
    } else if (opt in PROPAGATION) {
      out.propagation.push(PROPAGATION[opt]);
    } else if (opt === "rro") {
      out.flags |= MS.RDONLY;
      out.recursiveReadonly = true;
    } else if (!IGNORED.has(opt)) {
      data.push(opt);
    }
  }
  if (out.flags & MS.BIND) out.bind = true;
  if (out.bind) out.flags |= MS.BIND;
  out.data = data.join(",");
  return out;
}
