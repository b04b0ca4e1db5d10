/**
 * Resources → cgroup files, creation, freezing, stats and removal, against the in-memory cgroupfs model
 * (fake_cgroupfs.ts) of this hybrid host and of a pure v2 host. The real kernel is exercised by
 * enforce_test.ts and layouts_test.ts.
 */
import assert from "node:assert/strict";
import { BPF_DEVCG, BPF_OP, type BpfInsn, Errno } from "../../ffi/mod.ts";
import { fakeKernel } from "../../ffi/fake.ts";
import type { Layout } from "../../src/cgroups/layout.ts";
import { resolveCgroupsPath } from "../../src/cgroups/path.ts";
import {
  type CgroupRecord,
  createCgroups,
  destroyCgroups,
  plannedDirs,
  viewOf,
} from "../../src/cgroups/manager.ts";
import {
  applyResources,
  blkioToIoWeight,
  sharesToWeight,
  swapToV2,
  v2ControllersFor,
} from "../../src/cgroups/resources.ts";
import { allows, deviceFilter, type DeviceRule, deviceRules, v1RuleLine } from "../../src/cgroups/devices.ts";
import { isFrozen, setFrozen } from "../../src/cgroups/freezer.ts";
import { readStats } from "../../src/cgroups/stats.ts";
import { setUpCgroups } from "../../src/cgroups/container.ts";
import { mergeResources, parseBytes, sectionsToApply } from "../../src/cmd/update.ts";
import type { LinuxResources, Spec } from "../../src/specutils/spec.ts";
import { FakeCgroupFs, type FakeHierarchy, HYBRID, PURE_V2 } from "./fake_cgroupfs.ts";

function layoutOf(hs: FakeHierarchy[], own = "/"): Layout {
  const v1 = hs.some((h) => h.version === 1 && !h.controllers[0].includes("="));
  const v2 = hs.some((h) => h.version === 2);
  return {
    mode: v1 && v2 ? "hybrid" : v1 ? "v1" : "v2",
    hierarchies: hs.map((h) => ({
      key: h.version === 2 ? "unified" : h.controllers.join(","),
      version: h.version,
      controllers: h.controllers,
      mountpoint: h.mountpoint,
      mountRoot: "/",
      own,
    })),
  };
}

function setUp(hs: FakeHierarchy[], r: LinuxResources, path = "/c1") {
  const fs = new FakeCgroupFs(hs);
  const layout = layoutOf(hs);
  const rec: CgroupRecord = {
    mode: layout.mode,
    dirs: plannedDirs(layout, resolveCgroupsPath(path, "c1", false)),
    created: [],
  };
  createCgroups(fs, layout, rec, { needV2: v2ControllersFor(r) });
  const warnings: string[] = [];
  const fk = fakeKernel({ bpfLoadDeviceFilter: 77 });
  applyResources(viewOf(fs, rec), r, { k: fk.kernel, warn: (m) => warnings.push(m), devices: null });
  return { fs, rec, warnings, fk };
}

const FULL: LinuxResources = {
  memory: { limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20, swappiness: 10, disableOOMKiller: true },
  cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0-1", mems: "0", burst: 1000 },
  pids: { limit: 40 },
  blockIO: {
    weight: 500,
    weightDevice: [{ major: 8, minor: 0, weight: 300 }],
    throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
    throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
  },
  hugepageLimits: [{ pageSize: "2MB", limit: 4 << 20 }],
  network: { classID: 0x100001, priorities: [{ name: "eth0", priority: 5 }] },
};

