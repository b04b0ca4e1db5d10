/**
 * How init enters the container's cgroups (src/cgroups/join.ts, ffi/clone_child.ts): a clone child (one
 * thread) moves by v1 `tasks` files and is born in the v2 directory (clone3 CLONE_INTO_CGROUP); the
 * `runts init` process (many threads) moves by cgroup.procs; a kernel refusing clone3 leaves the
 * caller intact to try again without. And end to end: the app is in every cgroup runts recorded.
 */
import assert from "node:assert/strict";
import { Errno, O, SyscallError } from "../../ffi/mod.ts";
import { fakeKernel } from "../../ffi/fake.ts";
import { linux } from "../../ffi/linux.ts";
import { joinCgroups } from "../../src/cgroups/join.ts";
import { clonedInits } from "../../src/boot/start_init.ts";
import { Fixture, ok } from "../cli/helpers.ts";
import { canUseCgroups, recordOf } from "./helpers.ts";

/** Records which file each write went to: fd 10 is a v1 directory, fd 11 a v2 one (it has no `tasks`). */
function recordingKernel() {
  const opened = new Map<number, string>();
  const writes: string[] = [];
  let next = 100;
  const fk = fakeKernel({
    open: (path: unknown, _flags: unknown, _mode: unknown, dirfd: unknown) => {
      if (dirfd === 11 && path === "tasks") throw new SyscallError("open", "tasks", Errno.ENOENT);
      opened.set(next, `${dirfd}/${path}`);
      return next++;
    },
    write: (fd: unknown, bytes: unknown) => {
      writes.push(`${opened.get(fd as number)}=${new TextDecoder().decode(bytes as Uint8Array)}`);
      return (bytes as Uint8Array).length;
    },
  });
  return { k: fk.kernel, writes };
}

Deno.test("cgroup join: one thread moves by v1 tasks and v2 cgroup.procs; many threads by cgroup.procs", () => {
  const one = recordingKernel();
  joinCgroups(one.k, [10, 11], true);
  assert.deepEqual(one.writes, ["10/tasks=0", "11/cgroup.procs=0"]);
  const many = recordingKernel();
  joinCgroups(many.k, [10, 11]);
  assert.deepEqual(many.writes, ["10/cgroup.procs=0", "11/cgroup.procs=0"]);
});

/** The cgroup v2 mount point of this host, or null. */
function v2Mount(): string | null {
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (post?.startsWith("cgroup2 ")) return pre.split(" ")[4];
  }
  return null;
}

const v2 = canUseCgroups() ? v2Mount() : null;

Deno.test({
  name:
    "cgroup join: a clone child given a v2 directory is born in it; a refused clone3 leaves the caller intact",
  ignore: !v2 || !clonedInits(),
  fn() {
    const name = `runts-join-${crypto.randomUUID().slice(0, 8)}`;
    const dir = `${v2}/${name}`;
    Deno.mkdirSync(dir);
    const fd = linux.open(dir, O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    const notCgroup = linux.open("/tmp", O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    try {
      let seen = "";
      const job = () => {
        seen = Deno.readTextFileSync("/proc/self/cgroup");
        return { path: "/bin/true", argv: ["true"], env: [] };
      };
      const child = linux.runInChild(0, job, fd);
      assert.equal(child.failure, null);
      linux.waitid(1, child.pid, 4);
      assert.match(seen, new RegExp(`^0::/${name}$`, "m"));

      assert.throws(
        () => linux.runInChild(0, job, notCgroup),
        (e) => e instanceof SyscallError && e.call === "clone3",
      );
      const again = linux.runInChild(0, job);
      assert.equal(again.failure, null);
      linux.waitid(1, again.pid, 4);
      assert.doesNotMatch(seen, new RegExp(`/${name}$`, "m"));
    } finally {
      linux.close(fd);
      linux.close(notCgroup);
      Deno.removeSync(dir);
    }
  },
});

Deno.test({
  name: "cgroup join: the container's app is in every cgroup runts recorded",
  ignore: !canUseCgroups(),
  async fn() {
    const fx = new Fixture();
    const id = `cg-join-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sleep", "30"]), id]);
      const pid = JSON.parse(await ok(fx.root, ["state", id])).pid;
      const rec = recordOf(fx.root, id);
      for (const dir of Object.values(rec.dirs)) {
        const procs = Deno.readTextFileSync(`${dir}/cgroup.procs`).split("\n");
        assert.ok(procs.includes(String(pid)), `${pid} in ${dir}`);
      }
    } finally {
      await fx.cleanup();
    }
  },
});
