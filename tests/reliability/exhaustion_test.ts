/**
 * Exhaustion: a full disk under --root, too few file descriptors, and a root filesystem without /proc or
 * /dev. Whatever runs out, and wherever, runts either succeeds or fails with a clear message, and a
 * failure leaves nothing behind: no file under --root, process, mount or cgroup directory. Needs root.
 */
import assert from "node:assert/strict";
import { cachedRootfs } from "../util/rootfs.ts";
import { type Result, World } from "./helpers.ts";

/** Runs `body` with a tmpfs of `options` mounted on a fresh directory; unmounts it afterwards. */
async function withTmpfs(options: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "runts-rel-fs-" });
  sh(`mount -t tmpfs -o ${options} tmpfs ${dir}`);
  try {
    await body(dir);
  } finally {
    sh(`umount ${dir}`);
    Deno.removeSync(dir);
  }
}

function sh(script: string): void {
  const out = new Deno.Command("/bin/sh", { args: ["-c", script], stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!out.success) throw new Error(`${script}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A run -d attempt must either work (then it is deleted) or fail clearly and leave nothing. */
async function attempt(w: World, r: Result, id: string, clear: RegExp, what: string): Promise<boolean> {
  if (r.code === 0) {
    assert.equal((await w.state(id))?.status, "running", what);
    assert.equal((await w.run(["delete", "--force", id])).code, 0, what);
  } else {
    assert.equal(r.code, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, clear, what);
    assert.doesNotMatch(r.stderr, /^\s+at |panicked/m, `${what}: ${r.stderr}`);
  }
  await w.assertClean(what);
  return r.code === 0;
}

Deno.test("full disk under --root: at every point space or inodes run out, a clear error and nothing left", async () => {
  const enospc = /No space left on device|ENOSPC/;
  const outcomes: string[] = [];
  // Free pages 0..3 (each state save needs one for its temporary file), then an inode budget of 3..10.
  const cases = [
    ...[0, 1, 2, 3].map((free) => ({
      options: `size=${(free + 1) * 4}k`,
      filler: 4096,
      label: `${free} free pages`,
    })),
    ...[3, 4, 5, 6, 7, 8, 9, 10].map((n) => ({ options: `nr_inodes=${n}`, filler: 0, label: `${n} inodes` })),
  ];
  for (const c of cases) {
    await withTmpfs(c.options, async (fs) => {
      if (c.filler) Deno.writeFileSync(`${fs}/filler`, new Uint8Array(c.filler));
      const w = new World(`${fs}/root`);
      try {
        const r = await w.run(["run", "-d", "--bundle", w.bundle(["sleep", "1000"]), "d"]);
        const ok = await attempt(w, r, "d", enospc, c.label);
        outcomes.push(`${c.label}: ${ok ? "ok" : r.stderr.trim()}`);
      } finally {
        await w.cleanup();
      }
    });
  }
  assert.ok(outcomes.some((o) => o.endsWith(": ok")), outcomes.join("\n"));
  assert.ok(outcomes.some((o) => !o.endsWith(": ok")), outcomes.join("\n"));
});

Deno.test("full disk during the container's life: start, state, kill and delete still work", async () => {
  await withTmpfs("size=64k", async (fs) => {
    const w = new World(`${fs}/root`);
    try {
      await w.ok(["create", "--bundle", w.bundle(["sleep", "1000"]), "d"]);
      // Fill every remaining page.
      const f = Deno.openSync(`${fs}/filler`, { write: true, create: true });
      try {
        for (;;) f.writeSync(new Uint8Array(4096));
      } catch (e) {
        assert.match((e as Error).message, /No space left/);
      } finally {
        f.close();
      }
      const start = await w.run(["start", "d"]);
      assert.equal(start.code, 0, start.stderr);
      assert.equal((await w.state("d"))?.status, "running");
      await w.ok(["kill", "d", "KILL"]);
      assert.equal((await w.run(["delete", "--force", "d"])).code, 0);
      await w.assertClean("disk filled while running");
    } finally {
      await w.cleanup();
    }
  });
});

Deno.test("EMFILE: with few file descriptors, runts works or says so clearly, and leaves nothing", async () => {
  // Below about 20 fds Deno itself cannot start (it panics before runts runs); runts starts from there.
  const limits = [22, 24, 26, 28, 30, 32, 36, 40, 48, 56, 64, 128];
  const emfile = /EMFILE|Too many open files|RLIMIT_NOFILE/;
  const outcomes: string[] = [];
  const w = new World();
  try {
    // No spec rlimits: raising RLIMIT_NOFILE above the hard limit needs CAP_SYS_RESOURCE.
    const bundle = w.bundle(["sleep", "1000"], { mutate: (s) => delete s.process!.rlimits });
    for (const n of limits) {
      const r = await w.run(["run", "-d", "--bundle", bundle, `e${n}`], { prefix: `ulimit -n ${n};` });
      const ok = await attempt(w, r, `e${n}`, emfile, `ulimit -n ${n}`);
      outcomes.push(`${n}: ${ok ? "ok" : r.stderr.trim()}`);
    }
  } finally {
    await w.cleanup();
  }
  assert.ok(!outcomes[0].endsWith(": ok"), outcomes.join("\n"));
  assert.ok(outcomes[outcomes.length - 1].endsWith(": ok"), outcomes.join("\n"));
});

Deno.test("a rootfs without /proc or /dev: created when writable; a clear error when read-only", async () => {
  const copy = Deno.makeTempDirSync({ prefix: "runts-rel-rootfs-" });
  const ro = Deno.makeTempDirSync({ prefix: "runts-rel-rootfs-ro-" });
  const w = new World();
  try {
    sh(`cp -a ${cachedRootfs()}/. ${copy}/ && rmdir ${copy}/proc ${copy}/dev`);
    // Writable: the mount points are made, as runc does.
    const rw = await w.run([
      "run",
      "--bundle",
      w.bundle(["sh", "-c", "test -r /proc/self/status && test -c /dev/null"], { rootfs: copy }),
      "rw",
    ]);
    assert.equal(rw.code, 0, rw.stderr);
    assert.ok(Deno.statSync(`${copy}/proc`).isDirectory && Deno.statSync(`${copy}/dev`).isDirectory);
    await w.assertClean("writable rootfs");

    // Read-only: nothing can be made, so the mount fails and says where.
    for (const missing of ["proc", "dev"]) {
      sh(`rmdir ${copy}/proc ${copy}/dev 2>/dev/null; mkdir ${copy}/${missing === "proc" ? "dev" : "proc"}`);
      sh(`mount --bind ${copy} ${ro} && mount -o remount,bind,ro ${ro}`);
      try {
        const r = await w.run(["run", "--bundle", w.bundle(["true"], { rootfs: ro }), `ro-${missing}`]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`mount /${missing}: .*EROFS`));
        await w.assertClean(`read-only rootfs without /${missing}`);
      } finally {
        sh(`umount ${ro}`);
      }
    }
  } finally {
    await w.cleanup();
    Deno.removeSync(copy, { recursive: true });
    Deno.removeSync(ro);
  }
});
