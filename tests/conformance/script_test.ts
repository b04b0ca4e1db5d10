/** scripts/conformance.ts: how a validation program's TAP is judged, and the run without a built suite. */
import assert from "node:assert/strict";
import { cell, judge } from "../../scripts/conformance.ts";

const SCRIPT = new URL("../../scripts/conformance.ts", import.meta.url).pathname;

Deno.test("conformance: judging TAP output and exit codes", () => {
  const pass = judge("TAP version 13\nok 1 - a\nok 2 # SKIP b\n1..2\n", "", 0);
  assert.equal(pass.verdict, "pass");
  assert.equal(cell(pass), "pass 1/1");
  const fail = judge("TAP version 13\nok 1 - a\nnot ok 2 - b\nnot ok 3 - c # TODO later\n1..3\n", "", 0);
  assert.deepEqual([fail.verdict, fail.reason, cell(fail)], ["fail", "b", "FAIL 1/2"]);
  // Lifecycle programs report only failures, as an "error" diagnostic, and plan 1..0.
  const quiet = judge("TAP version 13\n1..0\n", "", 0);
  assert.deepEqual([quiet.verdict, cell(quiet)], ["pass", "pass"]);
  const lifecycle = judge(
    'TAP version 13\n  ---\n  {\n    "error": "hooks MUST run\\nRefer to: x"\n  }\n  ...\n1..0\n',
    "",
    0,
  );
  assert.deepEqual([lifecycle.verdict, lifecycle.reason], ["fail", "hooks MUST run"]);
  // The *_fail programs print nothing and exit 0 when the runtime refused the bad config.
  assert.equal(judge("", "failed to create the container\n", 0).verdict, "pass");
  const crashed = judge("", "failed to create the container\nboom\n", 1);
  assert.deepEqual([crashed.verdict, crashed.reason], [
    "fail",
    "exit 1: failed to create the container / boom",
  ]);
  assert.equal(judge("TAP version 13\nok 1 - a\n1..3\n", "", 0).reason, "planned 3 results, reported 1");
  assert.equal(judge("TAP version 13\nok 1 # SKIP no\n1..1\n", "", 0).verdict, "skip");
  assert.equal(judge("", "", "timed out after 5 s").reason, "timed out after 5 s");
});

Deno.test("conformance: without RUNTIME_TOOLS_DIR it says there is no suite and exits 2", () => {
  const env = { ...Deno.env.toObject() };
  delete env.RUNTIME_TOOLS_DIR;
  const r = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT],
    env,
    clearEnv: true,
    stdin: "null",
  })
    .outputSync();
  assert.equal(r.code, 2);
  assert.match(new TextDecoder().decode(r.stderr), /skipped: no built runtime-tools suite is named/);
  const missing = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT],
    env: { ...env, RUNTIME_TOOLS_DIR: "/nonexistent" },
    clearEnv: true,
    stdin: "null",
  }).outputSync();
  assert.equal(missing.code, 2);
  assert.match(
    new TextDecoder().decode(missing.stderr),
    /not a built suite: \/nonexistent\/runtimetest is missing/,
  );
});
