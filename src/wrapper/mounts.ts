/**
 * Mounts resolved outside the sandbox (the gofer's job in runsc): bind sources made absolute against the
 * bundle and opened O_PATH by the wrapper, so boot receives each as an fd (--io-fds) in mounts order.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { O } from "../../ffi/consts.ts";
import type { Mount } from "../specutils/spec.ts";
import { absOf } from "../specutils/path.ts";
import { isBindMount } from "../specutils/mount_options.ts";

export { isBindMount };

/** The mounts to hand boot: bind sources absolute against `bundle`, everything else unchanged. */
export function resolveMounts(mounts: readonly Mount[] | undefined, bundle: string): Mount[] {
  return (mounts ?? []).map((m) =>
    isBindMount(m) && m.source ? { ...m, source: absOf(bundle, m.source) } : { ...m }
  );
}

/**
 * Opens the source of every bind mount O_PATH (CLOEXEC; spawn's fd map donates them), in order. On a
 * failure the fds opened so far are closed and the error names the mount.
 */
export function openBindSources(k: Kernel, mounts: readonly Mount[]): number[] {
  const fds: number[] = [];
  try {
    for (const m of mounts) {
      if (!isBindMount(m)) continue;
      try {
        fds.push(k.open(m.source ?? "", O.PATH | O.CLOEXEC));
      } catch (e) {
        throw new Error(`opening source of bind mount ${m.destination}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
  } catch (e) {
    for (const fd of fds) k.close(fd);
    throw e;
  }
  return fds;
}
