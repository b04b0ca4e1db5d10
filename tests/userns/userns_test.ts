/**
 * linux.namespaces "user" with linux.uidMappings/gidMappings, run as root: root in the container is host
 * uid 100000, its files are 100000's, exec joins its user namespace, and the mounts a user namespace may
 * not make get runc's stand-ins. Each runs against runc on the same bundle where runc can do the same.
 */
import assert from "node:assert/strict";
import {
  allCaps,
  expectCode,
  Fixture,
  HOST_ROOT,
  hostIds,
  MAP,
  mappedBundle,
  MappedRootfs,
  runc,
  RuncRoot,
  runts,
  uid,
} from "./helpers.ts";
import type { Result } from "./helpers.ts";

type Runtime = "runts" | "runc";

async function call(rt: Runtime, root: string, args: string[]): Promise<Result> {
  return rt === "runts" ? await runts(root, args) : await runc(root, args);
}

async function withFixtures(fn: (fx: Fixture, rc: RuncRoot, rootfs: MappedRootfs) => Promise<void>) {
  const fx = new Fixture(), rc = new RuncRoot(), rootfs = new MappedRootfs();
  try {
    await fn(fx, rc, rootfs);
  } finally {
    await fx.cleanup();
    await rc.cleanup();
    rootfs.cleanup();
  }
}

Deno.test("a mapped container: uid 0 inside is 100000 on the host, and exec joins its user namespace (as runc)", async () => {
  await withFixtures(async (fx, rc, rootfs) => {
    const bundle = mappedBundle(fx, rootfs, ["sleep", "60"]);
    const seen: Record<Runtime, string[]> = { runts: [], runc: [] };
    for (const rt of ["runts", "runc"] as const) {
      const root = rt === "runts" ? fx.root : rc.dir;
      const id = uid(rt);
      expectCode(await call(rt, root, ["run", "-d", "--bundle", bundle, id]), 0, `${rt} run -d`);
      const st = JSON.parse((await call(rt, root, ["state", id])).stdout);
      const ids = hostIds(st.pid);
      assert.deepEqual(ids.uid, [HOST_ROOT, HOST_ROOT, HOST_ROOT, HOST_ROOT], `${rt}: host uids`);
      assert.deepEqual(ids.gid, [HOST_ROOT, HOST_ROOT, HOST_ROOT, HOST_ROOT], `${rt}: host gids`);
      const cmd = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user";
      const ex = await call(rt, root, ["exec", id, "sh", "-c", cmd]);
      expectCode(ex, 0, `${rt} exec`);
      const lines = ex.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
      assert.equal(
        lines.at(-1),
        Deno.readLinkSync(`/proc/${st.pid}/ns/user`),
        `${rt}: exec's user namespace`,
      );
      assert.notEqual(lines.at(-1), Deno.readLinkSync("/proc/self/ns/user"));
      seen[rt] = lines.slice(0, -1);
      expectCode(await call(rt, root, ["delete", "--force", id]), 0, `${rt} delete`);
    }
    assert.deepEqual(seen.runts, ["0", "0", `0 ${HOST_ROOT} 65536`, `0 ${HOST_ROOT} 65536`]);
    assert.deepEqual(seen.runts, seen.runc);
  });
});

Deno.test("files the mapped root creates are 100000's on the host; the host's root files show as nobody (as runc)", async () => {
  await withFixtures(async (fx, rc, rootfs) => {
    const hostFile = Deno.makeTempFileSync({ prefix: "runts-userns-hostfile-" });
    try {
      const script = "mkdir /made-$0 && touch /made-$0/file && stat -c '%u %g' /host-file && id -u";
      const bundle = mappedBundle(fx, rootfs, ["sh", "-c", script], (s) => {
        s.mounts!.push({
          destination: "/host-file",
          type: "bind",
          source: hostFile,
          options: ["bind", "ro"],
        });
      });
      for (const rt of ["runts", "runc"] as const) {
        const spec = JSON.parse(Deno.readTextFileSync(`${bundle}/config.json`));
        spec.process.args = ["sh", "-c", script, rt];
        Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify(spec));
        const r = await call(rt, rt === "runts" ? fx.root : rc.dir, ["run", "--bundle", bundle, uid(rt)]);
        expectCode(r, 0, `${rt} run`);
        assert.deepEqual(r.stdout.trim().split("\n"), ["65534 65534", "0"], rt);
        for (const p of [`${rootfs.dir}/made-${rt}`, `${rootfs.dir}/made-${rt}/file`]) {
          const st = Deno.statSync(p);
          assert.deepEqual([st.uid, st.gid], [HOST_ROOT, HOST_ROOT], `${rt}: owner of ${p}`);
        }
      }
    } finally {
      Deno.removeSync(hostFile);
    }
  });
});

