/** The test rootfs builder: both variants give a root in which a shell runs. */
import assert from "node:assert/strict";
import { buildRootfs, cachedRootfs, makeBundle } from "./util/rootfs.ts";

const decoder = new TextDecoder();

function inChroot(root: string, script: string): string {
  const r = new Deno.Command("/usr/sbin/chroot", {
    args: [root, "/bin/sh", "-c", script],
    clearEnv: true,
    env: { PATH: "/bin" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert.equal(r.code, 0, decoder.decode(r.stderr));
  return decoder.decode(r.stdout);
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "runts-rootfs-test-" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("rootfs: the /bin/sh fallback copies the shell and its libraries", () => {
  withTempDir((dir) => {
    buildRootfs(dir, { busybox: null });
    assert.equal(Deno.lstatSync(`${dir}/bin/sh`).isFile, true);
    assert.equal(inChroot(dir, "echo hello; id -u"), "hello\n0\n");
    assert.equal(Deno.readTextFileSync(`${dir}/etc/passwd`).split("\n")[0], "root:x:0:0:root:/root:/bin/sh");
    assert.equal(Deno.statSync(`${dir}/tmp`).mode! & 0o7777, 0o1777);
  });
});

Deno.test({
  name: "rootfs: busybox with its applets",
  ignore: (() => {
    try {
      return !Deno.statSync("/bin/busybox").isFile;
    } catch {
      return true;
    }
  })(),
  fn() {
    withTempDir((dir) => {
      buildRootfs(dir);
      assert.equal(Deno.readLinkSync(`${dir}/bin/sh`), "busybox");
      assert.match(inChroot(dir, "cat /etc/hostname; id"), /^runts\nuid=0\(root\) gid=0\(root\)/);
    });
  },
});

Deno.test("rootfs: cachedRootfs is stable and makeBundle writes config.json", () => {
  const root = cachedRootfs();
  assert.equal(cachedRootfs(), root);
  const bundle = makeBundle({
    args: ["/bin/true"],
    hostname: "h1",
    mutate: (s) => void (s.process!.cwd = "/tmp"),
  });
  try {
    const spec = JSON.parse(Deno.readTextFileSync(`${bundle.dir}/config.json`));
    assert.deepEqual(spec.root, { path: root, readonly: false });
    assert.equal(spec.hostname, "h1");
    assert.deepEqual(spec.process.args, ["/bin/true"]);
    assert.equal(spec.process.cwd, "/tmp");
  } finally {
    bundle.cleanup();
  }
  assert.throws(() => Deno.statSync(bundle.dir));
});
