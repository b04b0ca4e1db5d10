/** What the container ends up with, read off the plan's model once init's job returned; and seccomp's line. */
import { Errno, errnoName } from "../../ffi/mod.ts";
import { capNames } from "../specutils/capabilities.ts";
import type { LinuxIDMapping, LinuxSeccomp, LinuxTimeOffset } from "../specutils/spec.ts";
import { argComparisons, type CompiledFilter, conditionSets } from "../seccomp/compile.ts";
import { mountFlagNames, PER_MOUNT } from "./describe.ts";
import type { Caps, PlanState } from "./state.ts";
import { mountsBelow, pathFrom } from "./vfs.ts";

/** One mount of the container's mount table. */
export interface PlannedMount {
  /** Where the app sees it. */
  destination: string;
  /** The file-system type, "bind" for a bind mount, "rootfs" for the root. */
  type: string;
  /** The mount source (a host path for binds). */
  source: string;
  /** Per-mount flags, mount(8) names (ro, nosuid, nodev, noexec, atime bits; "idmapped"). */
  options: string[];
}

/** The app's process as execve starts it. */
export interface PlannedProcess {
  path: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The sets the app has once execve ran (afterExecve). */
  capabilities: Record<"bounding" | "effective" | "permitted" | "inheritable" | "ambient", string[]>;
  noNewPrivileges: boolean;
  /** Seccomp filters loaded (0 or 1). */
  seccompFilters: number;
  /** Namespaces of its own, not the host's ("mnt", "net", ...). */
  namespaces: string[];
  /** Its user namespace when not the host's: the maps (as /proc/self/uid_map shows them) and setgroups. */
  userNamespace: { uidMap: LinuxIDMapping[]; gidMap: LinuxIDMapping[]; setgroups: "allow" | "deny" } | null;
  /** Its clocks' offsets when in a time namespace of its own (as /proc/self/timens_offsets shows them). */
  timeOffsets: Record<string, LinuxTimeOffset> | null;
}

/**
 * The sets execve(2) gives the app from the sets init left (capabilities(7), a program without file
 * capabilities or set-id bits): uid 0 gets its inheritable and bounding sets (and the ambient one) as
 * permitted and effective; any other uid only its ambient set.
 */
export function afterExecve(uid: number, c: Caps): Caps {
  const permitted = uid === 0 ? (c.inheritable | c.bounding | c.ambient) : c.ambient;
  return { ...c, permitted, effective: permitted };
}

/** The container's mount table, root first, in the order the mounts were made below each other. */
export function plannedMounts(s: PlanState): PlannedMount[] {
  const root = s.containerRootLoc();
  if (!root) return [];
  return mountsBelow(root.mount, root).map(({ mount, path }) => ({
    destination: path,
    type: mount.fstype,
    source: mount.source,
    options: [...mountFlagNames(mount.flags & PER_MOUNT), ...(mount.idmap ? ["idmapped"] : [])],
  }));
}

/** The app's process, or null when init's job did not get to execve. */
export function plannedProcess(s: PlanState): PlannedProcess | null {
  const f = s.final;
  if (!f) return null;
  const p = f.proc;
  const c = afterExecve(p.uid, p.caps);
  const u = s.userNs(p);
  return {
    path: f.path,
    args: [...f.argv],
    env: [...f.env],
    cwd: pathFrom(p.cwd, p.root) ?? "?",
    uid: p.uid,
    gid: p.gid,
    additionalGids: [...p.groups],
    capabilities: {
      bounding: capNames(c.bounding),
      effective: capNames(c.effective),
      permitted: capNames(c.permitted),
      inheritable: capNames(c.inheritable),
      ambient: capNames(c.ambient),
    },
    noNewPrivileges: p.noNewPrivs,
    seccompFilters: p.seccompFilters,
    namespaces: Object.keys(p.ns).filter((t) => p.ns[t] !== s.hostNs[t]),
    userNamespace: p.ns.user === s.hostNs.user ? null : {
      uidMap: u.uidMap ?? [],
      gidMap: u.gidMap ?? [],
      setgroups: u.setgroups,
    },
    timeOffsets: p.ns.time === s.hostNs.time ? null : {
      monotonic: { secs: 0, nanosecs: 0, ...p.timeOffsets?.monotonic },
      boottime: { secs: 0, nanosecs: 0, ...p.timeOffsets?.boottime },
    },
  };
}

function actionText(action: string, errnoRet?: number): string {
  const short = action.replace(/^SCMP_ACT_/, "");
  if (short === "ERRNO") return `ERRNO(${errnoName(errnoRet ?? Errno.EPERM)})`;
  if (short === "TRACE") return `TRACE(${errnoRet ?? 0})`;
  return short;
}

/**
 * linux.seccomp in one line: the default action, then per action the rules libseccomp is given (one per
 * syscall name it knows and condition set, as compile.ts adds them), from how many spec entries; and the
 * names the installed libseccomp does not know (skipped, as runc does).
 */
export function seccompSummary(p: LinuxSeccomp, compiled: CompiledFilter): string {
  const perAction = new Map<string, { rules: number; entries: number }>();
  const def = actionText(p.defaultAction, p.defaultErrnoRet);
  (p.syscalls ?? []).forEach((r, i) => {
    const action = actionText(r.action, r.errnoRet);
    if (action === def) return;
    const sets = conditionSets(argComparisons(r.args ?? [], `syscalls[${i}]`)).length;
    const known = r.names.filter((n) => !compiled.skipped.includes(n)).length;
    const e = perAction.get(action) ?? { rules: 0, entries: 0 };
    e.rules += known * sets;
    e.entries++;
    perAction.set(action, e);
  });
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  const parts = [...perAction].map(([a, e]) =>
    `${a}: ${n(e.rules, "rule", "rules")} from ${n(e.entries, "spec entry", "spec entries")}`
  );
  const skipped = compiled.skipped.length
    ? `; ${compiled.skipped.length} names unknown to ${compiled.compiler}`
    : "";
  return `default ${def}${
    parts.length ? "; " + parts.join("; ") : ""
  }${skipped} (rules counted as given to ${compiled.compiler})`;
}
