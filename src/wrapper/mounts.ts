/**
 * Mounts resolved outside the sandbox (the gofer's job in runsc): bind sources made absolute against the
 * bundle and opened O_PATH by the wrapper (src/boot/spawn_init.ts openIoFds), so boot receives each as an
 * fd (--io-fds) in mounts order.
 */
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