Deno.test("cgroups resources: v1 files on this hybrid host", () => {
  const { fs, rec, warnings } = setUp(HYBRID, FULL);
  assert.equal(rec.mode, "hybrid");
  const mem = rec.dirs.memory;
  // memsw must stay >= the memory limit at every step: from unlimited, the limit goes down first.
  assert.deepEqual(fs.writesIn(mem), [
    `memory.limit_in_bytes=${64 << 20}`,
    `memory.memsw.limit_in_bytes=${128 << 20}`,
    `memory.soft_limit_in_bytes=${32 << 20}`,
    "memory.swappiness=10",
    "memory.oom_control=1",
  ]);
  assert.deepEqual(fs.writesIn(rec.dirs.cpu), [
    "cpu.shares=512",
    "cpu.cfs_period_us=100000",
    "cpu.cfs_quota_us=50000",
    "cpu.cfs_burst_us=1000",
  ]);
  // The new cpuset got its parent's cpus and mems before the spec's.
  assert.deepEqual(fs.writesIn(rec.dirs.cpuset), [
    "cpuset.cpus=0-3",
    "cpuset.mems=0-3",
    "cpuset.cpus=0-1",
    "cpuset.mems=0",
  ]);
  assert.deepEqual(fs.writesIn(rec.dirs.pids), ["pids.max=40"]);
  assert.deepEqual(fs.writesIn(rec.dirs.blkio), [
    "blkio.bfq.weight=500",
    "blkio.bfq.weight_device=8:0 300",
    "blkio.throttle.read_bps_device=8:0 1048576",
    "blkio.throttle.write_iops_device=8:0 100",
  ]);
  // hugetlb is not a v1 hierarchy here but the unified root offers it: enabled and used there.
  assert.equal(fs.value("/sys/fs/cgroup/unified", "cgroup.subtree_control"), "hugetlb");
  assert.deepEqual(fs.writesIn(rec.dirs.unified), [`hugetlb.2MB.max=${4 << 20}`]);
  // net_cls/net_prio are not mounted on this host.
  assert.deepEqual(warnings, [
    "network.classID is not enforced: no net_cls (v1 only) controller in this cgroup layout",
    "network.priorities is not enforced: no net_prio (v1 only) controller in this cgroup layout",
  ]);
});

Deno.test("cgroups resources: v2 files and conversions", () => {
  const { fs, rec, warnings } = setUp(PURE_V2, FULL, "/a/b/c1");
  const dir = rec.dirs.unified;
  assert.equal(dir, "/sys/fs/cgroup/a/b/c1");
  // Every parent delegates every controller the root offers.
  for (const d of ["/sys/fs/cgroup", "/sys/fs/cgroup/a", "/sys/fs/cgroup/a/b"]) {
    assert.equal(fs.value(d, "cgroup.subtree_control"), "cpuset cpu io memory hugetlb pids rdma");
  }
  assert.deepEqual(fs.writesIn(dir), [
    "cpuset.cpus=0-1",
    "cpuset.mems=0",
    `cpu.weight=${sharesToWeight(512)}`,
    "cpu.max=50000 100000",
    "cpu.max.burst=1000",
    `memory.swap.max=${64 << 20}`,
    `memory.max=${64 << 20}`,
    `memory.low=${32 << 20}`,
    "pids.max=40",
    `io.weight=${blkioToIoWeight(500)}`,
    `io.weight=8:0 ${blkioToIoWeight(300)}`,
    "io.max=8:0 rbps=1048576",
    "io.max=8:0 wiops=100",
    `hugetlb.2MB.max=${4 << 20}`,
  ]);
  assert.ok(warnings.some((w) => w.includes("swappiness")));
  assert.ok(warnings.some((w) => w.includes("disableOOMKiller")));
  assert.ok(warnings.some((w) => w.includes("network.classID")));
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(blkioToIoWeight(10), 1);
  assert.equal(blkioToIoWeight(1000), 10000);
});

