/** Entering the container's namespaces from init's main thread (new ones by unshare, others by setns). */
import { CLONE, type Kernel, O } from "../../ffi/mod.ts";
import { getNS, isNamespaceType, NAMESPACE_FLAGS } from "../specutils/namespaces.ts";
import type { Spec } from "../specutils/spec.ts";
import type { InitConfig } from "../protocol/init_config.ts";

/** The plan for one init: namespaces to join (path, flag) in order, and flags to unshare afterwards. */
export interface NamespacePlan {
  join: Array<{ path: string; flag: number }>;
  unshare: number;
  /** exec: the running container's root, entered with chroot once the namespaces are joined. */
  root?: string;
  /** init ends up in a user namespace of the container's (made by the clone, or joined first). */
  user: boolean;
}

/**
 * Whose mount namespace a new container lives in, as the spec says: its own (an entry without a path),
 * a joined one (an entry with a path), or the runtime's (no entry). Only in its own does init pivot_root;
 * in the other two it shares the namespace with other processes, whose root must stay theirs.
 */
export type MountNamespaceKind = "own" | "joined" | "shared";

/** The container's MountNamespaceKind. */
export function mountNamespaceKind(spec: Spec): MountNamespaceKind {
  const entry = getNS(spec, "mount");
  return !entry ? "shared" : entry.path ? "joined" : "own";
}

/**
 * Works out which namespaces init joins and which it creates, exactly as the spec lists them. The pid
 * namespace is boot's business (a process cannot move itself into a new one), and so is a new user
 * namespace (CLONE_NEWUSER in the clone flags, src/boot/userns.ts). A joined user namespace comes first, so
 * that the others are entered with its privileges, and mount last, because the other paths are resolved in
 * the current mount namespace. Without a mount entry the container stays in the runtime's (buildRoot then
 * chroots instead of pivoting).
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
    const network = cfg.mode === "create" ? cfg.network : "sandbox";
    if (ns.type === "network" && network === "host") continue;
    if (ns.type === "network" && network === "none") {
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
  if (cfg.mode === "exec" && cfg.joinRoot) plan.root = cfg.joinRoot;
  return plan;
}

/**
 * Carries out a plan: open every path first (the root too: /proc/PID is boot's view), then setns in order,
 * then unshare, then chroot into the root an exec joins.
 */
export function enterNamespaces(k: Kernel, plan: NamespacePlan): void {
  // setns(CLONE_NEWNS) refuses a process whose fs_struct is shared with other threads.
  k.unshare(CLONE.FS);
  const root = plan.root ? k.open(plan.root, O.PATH | O.DIRECTORY | O.CLOEXEC) : -1;
  try {
    const fds = plan.join.map((j) => ({ fd: k.open(j.path, O.RDONLY | O.CLOEXEC), ...j }));
    try {
      for (const j of fds) k.setns(j.fd, j.flag);
    } finally {
      for (const j of fds) k.close(j.fd);
    }
    if (plan.unshare) k.unshare(plan.unshare);
    if (root >= 0) {
      k.fchdir(root);
      k.chroot(".");
      k.chdir("/");
    }
  } finally {
    if (root >= 0) k.close(root);
  }
}
