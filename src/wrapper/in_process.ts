/**
 * `run` in the foreground hosts the loader and the controller itself: one Deno process for the whole
 * container instead of a wrapper and a boot. The container is built exactly as boot builds it (the same
 * Loader, init as a clone child of this process), and the control socket is served from this process's
 * event loop, so `state`, `kill`, `exec` … from other processes work as with a separate boot. Calls this
 * process makes to its own controller go to the handlers directly (see Control's LocalController).
 * `run --detach` and `create` keep a separate boot, as runsc does.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { O } from "../../ffi/consts.ts";
import type { Config } from "../config/config.ts";
import type { Spec } from "../specutils/spec.ts";
import { Loader } from "../boot/loader.ts";
import { readProcStat } from "./proc.ts";
import { openIoFds } from "../boot/spawn_init.ts";
import { bindControlSocket, type Sandbox, SandboxError, type SandboxOptions } from "./sandbox.ts";

/** A container whose loader runs in this process. */
export interface InProcessSandbox {
  /** This process, as the container's boot (no start-sync socket: syncFd is -1). */
  sandbox: Sandbox;
  loader: Loader;
}

/**
 * True when `run` may host the loader for these options: boot's own cgroups for --total-memory (made
 * only without the wrapper's cgroups) stay with a separate boot, as does RUNTS_RUN_BOOT=process.
 */
export function canHostLoader(opts: SandboxOptions): boolean {
  const ownCgroups = opts.totalMemory !== undefined && !opts.cgroupFds?.length;
  return !ownCgroups && Deno.env.get("RUNTS_RUN_BOOT") !== "process";
}

/** Builds the container with a loader of this process; it is created (the app stopped) on return. */
export function startInProcess(k: Kernel, conf: Config, spec: Spec, opts: SandboxOptions): InProcessSandbox {
  const io: number[] = [];
  let controller = -1, exitStatus = -1;
  try {
    io.push(...openIoFds(k, opts.rootfs, opts.bundle, opts.mounts));
    controller = bindControlSocket(k, opts.controlAddress);
    if (opts.exitStatusFile !== undefined) {
      exitStatus = k.open(opts.exitStatusFile, O.WRONLY | O.CREAT | O.TRUNC | O.CLOEXEC, 0o640);
    }
    opts.onSpawned?.(Deno.pid);
    let loader: Loader;
    try {
      loader = Loader.create(k, {
        id: opts.id,
        spec,
        mounts: [...opts.mounts],
        conf,
        controllerFd: controller,
        ioFds: io,
        stdioFds: [...opts.stdio],
        preservedFds: [...opts.preserved],
        numCpu: 0,
        totalMem: 0n,
        userLogFd: 0,
        attached: true,
        noPivot: opts.noPivot,
        cgroupFds: [...opts.cgroupFds ?? []],
        forwardSignals: false,
      });
    } catch (e) {
      throw new SandboxError((e as Error).message);
    }
    controller = -1; // the loader's server owns it now
    if (exitStatus >= 0) loader.recordExitTo(exitStatus);
    exitStatus = -1;
    const startTime = readProcStat(Deno.pid)?.startTime ?? "";
    return { sandbox: { pid: Deno.pid, startTime, syncFd: -1 }, loader };
  } finally {
    for (const fd of io) k.close(fd);
    if (controller >= 0) k.close(controller);
    if (exitStatus >= 0) k.close(exitStatus);
  }
}
