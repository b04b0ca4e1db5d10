/**
 * init as a clone child (ffi/clone_child.ts): the job that builds the container, or joins it for an exec,
 * in a child process that shares its parent's memory until it execs the app. The same steps as the
 * `runts init` process (src/init/init.ts), without a Deno start: the fds are moved to their places, then
 * prepare(), the parent-death signal, the fds the app must not see, the rlimits, seccomp, execve.
 */
import { CLOSE_RANGE_CLOEXEC, type ExecTarget, type Kernel, O, SIGNALS } from "../../ffi/mod.ts";
import type { CompiledFilter } from "../seccomp/compile.ts";
import { lastCap } from "../specutils/capabilities.ts";
import { laterPause, testPause } from "../util/test_pause.ts";
import type { InitConfig } from "../protocol/init_config.ts";
import { prepare, seal } from "./init.ts";
import { applyRlimits } from "./process.ts";
import { awaitIdMaps, type IdMapHandshake } from "./userns.ts";
import { stage } from "../util/stages.ts";

/** What a clone child's init job needs. */
export interface ChildInit {
  /** The configuration, naming fds by their numbers after the move. */
  config: InitConfig;
  /** child fd → parent fd: the layout of src/boot/spawn_init.ts layoutInitFds. */
  fds: ReadonlyMap<number, number>;
  /** linux.seccomp compiled by the parent (the child must not dlopen), or null. */
  filter: CompiledFilter | null;
  /**
   * create: PTRACE_TRACEME before the execve, so the kernel stops the app right after it, before its
   * first instruction, until boot (its tracer) detaches at StartRoot.
   */
  traceUntilStart: boolean;
  /**
   * A new user namespace came with the clone: the handshake with boot's map writer, done first of all
   * (its fds are the parent's numbers, before moveFds rearranges them).
   */
  idMaps?: IdMapHandshake | null;
  /**
   * The cgroup directory (a child fd number of config.cgroupFds) the child was born in (clone3
   * CLONE_INTO_CGROUP), which it need not join; null when it joins them all. Read when the job runs: the
   * caller sets it for the clone it makes.
   */
  bornIn?: { fd: number | null };
}

/**
 * Puts each parent fd at its child number: first all to fresh numbers above the layout (a source may sit
 * on another's target), then onto the targets, without CLOEXEC. Everything else is marked CLOEXEC, so the
 * app gets exactly the layout's fds that survive init (0–2 and the preserved ones).
 */
export function moveFds(k: Kernel, fds: ReadonlyMap<number, number>): void {
  const top = Math.max(...fds.keys()) + 1;
  const temps = [...fds].map(([to, from]) => [to, k.dupAtLeast(from, top)] as const);
  for (const [to, tmp] of temps) k.dup3(tmp, to, 0);
  for (const [, tmp] of temps) k.close(tmp);
  k.closeRange(top, 0xffffffff, CLOSE_RANGE_CLOEXEC);
}

/** The job: returns what the child execs; throws (the runner reports it) on any failure. */
export function initJob(k: Kernel, c: ChildInit): () => ExecTarget {
  return () => {
    const cfg = c.config;
    if (c.idMaps) awaitIdMaps(k, c.idMaps);
    stage("init: child running");
    moveFds(k, c.fds);
    // While still boot's credentials: PTRACE_TRACEME records the tracee's credentials as its tracer's, and
    // an execve under a tracer without CAP_SYS_PTRACE would ignore set-id bits and file capabilities.
    if (c.traceUntilStart) k.ptraceTraceMe();
    k.setParentDeathSignal(SIGNALS.KILL);
    // Until execve no process of the container may ptrace init or open its /proc files.
    k.setDumpable(false);
    testPause("init-start");
    const beforeExec = laterPause(
      "init-before-exec",
      (dir) => k.open(dir, O.PATH | O.DIRECTORY | O.CLOEXEC),
      (fd) => k.close(fd),
    );
    const born = c.bornIn?.fd ?? null;
    const joins = born === null ? cfg : { ...cfg, cgroupFds: cfg.cgroupFds?.filter((fd) => fd !== born) };
    const prepared = prepare(k, joins, lastCap(), c.filter, true);
    // The credential change cleared it. A detached exec outlives the `runts exec` that made it.
    k.setParentDeathSignal(cfg.mode === "exec" && cfg.detached ? 0 : SIGNALS.KILL);
    k.closeRange(3 + cfg.preserveFds, 0xffffffff, CLOSE_RANGE_CLOEXEC);
    beforeExec.pause();
    beforeExec.close();
    // Last of all: the child's address space is its parent's, and RLIMIT_AS judges it whole.
    applyRlimits(k, cfg.process);
    seal(k, prepared);
    stage("init: sealed");
    return { path: prepared.path, argv: cfg.process.args!, env: prepared.env };
  };
}
