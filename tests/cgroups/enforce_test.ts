/**
 * Limits enforced and observed on this host's own layout (hybrid here; any layout whose hierarchies
 * offer the controllers): each test runs a workload through bin/runts and checks the effect from inside
 * (what the app sees) and from outside (the cgroup files runts recorded).
 */
import assert from "node:assert/strict";
import { Fixture, ok, runts, state } from "../cli/helpers.ts";
import { allGone, canUseCgroups, keyed, limitFile, recordOf } from "./helpers.ts";
import type { LinuxResources, Spec } from "../../src/specutils/spec.ts";

const ignore = !canUseCgroups();
const MiB = 1024 * 1024;

/** Container ids name cgroups host-wide: unique ones keep concurrent runs apart. */
function uniqueId(): string {
  return `cg-${crypto.randomUUID().slice(0, 8)}`;
}

function bundle(fx: Fixture, script: string, resources: LinuxResources, more?: (s: Spec) => void): string {
  return fx.bundle(["/bin/sh", "-c", script], (s) => {
    s.linux!.resources = { ...s.linux!.resources, ...resources };
    more?.(s);
  });
}

Deno.test({
  name: "cgroups: a memory hog is OOM-killed at the limit; wait and state report it",
  ignore,
  async fn() {
    const fx = new Fixture();
    const id = uniqueId();
    try {
      // First a child hog (the shell sees it die), then the app itself becomes the hog.
      const b = bundle(fx, "tail /dev/zero; echo hog:$?; exec tail /dev/zero", {
        memory: { limit: 32 * MiB },
      });
      const r = await runts(fx.root, ["run", "--keep", "--bundle", b, id]);
      assert.equal(r.code, 137, r.stderr);
      assert.match(r.stdout, /hog:137/);
      assert.equal((await state(fx.root, id)).status, "stopped");
      assert.equal(JSON.parse(await ok(fx.root, ["wait", id])).exitStatus, 137);
      const rec = recordOf(fx.root, id);
      assert.equal(Number(limitFile(rec, "memory", "memory.limit_in_bytes", "memory.max")), 32 * MiB);
      const events = keyed(limitFile(rec, "memory", "memory.oom_control", "memory.events"));
      assert.equal(events.oom_kill, 2);
      await ok(fx.root, ["delete", id]);
      assert.ok(allGone(rec), JSON.stringify(rec.dirs));
    } finally {
      await fx.cleanup();
    }
  },
});