Deno.test("cgroups resources: swap, unlimited values and errors", () => {
  assert.equal(swapToV2(undefined, -1), "max");
  assert.equal(swapToV2(-1, 100), "max");
  assert.equal(swapToV2(300, 100), "200");
  assert.equal(swapToV2(undefined, 100), null);
  assert.throws(() => swapToV2(50, 100), />= memory limit/);
  assert.throws(() => swapToV2(50, undefined), /without memory limit/);
  const v2 = setUp(PURE_V2, {
    memory: { limit: -1 },
    pids: { limit: -1 },
    cpu: { quota: -1, period: 50000 },
  });
  assert.deepEqual(v2.fs.writesIn(v2.rec.dirs.unified), [
    "cpu.max=max 50000",
    "memory.swap.max=max",
    "memory.max=max",
    "pids.max=max",
  ]);
  const v1 = setUp(HYBRID, { memory: { limit: -1 }, pids: { limit: -1 } });
  assert.deepEqual(v1.fs.writesIn(v1.rec.dirs.memory), [
    "memory.memsw.limit_in_bytes=-1",
    "memory.limit_in_bytes=-1",
  ]);
  // Growing past the current limit: memsw first.
  v1.fs.setValue(v1.rec.dirs.memory, "memory.limit_in_bytes", String(32 << 20));
  applyResources(viewOf(v1.fs, v1.rec), { memory: { limit: 100 << 20, swap: 200 << 20 } }, {
    k: fakeKernel().kernel,
    warn: () => {},
  });
  assert.deepEqual(v1.fs.writesIn(v1.rec.dirs.memory).slice(2), [
    `memory.memsw.limit_in_bytes=${200 << 20}`,
    `memory.limit_in_bytes=${100 << 20}`,
  ]);
  assert.deepEqual(v1.fs.writesIn(v1.rec.dirs.pids), ["pids.max=max"]);
  assert.throws(
    () => setUp(PURE_V2, { cpu: { realtimeRuntime: 1000 } }),
    /realtime .* not supported on cgroup v2/,
  );
  // Unified keys: written as given, checked for names that leave the directory.
  const u = setUp(PURE_V2, { unified: { "memory.high": "1000000" } });
  assert.deepEqual(u.fs.writesIn(u.rec.dirs.unified), ["memory.high=1000000"]);
  assert.throws(() => setUp(PURE_V2, { unified: { "../x.y": "1" } }), /invalid cgroup file name/);
  assert.throws(() => setUp(PURE_V2, { unified: { "nothere.file": "1" } }), /does not exist/);
});

Deno.test("cgroups resources: a shorter v1 period is retried after the quota", () => {
  const fs = new FakeCgroupFs(HYBRID);
  const layout = layoutOf(HYBRID);
  const rec: CgroupRecord = {
    mode: "hybrid",
    dirs: plannedDirs(layout, resolveCgroupsPath("/c", "c", false)),
    created: [],
  };
  createCgroups(fs, layout, rec, { needV2: [] });
  fs.failWrites.set(`${rec.dirs.cpu}/cpu.cfs_period_us`, Errno.EINVAL);
  const view = viewOf(fs, rec);
  assert.throws(
    () =>
      applyResources(view, { cpu: { period: 10000, quota: 5000 } }, {
        k: fakeKernel().kernel,
        warn: () => {},
      }),
    /EINVAL/,
  );
  assert.deepEqual(fs.writesIn(rec.dirs.cpu), ["cpu.cfs_quota_us=5000"]);
});

Deno.test("cgroups devices: rules, v1 lines and the v2 program", () => {
  const rules = deviceRules(
    [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 10, minor: 229, access: "rw" }],
    [{ type: "c", path: "/dev/fuse", major: 10, minor: 229 }, {
      type: "b",
      path: "/dev/sda",
      major: 8,
      minor: 0,
    }],
  )!;
  assert.equal(v1RuleLine(rules[0]), "a");
  assert.equal(v1RuleLine(rules[1]), "c 10:229 rw");
  assert.equal(v1RuleLine(rules[3]), "b 8:0 rwm");
  assert.equal(v1RuleLine({ allow: true, type: "c", major: 136, minor: -1, access: "rwm" }), "c 136:* rwm");
  assert.equal(deviceRules(undefined, []), null);

  const fs = new FakeCgroupFs(HYBRID);
  const layout = layoutOf(HYBRID);
  const rec: CgroupRecord = {
    mode: "hybrid",
    dirs: plannedDirs(layout, resolveCgroupsPath("/d", "d", false)),
    created: [],
  };
  createCgroups(fs, layout, rec, { needV2: [] });
  applyResources(viewOf(fs, rec), {}, { k: fakeKernel().kernel, warn: () => {}, devices: rules });
  const lines = fs.writesIn(rec.dirs.devices);
  assert.equal(lines[0], "devices.deny=a");
  assert.equal(lines[1], "devices.allow=c 10:229 rw");
  assert.ok(lines.includes("devices.allow=c 1:3 rwm"));

  // v2: one program, loaded and attached to the container's directory.
  const v2fs = new FakeCgroupFs(PURE_V2);
  const l2 = layoutOf(PURE_V2);
  const rec2: CgroupRecord = {
    mode: "v2",
    dirs: plannedDirs(l2, resolveCgroupsPath("/d", "d", false)),
    created: [],
  };
  createCgroups(v2fs, l2, rec2, { needV2: [] });
  const fk = fakeKernel({ bpfLoadDeviceFilter: 55 });
  applyResources(viewOf(v2fs, rec2), {}, { k: fk.kernel, warn: () => {}, devices: rules });
  assert.deepEqual(fk.names(), ["bpfLoadDeviceFilter", "bpfAttachDeviceFilter", "close"]);
  assert.equal(fk.calls[1].args[0], 55);
  assert.equal(fk.calls[2].args[0], 55);
});

