/**
 * The one capability applier and the user switch, through the recording fake: the order of the calls
 * (bounding before the uid change, the sets after it, ambient last), and each caller's rule (the app's,
 * boot --apply-caps, boot's switch to nobody).
 */
import assert from "node:assert/strict";
import { fakeKernel } from "../../ffi/fake.ts";
import { applyCredentials, capabilityMasks, switchUser } from "../../src/credentials/credentials.ts";
import { applyCaps, callSelfAsNobody, NOBODY } from "../../src/boot/capability.ts";
import { capMask, capNumber } from "../../src/specutils/capabilities.ts";
import { defaultSpec } from "../../src/specutils/default_spec.ts";

const LAST = 40;
const ALL = (1n << BigInt(LAST + 1)) - 1n;
const nums = (...names: string[]) => names.map(capNumber);

/** The names of the calls by meaning and the credential calls, in order (raw calls they make left out). */
function steps(calls: { name: string; via?: string }[]): string[] {
  return calls.filter((c) => !c.via && c.name !== "capget").map((c) => c.name);
}

Deno.test("credentials: the app's bounding set goes first, then the user, the sets, ambient, no_new_privs", () => {
  const fake = fakeKernel({ capget: { effective: ALL, permitted: ALL, inheritable: 0n } });
  const caps = {
    bounding: ["CAP_KILL", "CAP_NET_RAW"],
    effective: ["CAP_KILL"],
    permitted: ["CAP_KILL", "CAP_NET_RAW"],
    inheritable: ["CAP_NET_RAW"],
    ambient: ["CAP_NET_RAW", "CAP_KILL"],
  };
  const p = {
    ...defaultSpec().process!,
    user: { uid: 1000, gid: 1001, additionalGids: [5, 6] },
    capabilities: caps,
    noNewPrivileges: true,
  };
  const sets = applyCredentials(fake.kernel, p, LAST);
  const drops = LAST + 1 - 2;
  assert.deepEqual(steps(fake.calls), [
    ...Array(drops).fill("dropBoundingCap"),
    "setKeepCaps",
    "setgroups",
    "setresgid",
    "setresuid",
    "setKeepCaps",
    "capset",
    "clearAmbientCaps",
    "raiseAmbientCap",
    "setNoNewPrivs",
  ]);
  const kept = new Set(nums("CAP_KILL", "CAP_NET_RAW"));
  assert.ok(fake.calls.of("dropBoundingCap").every(([c]) => !kept.has(c)));
  assert.deepEqual(fake.calls.of("setKeepCaps"), [[true], [false]]);
  assert.deepEqual(fake.calls.of("setgroups"), [[[5, 6]]]);
  assert.deepEqual(fake.calls.of("setresgid"), [[1001]]);
  assert.deepEqual(fake.calls.of("setresuid"), [[1000]]);
  // KILL is not inheritable: only NET_RAW is raised.
  assert.deepEqual(fake.calls.of("raiseAmbientCap"), [nums("CAP_NET_RAW")]);
  const want = capabilityMasks(caps);
  assert.deepEqual(sets, {
    effective: want.effective,
    permitted: want.permitted,
    inheritable: want.inheritable,
  });
  assert.deepEqual(fake.calls.of("capset"), [[sets]]);
});

Deno.test("credentials: sets are masked by what init has after the switch; a held cap is added", () => {
  const have = capMask(["CAP_KILL", "CAP_SYS_ADMIN"]);
  const fake = fakeKernel({ capget: { effective: have, permitted: have, inheritable: 0n } });
  const p = {
    ...defaultSpec().process!,
    capabilities: { bounding: ["CAP_KILL"], effective: ["CAP_KILL", "CAP_NET_RAW"], permitted: ["CAP_KILL"] },
  };
  const sets = applyCredentials(fake.kernel, p, LAST, capMask(["CAP_SYS_ADMIN"]));
  assert.equal(sets.effective, capMask(["CAP_KILL"]), "NET_RAW is not there to keep");
  assert.deepEqual(fake.calls.of("capset"), [[{
    effective: capMask(["CAP_KILL", "CAP_SYS_ADMIN"]),
    permitted: capMask(["CAP_KILL", "CAP_SYS_ADMIN"]),
    inheritable: 0n,
  }]]);
});

Deno.test("credentials: a denied setgroups refuses additional gids before the uid changes", () => {
  const fake = fakeKernel();
  assert.throws(
    () => switchUser(fake.kernel, { uid: 1, gid: 1, additionalGids: [7] }, false),
    /setgroups is denied/,
  );
  assert.deepEqual(fake.names().filter((n) => n.startsWith("setres")), []);
  const ok = fakeKernel();
  switchUser(ok.kernel, { uid: 1, gid: 2 }, false);
  assert.deepEqual(steps(ok.calls), ["setKeepCaps", "setresgid", "setresuid", "setKeepCaps"]);
});

Deno.test("credentials: boot --apply-caps trims to its permitted set and keeps bounding without SETPCAP", () => {
  const have = capMask(["CAP_KILL", "CAP_NET_RAW"]);
  const fake = fakeKernel({ capget: { effective: have, permitted: have, inheritable: have } });
  applyCaps(fake.kernel, {
    bounding: ["CAP_KILL", "CAP_SYS_ADMIN"],
    effective: ["CAP_KILL", "CAP_SYS_ADMIN"],
    permitted: ["CAP_KILL", "CAP_SYS_ADMIN"],
    inheritable: ["CAP_KILL"],
    ambient: ["CAP_KILL"],
  });
  assert.deepEqual(fake.calls.of("dropBoundingCap"), [], "no CAP_SETPCAP: the bounding set stays");
  assert.deepEqual(fake.calls.of("capset"), [[{
    effective: capMask(["CAP_KILL"]),
    permitted: capMask(["CAP_KILL"]),
    inheritable: capMask(["CAP_KILL"]),
  }]]);
  assert.deepEqual(fake.calls.of("raiseAmbientCap"), [nums("CAP_KILL")]);
});

Deno.test("credentials: boot becomes nobody keeping its caps and the app's as ambient, then re-execs", () => {
  const have = capMask(["CAP_KILL", "CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_SYS_TIME"]);
  const fake = fakeKernel({ capget: { effective: have, permitted: have, inheritable: 0n } });
  callSelfAsNobody(fake.kernel, ["boot", "x"], { ambient: ["CAP_NET_RAW"] });
  const keep = capMask(["CAP_KILL", "CAP_SYS_ADMIN", "CAP_NET_RAW"]); // not SYS_TIME: nobody asked for it
  assert.deepEqual(fake.calls.of("dropBoundingCap"), []);
  assert.deepEqual(fake.calls.of("setgroups"), [[[]]]);
  assert.deepEqual(fake.calls.of("setresuid"), [[NOBODY]]);
  assert.deepEqual(fake.calls.of("capset"), [[{ effective: keep, permitted: keep, inheritable: keep }]]);
  assert.deepEqual(
    fake.calls.of("raiseAmbientCap").map(([c]) => c).sort((a, b) => a - b),
    nums("CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN").sort((a, b) => a - b),
  );
  assert.equal(fake.names().at(-1), "execve");
});
