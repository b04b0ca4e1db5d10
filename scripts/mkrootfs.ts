/**
 * Builds a small root filesystem from the host: `deno run -A scripts/mkrootfs.ts <dir>`.
 * Busybox when installed, else /bin/sh and its libraries (see tests/util/rootfs.ts).
 */
import { buildRootfs } from "../tests/util/rootfs.ts";

if (import.meta.main) {
  const dir = Deno.args[0];
  if (Deno.args.length !== 1 || !dir) {
    console.error("usage: mkrootfs.ts <dir>");
    Deno.exit(2);
  }
  buildRootfs(dir);
  console.log(`rootfs written to ${dir}`);
}