/** What the attacks print: one line per attempt, the attempt's name and ok or failed. */
const ATTEMPT = (name: string, cmd: string) =>
  `if ${cmd} 2>/dev/null; then echo "${name} ok"; else echo "${name} failed"; fi`;

Deno.test("root of a user namespace with every capability cannot write host sysctls, mount the host's proc, or enter host namespaces", async () => {
  await withFixtures(async (fx, rc, rootfs) => {
    // A host-wide knob, written with the value it has: nothing changes should the write get through.
    const swappiness = Deno.readTextFileSync("/proc/sys/vm/swappiness").trim();
    // With its own pid namespace: /proc/sys is writable as far as mounts go, and a fresh proc is its own.
    const own = mappedBundle(fx, rootfs, [
      "sh",
      "-c",
      [
        ATTEMPT("sysctl", `echo ${swappiness} > /proc/sys/vm/swappiness`),
        "mkdir -p /mnt/p && mount -t proc proc /mnt/p && ls /mnt/p | grep -c '^[0-9]'",
        "cat /mnt/p/1/comm",
      ].join("; "),
    ], (s) => {
      allCaps(s);
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
    });
    // Sharing the host's pid namespace, with the host's /proc bound in (a fresh proc cannot be mounted).
    const shared = mappedBundle(fx, rootfs, [
      "sh",
      "-c",
      [
        ATTEMPT("mount-proc", "mount -t proc proc /mnt"),
        ATTEMPT("setns-net", "nsenter -t 1 -n true"),
        ATTEMPT("setns-mnt", "nsenter -t 1 -m true"),
        ATTEMPT("kill-init", "kill -0 1"),
        ATTEMPT("sysctl", `echo ${swappiness} > /proc/sys/vm/swappiness`),
      ].join("; "),
    ], (s) => {
      allCaps(s);
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "pid");
      s.mounts = s.mounts!.map((m) =>
        m.destination === "/proc"
          ? { destination: "/proc", type: "bind", source: "/proc", options: ["rbind"] }
          : m
      );
    });
    for (const rt of ["runts", "runc"] as const) {
      const root = rt === "runts" ? fx.root : rc.dir;
      const a = await call(rt, root, ["run", "--bundle", own, uid(rt)]);
      expectCode(a, 0, `${rt}: own pid namespace`);
      const [sysctl, count, comm] = a.stdout.trim().split("\n");
      assert.equal(sysctl, "sysctl failed", rt);
      assert.ok(Number(count) <= 3, `${rt}: the container's proc lists ${count} processes`);
      assert.notEqual(comm, Deno.readTextFileSync("/proc/1/comm").trim(), `${rt}: pid 1 of a fresh proc`);
      const b = await call(rt, root, ["run", "--bundle", shared, uid(rt)]);
      expectCode(b, 0, `${rt}: host pid namespace`);
      assert.deepEqual(b.stdout.trim().split("\n"), [
        "mount-proc failed",
        "setns-net failed",
        "setns-mnt failed",
        "kill-init failed",
        "sysctl failed",
      ], rt);
    }
    assert.equal(Deno.readTextFileSync("/proc/sys/vm/swappiness").trim(), swappiness);
  });
});

Deno.test("without its own cgroup namespace, a mapped container gets binds of its own cgroups, and exec works (as runc)", async () => {
  await withFixtures(async (fx, rc, rootfs) => {
    const count =
      "for d in /sys/fs/cgroup/*/; do [ -f $d/cgroup.procs ] && grep -qx 1 $d/cgroup.procs && echo ${d}; done | wc -l";
    const bundle = mappedBundle(fx, rootfs, ["sh", "-c", `${count}; exec sleep 60`], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "cgroup");
    });
    const counts: string[] = [];
    for (const rt of ["runts", "runc"] as const) {
      const root = rt === "runts" ? fx.root : rc.dir, id = uid(rt);
      expectCode(await call(rt, root, ["run", "-d", "--bundle", bundle, id]), 0, `${rt} run -d`);
      // The container shares the host's cgroup namespace, which an exec must not try to enter.
      const r = await call(rt, root, ["exec", id, "sh", "-c", count.replace("-qx 1", "-q .")]);
      expectCode(r, 0, `${rt} exec`);
      counts.push(r.stdout.trim());
      expectCode(await call(rt, root, ["delete", "--force", id]), 0, `${rt} delete`);
    }
    assert.ok(Number(counts[0]) > 0, `hierarchies showing the container's own cgroup: ${counts[0]}`);
    assert.equal(counts[0], counts[1]);
  });
});

