/**
 * The boot command line and its fd map (runsc's createSandboxProcess donation order): boot's own
 * stdin/stdout/stderr at 0..2, then controller, mounts, spec, start-sync, io fds, and the container's
 * three stdio fds, each named by its flag. Pure: it only numbers fds.
 */

/** Parent-side fds to donate to boot. */
export interface BootFds {
  /** boot's own stdin, stdout and stderr (not the container's). */
  own: readonly [number, number, number];
  /** The bound, not listening, control socket. */
  controller: number;
  /** Read end of the mounts JSON pipe. */
  mounts: number;
  /** config.json, opened by the wrapper. */
  spec: number;
  /** Write end of the start-sync pipe. */
  startSync: number;
  /** The rootfs directory fd, then one fd per bind mount in mounts order. */
  io: readonly number[];
  /** The container's stdin, stdout, stderr (for a terminal, the pty slave three times). */
  stdio: readonly [number, number, number];
  /** Extra fds the app gets as 3, 4, ... (--preserve-fds). */
  preserved: readonly number[];
  /** File for the app's wait status (runts' --exit-status-fd), when the caller wants one. */
  exitStatus?: number;
  /** Directory fds of the container's cgroups, one per hierarchy (runts' --cgroup-fd). */
  cgroups?: readonly number[];
}

/** The non-fd parts of the boot command line. */
export interface BootOptions {
  /** Global flags (conf.toFlags()); they go before "boot". */
  globalFlags: readonly string[];
  bundle: string;
  id: string;
  /** The app gets a new pid namespace. */
  pidns: boolean;
  /** `run` without --detach: boot dies with the wrapper. */
  attached: boolean;
  /** chroot instead of pivot_root. */
  noPivot: boolean;
  /** --total-memory in bytes (the container's memory limit, when it has one). */
  totalMemory?: bigint;
}

/** The runts arguments of a boot invocation and the child fd → parent fd map for spawn. */
export interface BootCommand {
  args: string[];
  fds: Map<number, number>;
}

/** Builds the boot arguments and the fd map. */
export function bootCommand(opts: BootOptions, fds: BootFds): BootCommand {
  const map = new Map<number, number>();
  fds.own.forEach((fd, i) => map.set(i, fd));
  let next = 3;
  const donate = (parent: number): number => {
    const child = next++;
    map.set(child, parent);
    return child;
  };
  const args = [...opts.globalFlags, "boot", `--bundle=${opts.bundle}`];
  args.push(`--controller-fd=${donate(fds.controller)}`);
  args.push(`--mounts-fd=${donate(fds.mounts)}`);
  args.push(`--spec-fd=${donate(fds.spec)}`);
  args.push(`--start-sync-fd=${donate(fds.startSync)}`);
  for (const fd of fds.io) args.push(`--io-fds=${donate(fd)}`);
  for (const fd of fds.stdio) args.push(`--stdio-fds=${donate(fd)}`);
  for (const fd of fds.preserved) args.push(`--preserve-fd=${donate(fd)}`);
  if (fds.exitStatus !== undefined) args.push(`--exit-status-fd=${donate(fds.exitStatus)}`);
  for (const fd of fds.cgroups ?? []) args.push(`--cgroup-fd=${donate(fd)}`);
  if (opts.totalMemory !== undefined) args.push(`--total-memory=${opts.totalMemory}`);
  if (opts.pidns) args.push("--pidns");
  if (opts.attached) args.push("--attached");
  if (opts.noPivot) args.push("--no-pivot");
  args.push(opts.id);
  return { args, fds: map };
}

/** The environment for boot: ours, minus the `_OCI_*` variables conmon leaks into the runtime. */
export function bootEnv(env: Record<string, string>): string[] {
  return Object.entries(env).filter(([k]) => !k.startsWith("_OCI_")).map(([k, v]) => `${k}=${v}`);
}

/**
 * Where the control socket lives: `preferred` (a path in the container's state dir) when it fits in
 * sun_path (107 bytes plus NUL), else an abstract name unique to this container.
 */
export function controlAddress(preferred: string, id: string, random: string): string {
  if (new TextEncoder().encode(preferred).length <= 107) return preferred;
  const name = `@runts-${id}-${random}`;
  // An abstract name has the same limit; long ids are cut, the random part keeps it unique.
  return new TextEncoder().encode(name).length <= 107 ? name : `@runts-${id.slice(0, 60)}-${random}`;
}
