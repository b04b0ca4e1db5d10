/**
 * Paths inside the root: every mount destination, device and file runts touches is resolved inside the
 * container's root (openat2 RESOLVE_IN_ROOT), so symlinks and ".." planted in the image, absolute or
 * relative, and a symlink swapped in while init works (the CVE-2021-30465 class), all land inside it.
 * The proof is on the host: nothing appears in the directories the symlinks point at.
 */
import assert from "node:assert/strict";
import { expectCode, Fixture, PrivateRootfs, run } from "./helpers.ts";

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("paths attack: symlinks and .. planted in the image stay inside the root", async () => {
  const fx = new Fixture();
  const rootfs = new PrivateRootfs();
  const host = Deno.makeTempDirSync({ prefix: "runts-sec-host-" });
  const payload = Deno.makeTempFileSync({ prefix: "runts-sec-payload-" });
  Deno.writeTextFileSync(payload, "payload\n");
  try {
    const climb = "../".repeat(12);
    // The same path exists inside the root, so the symlinks resolve there (dangling ones are refused below).
    Deno.mkdirSync(`${rootfs.dir}${host}/dev`, { recursive: true });
    Deno.writeTextFileSync(`${rootfs.dir}${host}/file`, "");
    Deno.symlinkSync(host, `${rootfs.dir}/evil-abs`);
    Deno.symlinkSync(`${climb}${host.slice(1)}`, `${rootfs.dir}/evil-rel`);
    Deno.symlinkSync(`${host}/file`, `${rootfs.dir}/etc/evil-file`);
    Deno.removeSync(`${rootfs.dir}/dev`, { recursive: true });
    Deno.symlinkSync(`${climb}${host.slice(1)}/dev`, `${rootfs.dir}/dev`);
    const r = await run(fx, [
      "sh",
      "-c",
      "cat /etc/evil-file; ls /dev/sec-null; ls -d /evil-abs/a /evil-rel/b",
    ], (s) => {
      s.root = { path: rootfs.dir, readonly: false };
      s.mounts!.push(
        { destination: "/evil-abs/a", type: "tmpfs", source: "tmpfs" },
        { destination: "/evil-rel/b", type: "tmpfs", source: "tmpfs" },
        { destination: `/../../../..${host}/c`, type: "tmpfs", source: "tmpfs" },
        { destination: "/etc/evil-file", type: "bind", source: payload, options: ["bind", "ro"] },
      );
      s.linux!.devices = [{ path: "/dev/sec-null", type: "c", major: 1, minor: 3 }];
      s.linux!.maskedPaths = [...s.linux!.maskedPaths ?? [], "/evil-abs/a"];
    });
    expectCode(r, 0, "planted symlinks");
    assert.match(r.stdout, /^payload$/m);
    assert.deepEqual(entries(host), [], "nothing was created in the host directory the symlinks name");
    assert.equal(Deno.readTextFileSync(payload), "payload\n");
    // Where they went: the same path, inside the root.
    assert.deepEqual(entries(`${rootfs.dir}${host}`), ["a", "b", "c", "dev", "file"]);

    // A symlink whose target does not exist inside the root is refused, with the mount named.
    Deno.symlinkSync(`${host}/nowhere`, `${rootfs.dir}/dangling`);
    const dangling = await run(fx, ["true"], (s) => {
      s.root = { path: rootfs.dir, readonly: false };
      s.mounts!.push({ destination: "/dangling/x", type: "tmpfs", source: "tmpfs" });
    });
    assert.notEqual(dangling.code, 0);
    assert.match(dangling.stderr, /mount \/dangling\/x: .*ENOENT/);
    assert.deepEqual(entries(host), []);
  } finally {
    rootfs.cleanup();
    Deno.removeSync(host, { recursive: true });
    Deno.removeSync(payload);
    await fx.cleanup();
  }
});

Deno.test("paths attack: a symlink swapped in during setup (CVE-2021-30465) never takes a mount outside", async () => {
  const fx = new Fixture();
  const rootfs = new PrivateRootfs();
  const payload = Deno.makeTempFileSync({ prefix: "runts-sec-payload-" });
  const unique = `runts-sec-race-${crypto.randomUUID().slice(0, 8)}`;
  // `d` flips between a directory and a symlink to /tmp: outside the root that is the host's /tmp.
  const racer = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./racer.ts", import.meta.url).pathname, `${rootfs.dir}/race`, "/tmp"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = racer.stdout.getReader();
    const first = await reader.read(); // "racing": both names exist
    assert.match(new TextDecoder().decode(first.value), /racing/);
    reader.releaseLock();
    for (let i = 0; i < 10; i++) {
      const r = await run(fx, ["true"], (s) => {
        s.root = { path: rootfs.dir, readonly: false };
        s.mounts!.push(
          { destination: `/race/d/${unique}`, type: "tmpfs", source: "tmpfs" },
          { destination: `/race/d/${unique}-f`, type: "bind", source: payload, options: ["bind"] },
        );
      });
      // Either way is fine: the mount landed inside the root, or setup failed with a clear error.
      if (r.code !== 0) assert.match(r.stderr, /creating container: \S+/, r.stderr);
      for (const name of [unique, `${unique}-f`]) {
        assert.throws(() => Deno.lstatSync(`/tmp/${name}`), Deno.errors.NotFound, `/tmp/${name} on the host`);
      }
    }
    const mounts = Deno.readTextFileSync("/proc/self/mountinfo");
    assert.ok(!mounts.includes(unique), "no mount of the race on the host");
  } finally {
    racer.kill("SIGKILL");
    await racer.status;
    await racer.stdout.cancel().catch(() => {});
    rootfs.cleanup();
    Deno.removeSync(payload);
    await fx.cleanup();
  }
});
