/** The recording fake: calls by meaning run over its raw calls, and recordings read back typed. */
import assert from "node:assert/strict";
import { fakeKernel } from "../ffi/fake.ts";
import { TIOC } from "../ffi/mod.ts";

Deno.test("fake kernel: a call by meaning is recorded with the raw calls it makes", () => {
  const fake = fakeKernel();
  fake.kernel.setWindowSize(7, 24, 80);
  assert.deepEqual(fake.names(), ["setWindowSize", "ioctl"]);
  const [fd, request, ws] = fake.calls.of("ioctl")[0];
  assert.equal(fd, 7);
  assert.equal(request, TIOC.SWINSZ);
  assert.deepEqual([...(ws as Uint8Array)], [24, 0, 80, 0, 0, 0, 0, 0]);
  assert.equal(fake.calls[1].via, "setWindowSize");
  assert.deepEqual(fake.calls.of("setWindowSize"), [[7, 24, 80]]);
});

Deno.test("fake kernel: a scripted call by meaning answers itself, without raw calls", () => {
  const fake = fakeKernel({ ptyNumber: 5 }, true);
  assert.equal(fake.kernel.ptyNumber(3), 5);
  assert.deepEqual(fake.names(), ["ptyNumber"]);
});

Deno.test("fake kernel: a strict fake refuses the raw call behind an unscripted call by meaning", () => {
  const fake = fakeKernel({}, true);
  assert.throws(() => fake.kernel.unlockPty(3), /unscripted call ioctl/);
});
