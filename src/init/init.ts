/**
 * The init process: a short-lived runts that boot spawns on its main thread. Synchronously, on its own main
 * thread, it enters the namespaces, builds the root, sets up the process, reports "ready" to boot, waits for
 * the start byte and execve's the app, which keeps its pid.
 */
import { applyScheduling } from "./scheduling.ts";
import { type CapSets, CLONE, CLOSE_RANGE_CLOEXEC, type Kernel, SIGNALS } from "../../ffi/mod.ts";
import type { InitConfig } from "../protocol/init_config.ts";
import { encodeReport, type InitReport } from "../protocol/init_config.ts";
import { joinCgroups } from "../cgroups/join.ts";
import { testPause } from "../util/test_pause.ts";
import { setUpConsole, wantsConsole } from "./console.ts";
import { enterNamespaces, planNamespaces } from "./namespaces.ts";
import { buildRoot, takeSources } from "./rootfs.ts";
import { applyCredentials } from "../credentials/credentials.ts";
import {
  applyOomScoreAdj,
  applyPersonality,
  applyRlimits,
  enterCwd,
  execFailure,
  lookPath,
  namespaceIds,
  ownNamespaces,
  setNames,
  withHome,
} from "./process.ts";
import { capMask, lastCap } from "../specutils/capabilities.ts";
import { becomeRoot, checkJoinedMaps } from "./userns.ts";
import { applyTimeOffsets } from "./timens.ts";
import { takeSourcesByPath } from "./rootless.ts";
import { getNS } from "../specutils/namespaces.ts";
import { type CompiledFilter, compileSeccomp, installFilter } from "../seccomp/compile.ts";
import { stage } from "../util/stages.ts";

const encoder = new TextEncoder();

function restrictCpus(k: Kernel, n: number): void {
  if (n <= 0) return;
  const cpus = k.schedGetaffinity(0);
  if (n < cpus.length) k.schedSetaffinity(0, cpus.slice(0, n));
}

/** Sends one report to boot over the ready pipe. */
export function report(k: Kernel, fd: number, r: InitReport): void {
  const bytes = encoder.encode(encodeReport(r));
  let off = 0;
  while (off < bytes.length) off += k.write(fd, bytes.subarray(off));
}

/** What prepare leaves for the moment after the start byte. */
export interface Prepared {
  /** The app's executable, resolved inside the container. */
  path: string;
  /** The app's environment (process.env, with HOME filled in as runc does). */
  env: string[];
  /** linux.seccomp compiled, or null. */
  filter: CompiledFilter | null;
  /** The app's capability sets when init still holds CAP_SYS_ADMIN only to load the filter, else null. */
  dropTo: CapSets | null;
}

const CAP_SYS_ADMIN = capMask(["CAP_SYS_ADMIN"]);

/**
 * Everything up to the start signal but the rlimits (see applyRlimits' callers). `compiled` is the
 * seccomp filter when the caller compiled it already (a clone child must not dlopen). `singleThreaded`:
 * the caller is a process of one thread (a clone child), which joins v1 cgroups faster (join.ts). Throws
 * on any failure; the caller reports it.
 */
export function prepare(
  k: Kernel,
  cfg: InitConfig,
  cap = lastCap(),
  compiled?: CompiledFilter | null,
  singleThreaded = false,
): Prepared {
  // Into the container's cgroups before anything else: limits apply from here, and a new cgroup
  // namespace is rooted at the container's cgroup.
  joinCgroups(k, cfg.cgroupFds ?? [], singleThreaded);
  stage("init: cgroups joined");
  k.umask(0);
  // libseccomp is dlopen'ed from the host's root, so the filter is compiled before anything moves.
  const seccomp = cfg.spec.linux?.seccomp;
  const filter = compiled !== undefined ? compiled : seccomp ? compileSeccomp(seccomp) : null;
  const late = cfg.mode === "create" && cfg.sourcesByPath === true;
  let sources = cfg.mode === "create" && !late ? takeSources(k, cfg) : null;
  const before = namespaceIds(k);
  const plan = planNamespaces(cfg);
  enterNamespaces(k, plan);
  if (late) sources = takeSourcesByPath(k, cfg);
  stage("init: namespaces entered");
  // Before init becomes the namespace's root: its /proc/self files belong to boot's uid until execve.
  if (plan.unshare & CLONE.NEWTIME) {
    applyTimeOffsets(k, cfg.mode === "exec" ? cfg.timeOffsets : cfg.spec.linux?.timeOffsets);
  }
  const groups = plan.user ? enteredUserNamespace(k, cfg) : true;
  // A network namespace of its own starts with `lo` down; runtimes bring it up (runc does).
  if (plan.unshare & CLONE.NEWNET) k.linkUp("lo");
  if (sources && cfg.mode === "create") {
    buildRoot(k, cfg, sources, ownNamespaces(k, before));
    setNames(k, cfg.spec);
    stage("init: root built");
  }
  const p = cfg.process;
  applyOomScoreAdj(k, p);
  applyPersonality(k, cfg.spec.linux?.personality);
  restrictCpus(k, cfg.cpuNum);
  applyScheduling(k, p);
  const cwd = p.cwd || "/";
  enterCwd(k, cwd);
  const env = withHome(k, p.env ?? [], p.user?.uid ?? 0);
  const path = lookPath(k, p.args![0], env, cwd);
  if (wantsConsole(k, p)) setUpConsole(k, p);
  // Its own session, so signals to the foreground group reach the app's group, and a terminal can become
  // the controlling tty of exactly this session.
  k.setsid();
  if (p.terminal) k.setControllingTty(0);
  // seccomp(2) needs no_new_privs or CAP_SYS_ADMIN. Without no_new_privs, init keeps CAP_SYS_ADMIN until
  // the filter is loaded and drops to the app's exact sets right after.
  const hold = filter && !p.noNewPrivileges ? CAP_SYS_ADMIN : 0n;
  const sets = applyCredentials(k, p, cap, hold, groups);
  stage("init: credentials set");
  k.umask(p.user?.umask ?? 0o022);
  return { path, env, filter, dropTo: hold && !(sets.effective & hold) ? sets : null };
}

