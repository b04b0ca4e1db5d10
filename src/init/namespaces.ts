/** Entering the container's namespaces from init's main thread (new ones by unshare, others by setns). */
import { CLONE, type Kernel, O } from "../../ffi/mod.ts";
import { isNamespaceType, NAMESPACE_FLAGS } from "../specutils/namespaces.ts";
import type { InitConfig } from "./config.ts";

/** The plan for one init: namespaces to join (path, flag) in order, and flags to unshare afterwards. */
export interface NamespacePlan {
  join: Array<{ path: string; flag: number }>;
  unshare: number;
  /** init ends up in a user namespace of the container's (made by the clone, or joined first). */
  user: boolean;
}

/**
 * Works out which namespaces init joins and which it creates. The pid namespace is boot's business (a
 * process cannot move itself into a new one), and so is a new user namespace (CLONE_NEWUSER in the clone
 * flags, src/boot/userns.ts). A joined user namespace comes first, so that the others are entered with
 * its privileges, and mount last, because the other paths are resolved in the current mount namespace.
 */
export function planNamespaces(cfg: InitConfig): NamespacePlan {
  const plan: NamespacePlan = { join: [], unshare: 0, user: false };
  let user: { path: string; flag: number } | undefined;
  const entries = cfg.mode === "exec"
    ? (cfg.join ?? []).map((j) => ({ type: j.type, path: j.path }))
    : cfg.spec.linux?.namespaces ?? [];
  let mount: { path: string; flag: number } | undefined;
  for (const ns of entries) {
    if (!isNamespaceType(ns.type)) throw new Error(`namespace type ${JSON.stringify(ns.type)} is not known`);
    const flag = NAMESPACE_FLAGS[ns.type];
    if (ns.type === "pid") continue;
    if (ns.type === "user") {
      plan.user = true;
      if (ns.path && !cfg.userEntered) user = { path: ns.path, flag };
      continue;
    }
    if (ns.type === "network" && cfg.network === "host") continue;
    if (ns.type === "network" && cfg.network === "none") {
      plan.unshare |= flag;
      continue;
    }
    if (ns.path) {
      if (ns.type === "mount") mount = { path: ns.path, flag };
      else plan.join.push({ path: ns.path, flag });
    } else {
      plan.unshare |= flag;
    }
  }
  if (cfg.mode === "create" && cfg.network === "none") plan.unshare |= CLONE.NEWNET;
  if (cfg.mode === "exec" && cfg.timeOffsets) plan.unshare |= CLONE.NEWTIME;
  if (user) plan.join.unshift(user);
  if (mount) plan.join.push(mount);
  // Building a root (mounts, pivot_root) is only ever done in a mount namespace of init's own: without a
  // mount entry it would act on boot's (the host's) namespace, and in a joined one on its other processes.
  if (cfg.mode === "create") plan.unshare |= CLONE.NEWNS;
  return plan;
}

/** Carries out a plan: open every path first, then setns in order, then unshare. */
export function enterNamespaces(k: Kernel, plan: NamespacePlan): void {
  // setns(CLONE_NEWNS) refuses a process whose fs_struct is shared with other threads.
  k.unshare(CLONE.FS);
  const fds = plan.join.map((j) => ({ fd: k.open(j.path, O.RDONLY | O.CLOEXEC), ...j }));
  try {
    for (const j of fds) k.setns(j.fd, j.flag);
  } finally {
    for (const j of fds) k.close(j.fd);
  }
  if (plan.unshare) k.unshare(plan.unshare);
}
