import assert from "node:assert/strict";
import { lookup, PlatformError, platformNames } from "../src/platform/platform.ts";

Deno.test("native is the one platform and needs no ptrace or host PID namespace", () => {
  assert.deepEqual(platformNames(), ["native"]);
  const p = lookup("native");
  assert.equal(p.name, "native");
  assert.deepEqual(p.requirements(), { requiresCapSysPtrace: false, requiresCurrentPIDNS: false });
});

Deno.test("an unknown platform names the known ones", () => {
  assert.throws(
    () => lookup("kvm"),
    (e: unknown) =>
      e instanceof PlatformError && e.message === 'unknown platform "kvm" (known platforms: native)',
  );
  assert.throws(() => lookup(""), PlatformError);
  assert.throws(() => lookup("constructor"), PlatformError);
});
