/**
 * The wrapper → boot hop as one typed plan: what boot's command line and donated fds say (runsc's
 * boot.Args, plus the native extras), decoded by src/cmd/boot.ts, or built directly by a `run` that hosts
 * the loader (src/wrapper/in_process.ts).
 */
import type { Config } from "../config/config.ts";
import type { Mount, Spec } from "../specutils/spec.ts";

/** What boot hands the loader (runsc's boot.Args, plus the native extras). */
export interface LoaderArgs {
  id: string;
  spec: Spec;
  mounts: Mount[];
  conf: Config;
  controllerFd: number;
  ioFds: number[];
  stdioFds: [number, number, number];
  preservedFds: number[];
  numCpu: number;
  totalMem: bigint;
  userLogFd: number;
  attached: boolean;
  noPivot: boolean;
  /** Directory fds of the container's cgroups (--cgroup-fd); init and exec'd processes join them. */
  cgroupFds?: number[];
  /** Forward the signals boot gets to the app (default); off when `run` hosts the loader and relays itself. */
  forwardSignals?: boolean;
}
