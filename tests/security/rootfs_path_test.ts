/**
 * root.path that is, or passes through, a symlink: `bundle/rootfs -> /` would make the host's root the
 * container's. runts refuses it as runc does ("invalid rootfs: not an absolute path, or a symlink"), under
 * `runts run` and under `runts boot` (which opens root.path itself when no --io-fds give the root), and
 * compares with runc on the same bundles.
 */
import assert from "node:assert/strict";
import { expectCode, Fixture, PrivateRootfs, RUNC, runc, runts } from "./helpers.ts";
import { BootRun, runToExit } from "../boot/harness.ts";
import { exists } from "../util/rootfs.ts";
import type { Spec } from "../../src/specutils/spec.ts";

const REFUSED = /invalid rootfs: not an absolute path, or a symlink/;
/** Only the host has this file; the test rootfs does not. */
const HOST_ONLY = "/etc/debian_version";

/** The fixture's bundle for `cat HOST_ONLY`, its spec rewritten by `root`. */
function bundleWith(fx: Fixture, root: (spec: Spec) => void): string {
  return fx.bundle(["sh", "-c", `cat ${HOST_ONLY} 2>/dev/null || echo contained`], root);
}

Deno.test("rootfs attack: a root.path that is or passes through a symlink is refused by run, as by runc", async () => {
  const fx = new Fixture();
  const elsewhere = new PrivateRootfs();
  const links = Deno.makeTempDirSync({ prefix: "runts-sec-links-" });
  const noSymlink = ["relative, real directory", "reached through a symlinked bundle path"];
  try {
    const cases: Array<[string, string]> = [];
    // bundle/rootfs -> /, and bundle/rootfs -> a real rootfs elsewhere, as a relative root.path.
    for (const [what, target] of [["a symlink to /", "/"], ["a symlink elsewhere", elsewhere.dir]]) {
      const b = bundleWith(fx, (s) => s.root = { path: "rootfs", readonly: false });
      Deno.symlinkSync(target, `${b}/rootfs`);
      cases.push([`relative, ${what}`, b]);
    }
    // An absolute root.path whose middle component is a symlink.
    Deno.symlinkSync(elsewhere.dir.slice(0, elsewhere.dir.lastIndexOf("/")), `${links}/mid`);
    const viaMid = `${links}/mid${elsewhere.dir.slice(elsewhere.dir.lastIndexOf("/"))}`;
    cases.push(["absolute, through a symlinked directory", bundleWith(fx, (s) => s.root = { path: viaMid })]);
    // Controls that must run: a real directory, and one below a bundle reached through a symlink (the
    // bundle's own path is the engine's choice; runc resolves a relative root.path against its real path).
    const real = bundleWith(fx, (s) => s.root = { path: "rootfs", readonly: false });
    Deno.mkdirSync(`${real}/rootfs`);
    new Deno.Command("cp", { args: ["-a", `${elsewhere.dir}/.`, `${real}/rootfs`] }).outputSync();
    cases.push([noSymlink[0], real]);
    Deno.symlinkSync(real, `${links}/bundle`);
    cases.push([noSymlink[1], `${links}/bundle`]);

    for (const [what, bundle] of cases) {
      const id = `sec-${crypto.randomUUID().slice(0, 8)}`;
      const r = await runts(fx.root, ["run", "--bundle", bundle, id]);
      assert.doesNotMatch(r.stdout, /^\d+\.\d+/m, `${what}: the container saw the host's ${HOST_ONLY}`);
      if (noSymlink.includes(what)) {
        expectCode(r, 0, what);
        assert.equal(r.stdout, "contained\n", what);
      } else {
        assert.equal(r.code, 1, `${what}: ${r.stdout} ${r.stderr}`);
        assert.match(r.stderr, REFUSED, what);
        assert.deepEqual([...Deno.readDirSync(fx.root)], [], `${what}: state left behind`);
      }
      if (exists(RUNC)) {
        const ref = await runc(bundle);
        assert.equal(ref.code === 0, r.code === 0, `${what}: runc exit ${ref.code}: ${ref.stderr}`);
        if (ref.code !== 0) assert.match(ref.stderr, REFUSED, `${what}: runc's text`);
      }
    }
  } finally {
    Deno.removeSync(links, { recursive: true });
    elsewhere.cleanup();
    await fx.cleanup();
  }
});

Deno.test("rootfs attack: runts boot refuses a symlinked root.path it opens itself, with and without --setup-root", async () => {
  const elsewhere = new PrivateRootfs();
  const links = Deno.makeTempDirSync({ prefix: "runts-sec-links-" });
  try {
    Deno.symlinkSync("/", `${links}/to-root`);
    Deno.symlinkSync(elsewhere.dir, `${links}/to-elsewhere`);
    for (const link of ["to-root", "to-elsewhere"]) {
      for (const flags of [[], ["--setup-root"]]) {
        const what = `${link} ${flags.join(" ")}`;
        const b = BootRun.spawn({
          script: `cat ${HOST_ONLY}; echo ran`,
          ioRoot: false,
          flags,
          mutate: (s) => s.root = { path: `${links}/${link}`, readonly: true },
        });
        try {
          assert.equal(await b.waitSync(), "eof", `${what}: boot must not report the container created`);
          const exit = await b.exit();
          assert.equal(exit.code, 128, `${what}: ${exit.stderr}`);
          assert.match(exit.stderr, REFUSED, what);
          assert.equal(exit.appStdout, "", what);
        } finally {
          await b.cleanup();
        }
      }
    }
    // Control: the real directory, by path, still works for boot.
    const r = await runToExit({
      script: "echo ran",
      ioRoot: false,
      mutate: (s) => s.root = { path: elsewhere.dir, readonly: true },
    });
    assert.equal(r.waitStatus, 0, r.exit.stderr);
    assert.equal(r.exit.appStdout, "ran\n");
  } finally {
    Deno.removeSync(links, { recursive: true });
    elsewhere.cleanup();
  }
});
