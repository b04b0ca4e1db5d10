/**
 * Namespaces boot enters through a first child (ffi/clone_child.ts runInGrandchild) instead of on its own
 * main thread. The child joins them and clones init with CLONE_PARENT, so init is still boot's child, and
 * dies; boot itself never moves. Two reasons to go this way:
 *
 * - a pid namespace owned by a joined user namespace: only a process in that user namespace can make it
 *   (unshare(CLONE_NEWPID) for its children);
 * - a runtime that is not root of the host (rootless: an unprivileged user, or root of a user namespace
 *   of its own as under rootless podman) may setns into the container's pid namespace, but not back into
 *   its own, which the host's user namespace owns (setns needs CAP_SYS_ADMIN there). A main thread that
 *   joined it for the instant of the clone (spawn_init.ts withPidNamespace) would be stuck in it.
 */
import { CLONE, type Kernel, O } from "../../ffi/mod.ts";
import type { InitSpawn } from "./spawn_init.ts";
import type { PidNamespace } from "../protocol/init_config.ts";

/** What a first child enters: a user namespace by path (or none), then the pid namespace for init. */
export interface FirstChildPlan {
  user: string | null;
  pid: PidNamespace;
}

function join(k: Kernel, path: string, flag: number, what: string): void {
  const fd = k.open(path, O.RDONLY | O.CLOEXEC);
  try {
    k.setns(fd, flag);
  } catch (e) {
    throw new Error(`joining the ${what} namespace ${path}: ${(e as Error).message}`);
  } finally {
    k.close(fd);
  }
}

/**
 * In boot's first child: joins `plan.user`, then makes init's pid namespace: a new one (owned by the user
 * namespace the child is in), the one at a path, or the child's own.
 */
export function enterForInit(k: Kernel, plan: FirstChildPlan): void {
  if (plan.user !== null) join(k, plan.user, CLONE.NEWUSER, "user");
  if (plan.pid.kind === "new") k.unshare(CLONE.NEWPID);
  else if (plan.pid.kind === "join") join(k, plan.pid.path, CLONE.NEWPID, "pid");
}

/**
 * The spawn init gets when a first child entered `plan` for it: the pid namespace is already its own,
 * and a joined user namespace is not joined again.
 */
export function spawnAfterFirstChild(s: InitSpawn, plan: FirstChildPlan): InitSpawn {
  return {
    ...s,
    pidns: { kind: "inherit" },
    config: plan.user !== null ? { ...s.config, userEntered: true } : s.config,
  };
}

/**
 * An exec's plan when boot (or the exec wrapper) cannot go back to its own pid namespace: the
 * container's user namespace (when it has one of its own) and its pid namespace; null when the exec
 * joins neither, or when `canReturn` (root of the host joins on its main thread, as before).
 */
export function execPlan(s: InitSpawn, canReturn: boolean): FirstChildPlan | null {
  if (canReturn) return null;
  const user = s.config.mode === "exec" ? s.config.join.find((j) => j.type === "user")?.path ?? null : null;
  if (user === null && s.pidns.kind !== "join") return null;
  return { user, pid: s.pidns };
}
