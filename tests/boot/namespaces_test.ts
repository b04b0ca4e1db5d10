/**
 * The spec decides the container's pid and mount namespaces, whatever flags the wrapper passes boot: a pid
 * entry makes the app pid 1 of a new pid namespace, no mount entry keeps it in the runtime's mount
 * namespace, and a mount entry with a path puts it in exactly that one, without moving the root of the
 * namespace's other processes. Runs against the real kernel with private root filesystems, because a
 * container without a mount namespace of its own mounts below its root directory in the runtime's.
 */
import assert from "node:assert/strict";
import { linux as k, SIGNALS } from "../../ffi/mod.ts";
import type { Spec } from "../../src/specutils/spec.ts";
import { buildRootfs } from "../util/rootfs.ts";
import { type BootOptions, BootRun, runToExit, withBoot } from "./harness.ts";
import { joinMountNs, mountNsHolder } from "../util/mount_ns.ts";

const own = (ns: string) => Deno.readLinkSync(`/proc/self/ns/${ns}`);

/** Removes namespace `type` from the spec, and the masks that need a mount namespace when it is mount. */
function without(type: string): (s: Spec) => void {
  return (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== type);
    if (type === "mount") delete s.linux!.maskedPaths, delete s.linux!.readonlyPaths;
  };
}

/** Mount points at or below `dir` in this process's mount namespace. */
function mountsBelow(dir: string, pid: number | "self" = "self"): string[] {
  return Deno.readTextFileSync(`/proc/${pid}/mountinfo`).trim().split("\n").map((l) => l.split(" ")[4])
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** A private busybox root filesystem with a marker file, removed afterwards. */
async function withRootfs<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "runts-nsroot-" }));
  try {
    buildRootfs(dir);
    Deno.writeTextFileSync(`${dir}/marker`, "inside\n");
    return await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("boot: a pid namespace in the spec makes the app pid 1 without --pidns", async () => {
  const r = await runToExit({ script: "echo $$; readlink /proc/self/ns/pid", pidns: false });
  const [pid, ns] = r.exit.appStdout.trim().split("\n");
  assert.equal(pid, "1", r.exit.stderr);
  assert.notEqual(ns, own("pid"));
  assert.equal(r.exit.code, 0);
});

Deno.test("boot: --pidns without a pid namespace in the spec leaves the app in boot's", async () => {
  const r = await runToExit({
    script: "echo $$; readlink /proc/self/ns/pid",
    pidns: true,
    mutate: without("pid"),
  });
  const [pid, ns] = r.exit.appStdout.trim().split("\n");
  assert.equal(Number(pid), r.appPid, "the app's pid is its host pid");
  assert.equal(ns, own("pid"));
});

Deno.test("boot: without a mount entry the app stays in the runtime's mount namespace, chroot'ed; nothing stays mounted", async () => {
  await withRootfs(async (rootfs) => {
    const script =
      "read -r _; readlink /proc/self/ns/mnt; cat /marker; readlink /proc/self/root; exec sleep 60";
    await withBoot({ rootfs, script, mutate: without("mount") }, async (b) => {
      b.startRoot();
      b.release();
      const out = await b.appOutputUntil("\n/\n");
      assert.deepEqual(out.trim().split("\n"), [own("mnt"), "inside", "/"]);
      const below = mountsBelow(rootfs);
      assert.ok(below.includes(rootfs) && below.includes(`${rootfs}/proc`), `mounts: ${below}`);
      k.kill(b.appPid(), SIGNALS.KILL); // boot then destroys the container, as on any app exit
      assert.equal((await b.exit()).code, 137);
    });
    assert.deepEqual(mountsBelow(rootfs), [], "the container's mounts are gone from the runtime's namespace");
  });
});

Deno.test("boot: a mount entry with a path: exactly that namespace; its other processes keep their root", async () => {
  await withRootfs(async (rootfs) => {
    const holder = await mountNsHolder();
    try {
      const r = await runToExit({
        rootfs,
        script: "readlink /proc/self/ns/mnt; cat /marker",
        mutate: joinMountNs(holder.path),
      });
      assert.equal(r.exit.code, 0, r.exit.stderr);
      assert.deepEqual(r.exit.appStdout.trim().split("\n"), [holder.id, "inside"]);
      holder.assertRootKept();
      assert.deepEqual(mountsBelow(rootfs), [], "nothing was mounted in the runtime's namespace");
    } finally {
      await holder.stop();
    }
  });
});

/** Spawns boot and returns its exit once it has failed before the sync byte. */
async function failure(opts: BootOptions): Promise<string> {
  const b = BootRun.spawn(opts);
  try {
    assert.equal(await b.waitSync(), "eof");
    const exit = await b.exit();
    assert.equal(exit.code, 128);
    return exit.stderr;
  } finally {
    await b.cleanup();
  }
}

Deno.test("boot: what cannot be done safely without a mount namespace is refused clearly", async () => {
  await withRootfs(async (rootfs) => {
    const noMount = without("mount");
    const masked = await failure({
      rootfs,
      mutate: (s) => (noMount(s), s.linux!.maskedPaths = ["/proc/kcore"]),
    });
    assert.match(
      masked,
      /linux\.maskedPaths: unable to restrict sys entries without a private MNT namespace/,
    );
    const setupRoot = await failure({ rootfs, mutate: noMount, flags: ["--setup-root"] });
    assert.match(setupRoot, /the spec has no mount namespace.*--setup-root/);
    assert.deepEqual(mountsBelow(rootfs), []);
  });
});
