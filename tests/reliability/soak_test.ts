/**
 * Soak at CI size: scripts/soak.ts runs create → start → wait → delete cycles and checks that the fds of
 * its own process, the lines of /proc/self/mounts, the tagged processes, the cgroup directories and the
 * files under --root are back to their starting counts. It runs in a private mount namespace (`unshare
 * -m`), so mounts made meanwhile by anything else on the host do not disturb the count. The full-size run
 * is `deno task soak` (500 cycles). RUNTS_SOAK_CYCLES overrides the size here. Needs root.
 */
import assert from "node:assert/strict";
import type { SoakReport } from "../../scripts/soak.ts";

const CYCLES = Number(Deno.env.get("RUNTS_SOAK_CYCLES") ?? "100");

Deno.test(`soak: ${CYCLES} create/start/wait/delete cycles leave no fd, mount, process, cgroup or file`, async () => {
  const script = new URL("../../scripts/soak.ts", import.meta.url).pathname;
  const out = await new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation",
      "private",
      Deno.execPath(),
      "run",
      "-A",
      script,
      "--cycles",
      `${CYCLES}`,
      "--json",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  const stdout = new TextDecoder().decode(out.stdout);
  const report: SoakReport = JSON.parse(stdout || "null") ?? assert.fail(`soak printed nothing: ${stderr}`);
  assert.deepEqual(report.failures, [], "every cycle succeeds and wait reports the app's status");
  assert.deepEqual(
    report.after,
    report.before,
    `counts after ${report.cycles} cycles: ${JSON.stringify(report)}`,
  );
  assert.equal(report.cycles, CYCLES);
  assert.equal(out.code, 0, stderr);
});
