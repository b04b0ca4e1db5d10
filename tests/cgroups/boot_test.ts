/**
 * `runts boot --total-memory / --cpu-num` driven directly (no wrapper, no --cgroup-fd): boot makes a
 * cgroup of its own before any chroot, the app is in it before it execs, and it is gone after boot.
 * tests/boot/harness.ts plays the wrapper.
 */
import assert from "node:assert/strict";
import { freshId, runToExit } from "../boot/harness.ts";
import { buildLayout, directoryOf, parseControllers } from "../../src/cgroups/layout.ts";
import { cgroupPathIn } from "../../src/cgroups/path.ts";
import { canUseCgroups } from "./helpers.ts";
import { exists } from "../util/rootfs.ts";

const MiB = 1024 * 1024;

/** Where boot puts "runts-<id>" in each hierarchy, as seen from this process (boot's parent). */
function ownedDirs(id: string): string[] {
  const layout = buildLayout(
    Deno.readTextFileSync("/proc/self/mountinfo"),
    Deno.readTextFileSync("/proc/self/cgroup"),
    (mp) => parseControllers(Deno.readTextFileSync(`${mp}/cgroup.controllers`)),
  );
  return layout.hierarchies.map((h) =>
    directoryOf(
      h,
      h.version === 1
        ? cgroupPathIn(h, { path: `runts-${id}`, relative: true }, layout.mode)
        : `/runts-${id}`,
    )
  );
}

for (const setupRoot of [false, true]) {
  const how = setupRoot ? " (--setup-root)" : "";
  Deno.test({
    name: `cgroups boot: --total-memory is a real limit without a wrapper's cgroups${how}`,
    ignore: !canUseCgroups(),
    async fn() {
      const id = freshId("cgb");
      const r = await runToExit({
        ids: [id],
        script: "cat /proc/self/cgroup; tail /dev/zero; echo hog:$?",
        flags: [`--total-memory=${32 * MiB}`, ...(setupRoot ? ["--setup-root"] : [])],
        // No cgroup namespace, so the app's /proc/self/cgroup names the host paths.
        mutate: (s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "cgroup")),
      });
      assert.equal(r.waitStatus, 0, r.exit.stderr);
      assert.match(r.exit.appStdout, /hog:137/);
      assert.match(r.exit.appStdout, new RegExp(`memory:.*/runts-${id}\\n`));
      for (const d of ownedDirs(id)) assert.equal(exists(d), false, `${d} is left`);
    },
  });
}

Deno.test({
  name: "cgroups boot: --cpu-num is a cpuset of boot's own cgroup",
  ignore: !canUseCgroups() || navigator.hardwareConcurrency < 2,
  async fn() {
    const id = freshId("cgb");
    const r = await runToExit({
      ids: [id],
      script: "nproc; cat /proc/self/cgroup",
      flags: ["--cpu-num=1", "--setup-root"],
      mutate: (s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "cgroup")),
    });
    assert.equal(r.waitStatus, 0, r.exit.stderr);
    const [nproc, ...cgroups] = r.exit.appStdout.trim().split("\n");
    assert.equal(nproc, "1");
    if (Deno.readTextFileSync("/proc/self/cgroup").includes(":cpuset:")) {
      assert.ok(
        cgroups.some((l) => l.includes(":cpuset:") && l.endsWith(`/runts-${id}`)),
        cgroups.join("\n"),
      );
    }
    for (const d of ownedDirs(id)) assert.equal(exists(d), false, `${d} is left`);
  },
});