/** Runs a device filter the way the kernel would, for one access. */
function runFilter(prog: BpfInsn[], type: number, access: number, major: number, minor: number): number {
  const r = new Array<number>(11).fill(0);
  const ctx = [(access << 16) | type, major, minor];
  for (let pc = 0; pc < prog.length; pc++) {
    const i = prog[pc];
    switch (i.code) {
      case BPF_OP.LDX_W:
        assert.equal(i.src, 1);
        r[i.dst] = ctx[i.off / 4];
        break;
      case BPF_OP.AND32_K:
        r[i.dst] = (r[i.dst] & i.imm) >>> 0;
        break;
      case BPF_OP.RSH32_K:
        r[i.dst] = r[i.dst] >>> i.imm;
        break;
      case BPF_OP.MOV32_X:
        r[i.dst] = r[i.src];
        break;
      case BPF_OP.MOV64_K:
        r[i.dst] = i.imm;
        break;
      case BPF_OP.JEQ_K:
        if (r[i.dst] === i.imm) pc += i.off;
        break;
      case BPF_OP.JNE_K:
        if (r[i.dst] !== i.imm) pc += i.off;
        break;
      case BPF_OP.EXIT:
        return r[0];
      default:
        throw new Error(`opcode 0x${i.code.toString(16)}`);
    }
  }
  throw new Error("fell off the end");
}

Deno.test("cgroups devices: the eBPF filter decides as the rules do", () => {
  const lists: DeviceRule[][] = [
    deviceRules([{ allow: false, access: "rwm" }], [])!,
    deviceRules([{ allow: true, access: "rwm" }, { allow: false, type: "c", major: 4, access: "w" }], [])!,
    deviceRules(
      [{ allow: false, access: "rwm" }, { allow: true, type: "b", major: 8, access: "r" }, {
        allow: false,
        type: "b",
        major: 8,
        minor: 1,
        access: "rwm",
      }],
      [],
    )!,
  ];
  const accesses = ["r", "w", "m", "rw", "rwm"];
  for (const rules of lists) {
    const prog = deviceFilter(rules);
    for (const [type, t] of [["c", BPF_DEVCG.DEV_CHAR], ["b", BPF_DEVCG.DEV_BLOCK]] as const) {
      for (
        const [major, minor] of [[1, 3], [1, 5], [1, 7], [4, 1], [5, 2], [136, 4], [8, 0], [8, 1], [10, 200]]
      ) {
        for (const a of accesses) {
          let bits = 0;
          if (a.includes("m")) bits |= BPF_DEVCG.ACC_MKNOD;
          if (a.includes("r")) bits |= BPF_DEVCG.ACC_READ;
          if (a.includes("w")) bits |= BPF_DEVCG.ACC_WRITE;
          const want = allows(rules, type, major, minor, a) ? 1 : 0;
          assert.equal(runFilter(prog, t, bits, major, minor), want, `${type} ${major}:${minor} ${a}`);
        }
      }
    }
  }
  const denyAll = lists[0];
  assert.equal(allows(denyAll, "c", 1, 3, "rw"), true); // /dev/null: a default device
  assert.equal(allows(denyAll, "c", 1, 7, "r"), true);
  assert.equal(allows(denyAll, "b", 8, 0, "r"), false);
  assert.equal(allows(denyAll, "b", 8, 0, "m"), true); // mknod of anything
  assert.equal(allows(lists[1], "c", 4, 1, "r"), true);
  assert.equal(allows(lists[1], "c", 4, 1, "rw"), false);
  assert.equal(allows(lists[2], "b", 8, 0, "r"), true);
  assert.equal(allows(lists[2], "b", 8, 1, "r"), false);
});

