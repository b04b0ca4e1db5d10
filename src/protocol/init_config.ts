/** What boot hands the init process: one JSON document in a memfd, plus the fds it names. */
import type { LinuxTimeOffset, Mount, Process, Spec } from "../specutils/spec.ts";

/** The namespace paths an exec joins (those of the running container). */
export interface JoinedNamespace {
  type: string;
  path: string;
}

/** The init process's instructions. */
export interface InitConfig {
  /** "create" builds a new container; "exec" joins a running one. */
  mode: "create" | "exec";
  id: string;
  spec: Spec;
  /** The process to run (spec.process for create; the exec'd process for exec). */
  process: Process;
  /** The final mount list (from --mounts-fd, or spec.mounts). */
  mounts: Mount[];
  /** fd of the container's root directory, or null to use spec.root.path. */
  rootFd: number | null;
  /** mount index → fd of its (bind) source. */
  bindFds: Record<string, number>;
  /** Where init reports "ready", or an error line. CLOEXEC at exec, so EOF after start means exec succeeded. */
  readyFd: number;
  /** One byte here means: exec the process now. */
  startFd: number;
  /** --network: none forces an empty network namespace, host keeps the host's. */
  network: "none" | "sandbox" | "host";
  /** chroot instead of pivot_root. */
  noPivot: boolean;
  /** Restrict the app to this many CPUs (0: all). */
  cpuNum: number;
  /** Keep PDEATHSIG(SIGKILL) through exec, so the app dies with boot. */
  attached: boolean;
  /** fds 3 … 3+preserveFds-1 pass through to the app. */
  preserveFds: number;
  /**
   * fds of the container's cgroup directories (one per hierarchy); init writes "0" to cgroup.procs under
   * each as its very first step. Absent or empty: init stays in boot's cgroups.
   */
  cgroupFds?: number[];
  /**
   * create mode: the root and bind source fds are detached trees already (boot made them, because init in
   * a user namespace of its own may not copy mount trees of boot's namespace): used as they are.
   */
  sourcesDetached?: boolean;
  /**
   * create mode: the spec's user namespace (a path) was joined already, by boot's first child, which made
   * the container's pid namespace in it (src/boot/userns.ts); init does not join it again.
   */
  userEntered?: boolean;
  /**
   * exec mode: the offsets of the container's time namespace, when it has one. The exec'd process gets a
   * new time namespace with them instead of joining the container's (src/init/timens.ts says why).
   */
  timeOffsets?: Record<string, LinuxTimeOffset>;
  /** exec mode: the namespaces of the running container to join. */
  join?: JoinedNamespace[];
  /**
   * exec mode: the running container's root (`/proc/PID/root`), entered with chroot after the namespaces,
   * for a container whose root is not its mount namespace's root (it shares the runtime's or a joined one).
   */
  joinRoot?: string;
  /**
   * exec mode, `runts exec --detach`: the wrapper that spawned init exits right after the start, so the
   * parent-death signal is cleared before execve and the process is re-parented to the engine's subreaper.
   */
  detached?: boolean;
}

/** The configuration before its fds are laid out (src/boot/spawn_init.ts layoutInitFds numbers them). */
export type InitPlan = Omit<InitConfig, "readyFd" | "startFd" | "rootFd" | "bindFds" | "cgroupFds">;

/** Where init's pid namespace comes from. */
export type PidNamespace = { kind: "inherit" } | { kind: "new" } | { kind: "join"; path: string };

/** Field order in messages on the ready pipe. */
export const READY = "ready";
