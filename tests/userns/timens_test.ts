/**
 * linux.namespaces "time" with linux.timeOffsets: the app's boot-time and monotonic clocks are shifted
 * (/proc/uptime follows CLOCK_BOOTTIME), exec'd processes see the same clocks (a time namespace of their
 * own with the container's offsets), and the host's stay as they are. runc 1.1 has no time namespaces,
 * so there is nothing to compare with.
 */
import assert from "node:assert/strict";
import { expectCode, Fixture, MappedRootfs, runts, state, uid, withUserns } from "./helpers.ts";
import type { Spec } from "../../src/specutils/spec.ts";

const DAY = 86400;
const BOOT_SHIFT = 5 * DAY, MONO_SHIFT = 3 * DAY;

function hostUptime(): number {
  return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
}

/** Seconds by which the container's uptime (printed first in `out`) is ahead of the host's. */
function shift(out: string): number {
  return Number(out.trim().split(/\s+/)[0]) - hostUptime();
}

function withTimens(s: Spec): void {
  s.linux!.namespaces!.push({ type: "time" });
  s.linux!.timeOffsets = { boottime: { secs: BOOT_SHIFT }, monotonic: { secs: MONO_SHIFT, nanosecs: 5 } };
}

const OFFSETS = "cat /proc/uptime; tr -s ' ' < /proc/self/timens_offsets";

for (const mapped of [false, true]) {
  Deno.test(`time namespace${mapped ? " in a user namespace" : ""}: offsets reach the app and exec, not the host`, async () => {
    const fx = new Fixture();
    const rootfs = mapped ? new MappedRootfs() : null;
    try {
      const bundle = fx.bundle(["sleep", "60"], (s) => {
        withTimens(s);
        if (rootfs) {
          s.root = { path: rootfs.dir, readonly: false };
          withUserns(s);
        }
      });
      const id = uid("timens");
      expectCode(await runts(fx.root, ["run", "-d", "--bundle", bundle, id]), 0, "run -d");
      const pid = (await state(fx.root, id)).pid;
      assert.notEqual(Deno.readLinkSync(`/proc/${pid}/ns/time`), Deno.readLinkSync("/proc/self/ns/time"));
      assert.equal(
        Deno.readTextFileSync(`/proc/${pid}/timens_offsets`).replace(/ +/g, " ").trim(),
        `monotonic ${MONO_SHIFT} 5\nboottime ${BOOT_SHIFT} 0`,
      );
      const ex = await runts(fx.root, ["exec", id, "sh", "-c", OFFSETS]);
      expectCode(ex, 0, "exec");
      const d = shift(ex.stdout);
      assert.ok(Math.abs(d - BOOT_SHIFT) < 600, `uptime inside is ${d} s ahead of the host's`);
      assert.deepEqual(ex.stdout.trim().split("\n").slice(1), [
        `monotonic ${MONO_SHIFT} 5`,
        `boottime ${BOOT_SHIFT} 0`,
      ]);
      assert.ok(hostUptime() < Number(ex.stdout.split(" ")[0]), "the host's clock is not shifted");
      expectCode(await runts(fx.root, ["delete", "--force", id]), 0, "delete");
    } finally {
      await fx.cleanup();
      rootfs?.cleanup();
    }
  });
}

Deno.test("time namespace: joining one by path is refused clearly, and nothing is left behind", async () => {
  const fx = new Fixture();
  try {
    const joiner = fx.bundle(
      ["true"],
      (s) => s.linux!.namespaces!.push({ type: "time", path: "/proc/1/ns/time" }),
    );
    const id = uid("timens");
    const r = await runts(fx.root, ["run", "--bundle", joiner, id]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /joining a time namespace by path is not supported/);
    assert.deepEqual([...Deno.readDirSync(fx.root)].map((e) => e.name), []);
  } finally {
    await fx.cleanup();
  }
});
