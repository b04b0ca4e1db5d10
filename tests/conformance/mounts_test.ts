/**
 * Spec mounts as runtime-tools' `mounts` program checks them (runc passes it): filesystem options on a bind
 * mount are accepted and ignored, and /proc/self/mountinfo lists the root first and the spec's mounts in
 * the spec's order.
 */
import assert from "node:assert/strict";
import { expectCode, Fixture, run } from "../security/helpers.ts";
import type { Mount } from "../../src/specutils/spec.ts";

/** runtime-tools' options for every mount of its `mounts` program. */
const DEFAULTS = ["nosuid", "strictatime", "mode=755", "size=1k"];

function tmpfs(destination: string, extra: string): Mount {
  return { destination, type: "tmpfs", source: "tmpfs", options: [...DEFAULTS, extra] };
}

function bind(destination: string, ...extra: string[]): Mount {
  return { destination, source: "/etc", options: [...DEFAULTS, ...extra] };
}

/** The mount points of a mountinfo listing, in its order. */
function mountPoints(mountinfo: string): string[] {
  return mountinfo.trim().split("\n").map((l) => l.split(" ")[4]);
}

Deno.test("mounts: bind mounts with filesystem options run, and mountinfo lists root, then the spec's order", async () => {
  const fx = new Fixture();
  try {
    const added = [
      { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"] },
      tmpfs("/tmp/test-shared", "shared"),
      bind("/mnt/etc-shared", "bind", "shared"),
      tmpfs("/tmp/test-private", "private"),
      bind("/mnt/etc-rslave", "rbind", "rslave"),
      bind("/mnt/etc-unbindable", "bind", "unbindable"),
    ];
    let wanted: string[] = [];
    const r = await run(fx, ["cat", "/proc/self/mountinfo"], (s) => {
      s.mounts = [...s.mounts!, ...added];
      wanted = s.mounts.map((m) => m.destination);
    });
    expectCode(r, 0, "mounts");
    const seen = mountPoints(r.stdout);
    assert.equal(seen[0], "/", `the root is listed first:\n${r.stdout}`);
    const order = seen.filter((p) => wanted.includes(p));
    assert.deepEqual(order, wanted.filter((p) => order.includes(p)), `spec order:\n${r.stdout}`);
    for (const m of added) assert.ok(seen.includes(m.destination), `${m.destination} mounted:\n${r.stdout}`);
    assert.match(r.stdout, / \/etc \/mnt\/etc-shared rw,nosuid shared:\d+ /);
  } finally {
    await fx.cleanup();
  }
});
