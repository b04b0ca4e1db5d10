/**
 * `exec --detach` without boot as the parent: engines (conmon, the containerd shim) run `runtime exec
 * --detach --pid-file F` under a subreaper and reap the process named in F themselves, as with runc. So the
 * wrapper spawns the exec'd init from boot's plan (PrepareExec) and exits once the process runs; the
 * process is re-parented to the engine's subreaper. Non-detached execs go through ExecuteAsync + WaitPID.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { execInit } from "../boot/start_init.ts";
import type { Control } from "./control.ts";
import type { ExecArgs } from "../protocol/control.ts";
import { bootEnv } from "./boot_args.ts";

/**
 * Spawns the process `args` describes as our own child, in the container boot (`control`) runs, with
 * `stdio` as its fds 0–2. Returns its host pid once it has exec'd. The caller is expected to exit soon
 * after, leaving the process to its subreaper.
 */
export function spawnDetachedExec(
  k: Kernel,
  control: Control,
  args: ExecArgs,
  stdio: [number, number, number],
): number {
  const { plan, cgroupFds } = control.prepareExec(args);
  try {
    return execInit(k, {
      config: plan.Config,
      stdio,
      preserved: [],
      rootFd: null,
      bindFds: {},
      pidns: plan.PidNS,
      cgroupFds,
      globalFlags: plan.GlobalFlags,
    }, bootEnv(Deno.env.toObject()));
  } finally {
    for (const fd of cgroupFds) k.close(fd);
  }
}
