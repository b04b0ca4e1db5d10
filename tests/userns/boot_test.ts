/**
 * `runts boot` (the runsc-shaped entry point) with a user namespace: plain, and with --setup-root, where
 * boot runs as nobody in an empty root of its own and still writes the maps (its map writer's code is a
 * blob, not a file) and idmaps a bind source.
 */
import assert from "node:assert/strict";
import { withBoot } from "../boot/harness.ts";
import { MappedRootfs, withUserns } from "./helpers.ts";

for (const flags of [[], ["--setup-root"]]) {
  Deno.test(`boot${flags.length ? " --setup-root" : ""}: a user namespace's maps are written, and an idmapped bind works`, async () => {
    const rootfs = new MappedRootfs();
    try {
      const opts = {
        script: "read -r x; id -u; tr -s ' ' < /proc/self/uid_map; stat -c '%u' /idm",
        flags,
        // boot opens spec.root.path (the mapped copy) and the bind source itself.
        ioRoot: false,
        mutate: (s: Parameters<typeof withUserns>[0]) => {
          s.root = { path: rootfs.dir, readonly: false };
          withUserns(s);
          s.mounts!.push({
            destination: "/idm",
            type: "bind",
            source: "/etc",
            options: ["rbind", "ro", "idmap"],
          });
        },
      };
      await withBoot(opts, async (b) => {
        b.startRoot();
        const { status } = await b.waitAsync();
        b.release();
        const ws = await status;
        const exit = await b.exit();
        assert.equal(ws, 0, `${exit.appStdout} ${exit.appStderr ?? ""} ${exit.stderr}`);
        assert.equal(exit.appStdout, "0\n 0 100000 65536\n0\n");
        assert.equal(exit.code, 0, exit.stderr);
      });
    } finally {
      rootfs.cleanup();
    }
  });
}