/**
 * Right after the namespaces: a joined user namespace is checked against the spec's maps (create only:
 * an exec joins the container's own), then init becomes the namespace's root (userns.ts). Returns
 * whether setgroups is allowed there.
 */
function enteredUserNamespace(k: Kernel, cfg: InitConfig): boolean {
  if (cfg.mode === "create" && getNS(cfg.spec, "user")?.path) {
    checkJoinedMaps(k, cfg.spec.linux?.uidMappings, cfg.spec.linux?.gidMappings);
  }
  return becomeRoot(k);
}

/**
 * The last steps before execve: the seccomp filter, then (when init held CAP_SYS_ADMIN for it) the drop to
 * the app's capability sets. Everything that runs after the filter is loaded runs under it: a profile must
 * allow capset (when no_new_privs is off), rt_sigaction, rt_sigprocmask and execve, as with any runtime.
 */
export function seal(k: Kernel, prepared: Prepared): void {
  if (!prepared.filter) return;
  installFilter(k, prepared.filter);
  if (prepared.dropTo) k.capset(prepared.dropTo);
}

/** Runs init to the execve of the app; never returns. */
export function runInit(k: Kernel, cfg: InitConfig): never {
  k.setParentDeathSignal(SIGNALS.KILL);
  // Until execve (which resets it for the app) no process of the container may ptrace init or open its
  // /proc files (exe, root, cwd, fd, mem): init holds runts's fds and privileges.
  k.setDumpable(false);
  testPause("init-start");
  let prepared: Prepared;
  try {
    prepared = prepare(k, cfg);
    // Re-armed before "ready": the credential change in prepare() cleared it. A boot that dies before this
    // point makes the ready report fail (EPIPE), so no instant is left where boot's death goes unnoticed.
    k.setParentDeathSignal(SIGNALS.KILL);
    // Everything above the preserved fds is closed at exec; that includes the ready pipe, whose EOF tells
    // boot the exec succeeded.
    k.closeRange(3 + cfg.preserveFds, 0xffffffff, CLOSE_RANGE_CLOEXEC);
    for (let fd = 3; fd < 3 + cfg.preserveFds; fd++) k.keepOnExec(fd);
    report(k, cfg.readyFd, { kind: "ready" });
  } catch (e) {
    report(k, cfg.readyFd, { kind: "error", message: (e as Error).message });
    Deno.exit(1);
  }
  const one = new Uint8Array(1);
  if (k.read(cfg.startFd, one) !== 1) Deno.exit(1); // boot went away before starting us
  // A detached exec outlives the `runts exec` that spawned it (the engine's subreaper adopts it).
  if (cfg.mode === "exec" && cfg.detached) k.setParentDeathSignal(0);
  // The app never outlives boot (docs/reliability.md): the parent-death signal armed above stays through
  // execve (unless the program is set-id or has file capabilities).
  try {
    applyRlimits(k, cfg.process);
    seal(k, prepared);
    k.execve(prepared.path, cfg.process.args!, prepared.env);
  } catch (e) {
    const failure = execFailure(prepared.path, e);
    report(k, cfg.readyFd, { kind: "error", message: failure.message });
    Deno.exit(failure.code);
  }
}