Deno.test("cgroups freezer: v1 state and v2 cgroup.freeze", () => {
  for (const hs of [HYBRID, PURE_V2]) {
    const { fs, rec } = setUp(hs, {});
    const view = viewOf(fs, rec);
    assert.equal(isFrozen(view), false);
    setFrozen(view, true);
    assert.equal(isFrozen(view), true);
    setFrozen(view, false);
    assert.equal(isFrozen(view), false);
  }
  // A freeze that never settles is undone and reported.
  const { fs, rec } = setUp(HYBRID, {});
  const view = viewOf(fs, rec);
  const dir = view.v1.get("freezer")!;
  const stuck = { ...dir, read: (f: string) => (f === "freezer.state" ? "FREEZING" : dir.read(f)) };
  view.v1.set("freezer", stuck);
  assert.throws(() => setFrozen(view, true, 30), /did not complete/);
  assert.equal(fs.value(rec.dirs.freezer, "freezer.state"), "THAWED");
});

Deno.test("cgroups stats: v1 and v2 files in runc's shape", () => {
  const v1 = setUp(HYBRID, { pids: { limit: 40 } });
  const s1 = readStats(viewOf(v1.fs, v1.rec));
  assert.equal(s1.cpu.usage.total, 123456789);
  assert.deepEqual(s1.cpu.usage.percpu, [100, 200]);
  assert.equal(s1.cpu.usage.user, 5e7);
  assert.equal(s1.cpu.throttling.throttled_periods, 4);
  assert.equal(s1.memory.usage.usage, 1048576);
  assert.equal(s1.memory.usage.limit, 9223372036854771712n); // exact, beyond 2^53
  assert.equal(s1.memory.cache, 4096);
  assert.equal(s1.memory.oom_kill, 0);
  assert.deepEqual(s1.pids, { current: 3, limit: 40 });
  const v2 = setUp(PURE_V2, { memory: { limit: 1 << 20 } });
  const s2 = readStats(viewOf(v2.fs, v2.rec));
  assert.equal(s2.cpu.usage.total, 2_000_000);
  assert.equal(s2.memory.usage.usage, 4096);
  assert.equal(s2.memory.usage.limit, 1 << 20);
  assert.equal(s2.memory.usage.failcnt, 2);
  assert.equal(s2.memory.oom_kill, 1);
  assert.deepEqual(s2.pids, { current: 1, limit: 0 });
});