Deno.test({
  name: "cgroups: a fork bomb stops at pids.limit",
  ignore,
  async fn() {
    const fx = new Fixture();
    const id = uniqueId();
    try {
      const b = bundle(fx, "i=0; while :; do sleep 30 & i=$((i+1)); echo $i; done", { pids: { limit: 16 } });
      const r = await runts(fx.root, ["run", "--keep", "--bundle", b, id]);
      assert.equal(r.code, 2, r.stderr); // the shell gives up when fork fails
      assert.match(r.stderr, /can't fork/);
      const started = Number(r.stdout.trim().split("\n").at(-1));
      assert.ok(started >= 10 && started <= 15, `${started} sleeps started under a limit of 16`);
      const rec = recordOf(fx.root, id);
      assert.equal(limitFile(rec, "pids", "pids.max", "pids.max"), "16");
      assert.ok(keyed(limitFile(rec, "pids", "pids.events", "pids.events")).max >= 1);
    } finally {
      await fx.cleanup();
    }
  },
});

Deno.test({
  name: "cgroups: the cpu quota holds within 20 %, and nproc honours cpus",
  ignore,
  async fn() {
    const fx = new Fixture();
    const id = uniqueId();
    try {
      // Busy for 2 s of wall time (builtins only), then: cpu ticks used, wall time in centiseconds.
      const script = [
        "read t0 _ < /proc/uptime; t0=${t0%.*}${t0#*.}",
        "while :; do read t _ < /proc/uptime; t=${t%.*}${t#*.}; [ $((t - t0)) -ge 200 ] && break; done",
        "read -r stat < /proc/$$/stat; set -- ${stat#*) }",
        'echo "cpu=$((${12} + ${13})) wall=$((t - t0)) nproc=$(nproc)"',
      ].join("; ");
      const quota = 0.3;
      const b = bundle(fx, script, { cpu: { quota: quota * 100000, period: 100000, cpus: "0" } });
      const r = await runts(fx.root, ["run", "--keep", "--bundle", b, id]);
      assert.equal(r.code, 0, r.stderr);
      const m = /cpu=(\d+) wall=(\d+) nproc=(\d+)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      const inside = Number(m[1]) / Number(m[2]);
      assert.ok(
        Math.abs(inside - quota) <= 0.2 * quota,
        `inside: ${inside.toFixed(3)} of a cpu, quota ${quota}`,
      );
      assert.equal(m[3], "1");
      const rec = recordOf(fx.root, id);
      const usageNs = rec.dirs.cpuacct
        ? Number(Deno.readTextFileSync(`${rec.dirs.cpuacct}/cpuacct.usage`))
        : keyed(Deno.readTextFileSync(`${rec.dirs.unified}/cpu.stat`)).usage_usec * 1000;
      const outside = usageNs / (Number(m[2]) * 1e7);
      assert.ok(
        Math.abs(outside - quota) <= 0.2 * quota,
        `outside: ${outside.toFixed(3)} of a cpu, quota ${quota}`,
      );
      assert.ok(keyed(limitFile(rec, "cpu", "cpu.stat", "cpu.stat")).nr_throttled > 0);
      assert.equal(limitFile(rec, "cpuset", "cpuset.cpus", "cpuset.cpus"), "0");
    } finally {
      await fx.cleanup();
    }
  },
});

Deno.test({
  name: "cgroups: update, pause/resume, stats, exec placement and delete on a running container",
  ignore,
  async fn() {
    const fx = new Fixture();
    const id = uniqueId();
    try {
      const b = bundle(
        fx,
        "cat /proc/self/cgroup; while :; do sleep 0.1; done",
        { pids: { limit: 100 }, memory: { limit: 64 * MiB } },
        (s) => {
          const caps = s.process!.capabilities!;
          for (const set of [caps.bounding!, caps.effective!, caps.permitted!]) set.push("CAP_MKNOD");
        },
      );
      await ok(fx.root, ["run", "-d", "--bundle", b, id]);
      const rec = recordOf(fx.root, id);

      await ok(fx.root, ["update", "--pids-limit", "8", "--memory", "48m", "--cpu-quota", "20000", id]);
      assert.equal(limitFile(rec, "pids", "pids.max", "pids.max"), "8");
      assert.equal(Number(limitFile(rec, "memory", "memory.limit_in_bytes", "memory.max")), 48 * MiB);
      assert.match(limitFile(rec, "cpu", "cpu.cfs_quota_us", "cpu.max"), /^20000/);
      // Seen from inside: an exec'd fork loop now stops below 8.
      const fork = await runts(fx.root, [
        "exec",
        id,
        "sh",
        "-c",
        "i=0; while :; do sleep 5 & i=$((i+1)); echo $i; done",
      ]);
      assert.match(fork.stderr, /can't fork/);
      assert.ok(Number(fork.stdout.trim().split("\n").at(-1)) < 8, fork.stdout);
      // --resources from a file and from stdin; the record keeps the merged resources.
      const file = `${fx.root}/res.json`;
      Deno.writeTextFileSync(file, JSON.stringify({ pids: { limit: 50 } }));
      await ok(fx.root, ["update", "--resources", file, id]);
      assert.equal(limitFile(rec, "pids", "pids.max", "pids.max"), "50");
      await ok(fx.root, ["update", "-r", "-", id], {
        stdin: JSON.stringify({ memory: { limit: 40 * MiB } }),
      });
      assert.equal(Number(limitFile(rec, "memory", "memory.limit_in_bytes", "memory.max")), 40 * MiB);
      const saved = JSON.parse(Deno.readTextFileSync(`${fx.root}/${id}/state.json`)).spec.linux.resources;
      assert.deepEqual([saved.pids.limit, saved.memory.limit, saved.cpu.quota], [50, 40 * MiB, 20000]);

      // Devices: deny-all plus the defaults; a node the container makes cannot be opened.
      const dev = await runts(fx.root, [
        "exec",
        id,
        "sh",
        "-c",
        "mknod /dev/lc c 10 237; cat /dev/lc; echo x >/dev/null && echo null-ok",
      ]);
      assert.match(dev.stderr, /can't open '\/dev\/lc': Operation not permitted/);
      assert.match(dev.stdout, /null-ok/);

      // Stats from boot's Event: real numbers.
      const stats = JSON.parse(await ok(fx.root, ["events", "--stats", id]));
      assert.equal(stats.type, "stats");
      assert.ok(stats.data.cpu.usage.total > 0);
      assert.ok(stats.data.memory.usage.usage > 0);
      assert.equal(stats.data.memory.usage.limit, 40 * MiB);
      assert.ok(stats.data.pids.current >= 2);
      assert.equal(stats.data.pids.limit, 50);

      // An exec'd process joins the container's cgroups (and its cgroup namespace).
      const pidFile = `${fx.root}/exec.pid`;
      await ok(fx.root, ["exec", "-d", "--pid-file", pidFile, id, "sleep", "30"]);
      const pid = Deno.readTextFileSync(pidFile).trim();
      const procs = (key: string) => Deno.readTextFileSync(`${rec.dirs[key]}/cgroup.procs`).split("\n");
      for (const key of Object.keys(rec.dirs)) {
        assert.ok(procs(key).includes(pid), `${pid} in ${rec.dirs[key]}`);
      }

      await ok(fx.root, ["pause", id]);
      assert.equal((await state(fx.root, id)).status, "paused");
      const frozen = rec.dirs.freezer
        ? Deno.readTextFileSync(`${rec.dirs.freezer}/freezer.state`).trim() === "FROZEN"
        : keyed(Deno.readTextFileSync(`${rec.dirs.unified}/cgroup.events`)).frozen === 1;
      assert.ok(frozen);
      await ok(fx.root, ["resume", id]);
      assert.equal((await state(fx.root, id)).status, "running");

      // A paused container is force-deleted promptly, and its cgroups go.
      await ok(fx.root, ["pause", id]);
      const t0 = Date.now();
      await ok(fx.root, ["delete", "--force", id]);
      assert.ok(Date.now() - t0 < 5000, `delete took ${Date.now() - t0} ms`);
      assert.ok(allGone(rec), JSON.stringify(rec.dirs));
    } finally {
      await fx.cleanup();
    }
  },
});

Deno.test({
  name:
    "cgroups: the app sees its own cgroups (namespace and /sys/fs/cgroup); a stopped one cannot be updated",
  ignore,
  async fn() {
    const fx = new Fixture();
    const id = uniqueId();
    try {
      // /sys/fs/cgroup shows the container's own cgroups: v1 mounts per hierarchy, or cgroup2.
      const b = bundle(
        fx,
        "cat /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null",
        {
          pids: { limit: 77 },
        },
      );
      const r = await runts(fx.root, ["run", "--keep", "--bundle", b, id]);
      assert.equal(r.code, 1, r.stderr); // one of the two pids.max paths is missing
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines.pop(), "77");
      for (const line of lines) assert.match(line, /:\/$/);
      const u = await runts(fx.root, ["update", "--pids-limit", "5", id]);
      assert.equal(u.code, 1);
      assert.match(u.stderr, /not running/);
    } finally {
      await fx.cleanup();
    }
  },
});

Deno.test({
  name: "cgroups: a create that fails leaves no cgroup and no state behind",
  ignore,
  async fn() {
    const fx = new Fixture();
    const id = uniqueId();
    try {
      const b = bundle(fx, "true", { cpu: { cpus: "4095" } });
      const r = await runts(fx.root, ["create", "--bundle", b, id]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cpuset\.cpus/);
      for (const top of Deno.readDirSync("/sys/fs/cgroup")) {
        if (!top.isDirectory) continue;
        assert.throws(
          () => Deno.statSync(`/sys/fs/cgroup/${top.name}/${id}`),
          Deno.errors.NotFound,
          top.name,
        );
      }
      assert.deepEqual([...Deno.readDirSync(fx.root)], []);
    } finally {
      await fx.cleanup();
    }
  },
});