Deno.test("without its own network namespace, a mapped container gets the host's /sys read-only (runc refuses)", async () => {
  await withFixtures(async (fx, rc, rootfs) => {
    const bundle = mappedBundle(fx, rootfs, [
      "sh",
      "-c",
      "grep ' /sys ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1; [ -d /sys/class/net/lo ] && echo lo; " +
      ATTEMPT("write", "echo 1 > /sys/kernel/profiling"),
    ], (s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "network")));
    const r = await runts(fx.root, ["run", "--bundle", bundle, uid()]);
    expectCode(r, 0, "runts run");
    assert.deepEqual(r.stdout.trim().split("\n"), ["ro", "lo", "write failed"]);
    const c = await runc(rc.dir, ["run", "--bundle", bundle, uid("runc")]);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /sysfs.*operation not permitted/);
  });
});

Deno.test("devices in a user namespace are binds of the host's nodes; mknod is refused (as runc)", async () => {
  await withFixtures(async (fx, rc, rootfs) => {
    const bundle = mappedBundle(fx, rootfs, [
      "sh",
      "-c",
      "echo x > /dev/null && head -c 4 /dev/zero | wc -c && stat -c '%t,%T' /dev/null; " +
      ATTEMPT("mknod", "mknod /tmp/n c 1 3"),
    ], allCaps);
    for (const rt of ["runts", "runc"] as const) {
      const r = await call(rt, rt === "runts" ? fx.root : rc.dir, ["run", "--bundle", bundle, uid(rt)]);
      expectCode(r, 0, `${rt} run`);
      assert.deepEqual(r.stdout.trim().split("\n"), ["4", "1,3", "mknod failed"], rt);
    }
  });
});

Deno.test("a container joining another's user namespace by path gets a pid namespace it owns (as runc); maps must agree", async () => {
  await withFixtures(async (fx, rc, rootfs) => {
    const first = uid("owner");
    expectCode(
      await runts(fx.root, ["run", "-d", "--bundle", mappedBundle(fx, rootfs, ["sleep", "60"]), first]),
      0,
      "owner",
    );
    const owner = (await runts(fx.root, ["state", first])).stdout;
    const pid = JSON.parse(owner).pid;
    const userns = `/proc/${pid}/ns/user`;
    const joiner = (maps?: typeof MAP) =>
      mappedBundle(fx, rootfs, [
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; echo $$; readlink /proc/self/ns/user",
      ], (s) => {
        s.linux!.namespaces = [...s.linux!.namespaces!.filter((n) => n.type !== "user"), {
          type: "user",
          path: userns,
        }];
        if (maps) s.linux!.uidMappings = s.linux!.gidMappings = maps;
        else delete s.linux!.uidMappings, delete s.linux!.gidMappings;
      });
    const outs: string[] = [];
    for (const rt of ["runts", "runc"] as const) {
      // runc 1.1 wants the maps repeated; runts takes them (checked) or not.
      const r = await call(rt, rt === "runts" ? fx.root : rc.dir, ["run", "--bundle", joiner(MAP), uid(rt)]);
      expectCode(r, 0, `${rt} joiner`);
      outs.push(r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" ")).join("\n"));
    }
    assert.equal(outs[0], `0\n0 ${HOST_ROOT} 65536\n1\n${Deno.readLinkSync(userns)}`);
    assert.equal(outs[0], outs[1]);
    expectCode(await runts(fx.root, ["run", "--bundle", joiner(), uid()]), 0, "joiner without maps");
    const bad = await runts(fx.root, [
      "run",
      "--bundle",
      joiner([{ containerID: 0, hostID: 200000, size: 65536 }]),
      uid(),
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /linux\.uidMappings \(0 200000 65536\) differ from the joined user namespace's uid_map \(0 100000 65536\)/,
    );
  });
});
