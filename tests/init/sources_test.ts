/**
 * Rootfs planning through the recording fake: which trees init detaches (recursively or not), which fds
 * it closes, and what it leaves alone; and boot's chroot plan from the host's files.
 */
import assert from "node:assert/strict";
import { fakeKernel } from "../../ffi/fake.ts";
import { Errno, linux, SyscallError } from "../../ffi/mod.ts";
import { takeSources } from "../../src/init/rootfs.ts";
import { chrootBinds } from "../../src/boot/chroot.ts";
import type { CreateInitConfig } from "../../src/protocol/init_config.ts";
import { defaultSpec } from "../../src/specutils/default_spec.ts";

function config(over: Partial<CreateInitConfig> = {}): CreateInitConfig {
  const spec = defaultSpec();
  spec.linux!.namespaces = [{ type: "mount" }];
  return {
    mode: "create",
    id: "c",
    spec,
    process: spec.process!,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/a", type: "bind", source: "/a", options: ["rbind"] },
      { destination: "/b", source: "/b", options: ["bind", "ro"] },
    ],
    network: "sandbox",
    noPivot: false,
    cpuNum: 0,
    preserveFds: 0,
    cgroupFds: [],
    readyFd: -1,
    startFd: -1,
    rootFd: 5,
    bindFds: { "1": 6, "2": 7 },
    ...over,
  };
}

Deno.test("rootfs plan: the root and each bind source become detached trees; the originals close", () => {
  let next = 100;
  const fake = fakeKernel({ cloneMount: () => next++ });
  const s = takeSources(fake.kernel, config());
  assert.deepEqual(s, { root: 100, binds: { "1": 101, "2": 102 }, rootDir: null });
  // rbind copies the whole tree; bind only the mount itself.
  assert.deepEqual(fake.calls.of("cloneMount"), [[5, true], [6, true], [7, false]]);
  assert.deepEqual(fake.calls.of("close"), [[5], [6], [7]]);
});

Deno.test("rootfs plan: a source the kernel will not copy (EINVAL) is used as it is, and kept open", () => {
  const fake = fakeKernel({
    cloneMount: (fd: unknown) => {
      if (fd === 6) throw new SyscallError("open_tree", "fd 6", Errno.EINVAL);
      return 200;
    },
  });
  const s = takeSources(fake.kernel, config());
  assert.deepEqual(s.binds, { "1": 6, "2": 200 });
  assert.deepEqual(fake.calls.of("close"), [[5], [7]]);
});

Deno.test("rootfs plan: trees boot detached already are taken as they are, with no call at all", () => {
  const fake = fakeKernel({}, true);
  const s = takeSources(fake.kernel, config({ sourcesDetached: true }));
  assert.deepEqual(s, { root: 5, binds: { "1": 6, "2": 7 }, rootDir: null });
  assert.deepEqual(fake.names(), []);
});

Deno.test("rootfs plan: a bind source boot was not given is opened by path, O_PATH", () => {
  const fake = fakeKernel({ cloneMount: 300, open: 9 });
  takeSources(fake.kernel, config({ bindFds: { "1": 6 } }));
  assert.deepEqual(fake.calls.of("open").map(([path]) => path), ["/b"]);
});

Deno.test("chroot plan: host directories are bound, host symlinks recreated, missing paths skipped", () => {
  const types: Record<string, "dir" | "symlink"> = { "/usr": "dir", "/lib": "symlink", "/bin": "symlink" };
  const fake = fakeKernel({
    fileType: (p: unknown) => types[p as string] ?? null,
    readLink: (p: unknown) => `usr${p}`,
  });
  const { binds, symlinks } = chrootBinds(fake.kernel);
  assert.ok(binds.some((b) => b.path === "/usr" && b.dir));
  assert.ok(!binds.some((b) => b.path === "/lib64" || b.path === "/sbin"), "not on this host");
  assert.deepEqual(symlinks, [["usr/lib", "/lib"], ["usr/bin", "/bin"]]);
});

Deno.test("files seam: a failed file call is a SyscallError naming the call, the path and the errno", () => {
  const dir = Deno.makeTempDirSync({ prefix: "runts-files-" });
  try {
    assert.throws(() => linux.readTextFile(`${dir}/none`), (e: Error) => {
      assert.ok(e instanceof SyscallError);
      assert.equal(e.message, `readfile ${dir}/none: ENOENT`);
      return true;
    });
    linux.writeFile(`${dir}/f`, "x", { createNew: true });
    assert.throws(
      () => linux.writeFile(`${dir}/f`, "y", { createNew: true }),
      /writefile .*\/f: EEXIST$/,
    );
    assert.equal(linux.fileType(`${dir}/f`), "file");
    assert.equal(linux.fileType(`${dir}/none`), null);
    assert.deepEqual(linux.readDir(dir), [{ name: "f", isDirectory: false }]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
