/**
 * boot's command line (runsc's `boot` flags, plus the runts ones), the wrapper → boot hop: the flags a
 * wrapper passes (src/wrapper/boot_args.ts writes ours), and the one typed BootRequest they decode into,
 * checked on arrival. `runts boot` (src/cmd/boot.ts) and `runts explain` parse with these same flags.
 */
import type { FlagSet, Ref } from "../flag/flag.ts";

/** What one boot invocation is asked to do, decoded from its flags and its one argument. */
export interface BootRequest {
  /** The container id (the one positional argument). */
  id: string;
  bundle: string;
  specFd: number;
  controllerFd: number;
  /** runsc's platform device fd: accepted and closed (native). -1: none. */
  deviceFd: number;
  /** The root directory fd, then one fd per bind mount source, in mounts order (may be empty). */
  ioFds: number[];
  /** The container's stdin, stdout and stderr; null: boot's own 0, 1, 2. */
  stdioFds: [number, number, number] | null;
  applyCaps: boolean;
  setUpRoot: boolean;
  /** runsc's --pidns: informational here (linux.namespaces decide). */
  pidns: boolean;
  cpuNum: number;
  totalMem: bigint;
  /** 0: no user log. */
  userLogFd: number;
  startSyncFd: number;
  /** The resolved mount list (JSON); -1: spec.mounts. */
  mountsFd: number;
  attached: boolean;
  noPivot: boolean;
  preserveFds: number[];
  /** -1: none. */
  exitStatusFd: number;
  cgroupFds: number[];
  cgroupParentFds: number[];
}

/** The flag names one boot stage hands on to the next when it re-executes itself. */
export const SOURCE_FLAGS = ["mounts-fd", "io-fds"] as const;

/** boot's flags, registered on a FlagSet; decode() reads them after the parse. */
export class BootFlags {
  readonly #bundle: Ref<string>;
  readonly #specFd: Ref<number>;
  readonly #controllerFd: Ref<number>;
  readonly #deviceFd: Ref<number>;
  readonly #ioFds: Ref<number[]>;
  readonly #stdioFds: Ref<number[]>;
  readonly #applyCaps: Ref<boolean>;
  readonly #setUpRoot: Ref<boolean>;
  readonly #pidns: Ref<boolean>;
  readonly #cpuNum: Ref<number>;
  readonly #totalMem: Ref<bigint>;
  readonly #userLogFd: Ref<number>;
  readonly #startSyncFd: Ref<number>;
  readonly #mountsFd: Ref<number>;
  readonly #attached: Ref<boolean>;
  readonly #noPivot: Ref<boolean>;
  readonly #preserveFds: Ref<number[]>;
  readonly #exitStatusFd: Ref<number>;
  readonly #cgroupFds: Ref<number[]>;
  readonly #cgroupParentFds: Ref<number[]>;