Deno.test("cgroups manager: removal takes only what runts made", () => {
  const fs = new FakeCgroupFs(HYBRID);
  fs.mkdir("/sys/fs/cgroup/memory/shared");
  const layout = layoutOf(HYBRID);
  const rec: CgroupRecord = {
    mode: "hybrid",
    dirs: plannedDirs(layout, resolveCgroupsPath("/shared/c1", "c1", false)),
    created: [],
  };
  createCgroups(fs, layout, rec, { needV2: [] });
  assert.ok(!rec.created.includes("/sys/fs/cgroup/memory/shared"));
  assert.ok(rec.created.includes("/sys/fs/cgroup/pids/shared"));
  // A second container under the same parent keeps it alive.
  fs.mkdir("/sys/fs/cgroup/pids/shared/c2");
  // The container made a cgroup of its own inside.
  fs.mkdir(`${rec.dirs.cpu}/inner`);
  const k = fakeKernel().kernel;
  destroyCgroups(k, fs, rec);
  for (const d of Object.values(rec.dirs)) assert.equal(fs.exists(d), false, d);
  assert.equal(fs.exists("/sys/fs/cgroup/memory/shared"), true); // not ours
  assert.equal(fs.exists("/sys/fs/cgroup/pids/shared"), true); // still used by c2
  assert.equal(fs.exists("/sys/fs/cgroup/cpu/shared"), false); // ours and empty
  // A cgroup whose tasks never leave makes removal fail loudly, after retries.
  const r2: CgroupRecord = {
    mode: "hybrid",
    dirs: plannedDirs(layout, resolveCgroupsPath("/busy", "b", false)),
    created: [],
  };
  createCgroups(fs, layout, r2, { needV2: [] });
  fs.busy.add(r2.dirs.pids);
  assert.throws(() => destroyCgroups(k, fs, r2), /pids\/busy: unlinkat .*EBUSY/);
});

Deno.test("cgroups setUpCgroups: a failed apply leaves nothing behind", () => {
  const fs = new FakeCgroupFs(HYBRID);
  const layout = layoutOf(HYBRID);
  fs.failWrites.set("/sys/fs/cgroup/memory/bad/memory.limit_in_bytes", Errno.EINVAL);
  const spec = { ociVersion: "1.2.0", linux: { resources: { memory: { limit: 1 } } } } as Spec;
  let recorded: CgroupRecord | undefined;
  assert.throws(
    () =>
      setUpCgroups(fakeKernel({ getuid: 0 }).kernel, spec, "bad", {
        systemd: false,
        warn: () => {},
        layout,
        fs,
        record: (r) => (recorded = r),
      }),
    /setting up cgroups: writing "1" to memory.limit_in_bytes .*EINVAL/,
  );
  assert.ok(recorded);
  for (const d of Object.values(recorded.dirs)) assert.equal(fs.exists(d), false, d);
});

Deno.test("cgroups setup: one record before the first mkdir counts every directory it makes, one after", () => {
  const fs = new FakeCgroupFs(HYBRID);
  const spec = { ociVersion: "1.2.0", linux: { cgroupsPath: "/pod/c1" } } as Spec;
  const records: CgroupRecord[] = [];
  const rec = setUpCgroups(fakeKernel({ getuid: 0 }).kernel, spec, "c1", {
    systemd: false,
    warn: () => {},
    layout: layoutOf(HYBRID),
    fs,
    record: (r) => records.push(structuredClone(r)),
  })!;
  assert.equal(records.length, 2, "not one save per hierarchy");
  const [planned, made] = records;
  assert.deepEqual(new Set(planned.created), new Set(rec.created));
  assert.deepEqual(made, rec);
  for (const d of rec.created) assert.ok(fs.exists(d), d);
  assert.ok(rec.created.some((d) => d.endsWith("/pod")) && rec.created.some((d) => d.endsWith("/pod/c1")));
});

Deno.test("cgroups update: flags, merging and the sections written", () => {
  assert.equal(parseBytes("512m"), 512 << 20);
  assert.equal(parseBytes("1.5g"), 1.5 * 1024 ** 3);
  assert.equal(parseBytes("2GiB"), 2 * 1024 ** 3);
  assert.equal(parseBytes("-1"), -1);
  assert.equal(parseBytes("100"), 100);
  assert.throws(() => parseBytes("12q"), /invalid size/);
  const base: LinuxResources = {
    memory: { limit: 100, swap: 200 },
    cpu: { quota: 1000, period: 10000 },
    pids: { limit: 5 },
  };
  const update: LinuxResources = { memory: { limit: 150 }, devices: [{ allow: false }] };
  const merged = mergeResources(base, update);
  assert.deepEqual(merged.memory, { limit: 150, swap: 200 });
  assert.deepEqual(merged.cpu, base.cpu);
  assert.deepEqual(sectionsToApply(merged, update), {
    memory: { limit: 150, swap: 200 },
    devices: [{ allow: false }],
  });
});
