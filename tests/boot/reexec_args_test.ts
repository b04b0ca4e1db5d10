/**
 * boot's re-exec after --setup-root (and --apply-caps) rebuilds its command line from the parsed flags: the
 * container id, and every flag boot does not replace, survive whatever form the wrapper gave them in.
 */
import assert from "node:assert/strict";
import { freshId, runToExit } from "./harness.ts";

const CASES: Array<[string, Parameters<typeof runToExit>[0]]> = [
  ["an id that contains setup-root", { ids: [freshId("last-setup-root")], flags: ["--setup-root"] }],
  ["an id that contains io-fds and mounts-fd", {
    ids: [freshId("x-io-fds-mounts-fd")],
    flags: ["--setup-root"],
  }],
  ["fd flags given as --flag value", { separateValues: true, mounts: [], flags: ["--setup-root"] }],
  [
    "--apply-caps too, fd flags given as --flag value",
    { separateValues: true, mounts: [], flags: ["--apply-caps", "--setup-root"] },
  ],
  ["--apply-caps alone, fd flags given as --flag value", { separateValues: true, flags: ["--apply-caps"] }],
];

for (const [name, opts] of CASES) {
  Deno.test(`boot: --setup-root as the last flag before the id: ${name}`, async () => {
    const r = await runToExit({ ...opts, script: "echo ran" });
    assert.equal(r.exit.code, 0, r.exit.stderr);
    assert.equal(r.exit.appStdout, "ran\n");
  });
}