  constructor(f: FlagSet) {
    this.#bundle = f.string("bundle", "", "required path to the root of the bundle directory");
    this.#specFd = f.int("spec-fd", -1, "required fd with the container spec");
    this.#controllerFd = f.int(
      "controller-fd",
      -1,
      "required FD of a stream socket for the control server that must be donated to this process",
    );
    this.#deviceFd = f.int("device-fd", -1, "FD for the platform device file (accepted and closed: native)");
    this.#ioFds = f.intList(
      "io-fds",
      "list of FDs of the root directory, then of each bind mount source, in mounts order",
    );
    this.#stdioFds = f.intList(
      "stdio-fds",
      "list of FDs containing sandbox stdin, stdout, and stderr in that order",
    );
    this.#applyCaps = f.bool(
      "apply-caps",
      false,
      "if true, apply capabilities defined in the spec to the process",
    );
    this.#setUpRoot = f.bool("setup-root", false, "if true, set up an empty root for the process");
    this.#pidns = f.bool(
      "pidns",
      false,
      "accepted for runsc's wrappers; the spec's linux.namespaces decide the container's PID namespace",
    );
    this.#cpuNum = f.int("cpu-num", 0, "number of CPUs the container may use (0: all)");
    this.#totalMem = f.uint64("total-memory", 0n, "memory limit for the container in bytes (0: none)");
    this.#userLogFd = f.int("user-log-fd", 0, "file descriptor to write user logs to. 0 means no logging.");
    this.#startSyncFd = f.int("start-sync-fd", -1, "required FD to used to synchronize sandbox startup");
    this.#mountsFd = f.int("mounts-fd", -1, "FD of the resolved mount list (JSON); absent: spec.mounts");
    this.#attached = f.bool(
      "attached",
      false,
      "if attached is true, kills the sandbox process when the parent process terminates",
    );
    this.#noPivot = f.bool("no-pivot", false, "use chroot instead of pivot_root for the container (runts)");
    this.#preserveFds = f.intList("preserve-fd", "an fd passed to the app as fd 3, 4, ... in order (runts)");
    this.#cgroupFds = f.intList(
      "cgroup-fd",
      "an open directory of one of the container's cgroups, one per hierarchy: init joins each before it " +
        "does anything else, Pause/Resume and Event use them; the wrapper's limits apply (runts)",
    );
    this.#cgroupParentFds = f.intList(
      "cgroup-parent-fd",
      "internal: the parent of each of boot's own cgroups (--total-memory or --cpu-num without --cgroup-fd), " +
        "where they are removed when the container is gone (runts)",
    );
    this.#exitStatusFd = f.int(
      "exit-status-fd",
      -1,
      "file that receives the app's wait status when it exits, before the controller stops (runts)",
    );
  }

  /**
   * The request the parsed flags make; null when a required flag or the container id is missing (a
   * usage error). Throws when a flag's value cannot be right (--stdio-fds with other than 3 fds).
   */
  decode(f: FlagSet): BootRequest | null {
    if (this.#specFd.value === -1 || this.#controllerFd.value === -1 || this.#startSyncFd.value === -1) {
      return null;
    }
    if (f.nArg() !== 1) return null;
    const stdio = this.#stdioFds.value;
    if (stdio.length !== 0 && stdio.length !== 3) {
      throw new Error(`--stdio-fds: want 3 fds, got ${stdio.length}`);
    }
    return {
      id: f.arg(0),
      bundle: this.#bundle.value,
      specFd: this.#specFd.value,
      controllerFd: this.#controllerFd.value,
      deviceFd: this.#deviceFd.value,
      ioFds: [...this.#ioFds.value],
      stdioFds: stdio.length === 3 ? [stdio[0], stdio[1], stdio[2]] : null,
      applyCaps: this.#applyCaps.value,
      setUpRoot: this.#setUpRoot.value,
      pidns: this.#pidns.value,
      cpuNum: this.#cpuNum.value,
      totalMem: this.#totalMem.value,
      userLogFd: this.#userLogFd.value,
      startSyncFd: this.#startSyncFd.value,
      mountsFd: this.#mountsFd.value,
      attached: this.#attached.value,
      noPivot: this.#noPivot.value,
      preserveFds: [...this.#preserveFds.value],
      exitStatusFd: this.#exitStatusFd.value,
      cgroupFds: [...this.#cgroupFds.value],
      cgroupParentFds: [...this.#cgroupParentFds.value],
    };
  }
}

/** The flags that hand detached root and bind trees (`ioFds`) and a mounts memfd to the next stage. */
export function sourceFlags(ioFds: readonly number[], mountsFd: number): string[] {
  return [...ioFds.map((fd) => `--io-fds=${fd}`), `--mounts-fd=${mountsFd}`];
}

/** The flags that hand boot's own cgroups (dirs and their parents) to the next stage. */
export function cgroupFlags(dirFds: readonly number[], parentFds: readonly number[]): string[] {
  return [...dirFds.map((fd) => `--cgroup-fd=${fd}`), ...parentFds.map((fd) => `--cgroup-parent-fd=${fd}`)];
}
