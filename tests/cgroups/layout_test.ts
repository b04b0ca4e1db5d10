/**
 * Layout detection and path resolution against recorded /proc/self/mountinfo and /proc/self/cgroup of
 * the three layouts (this hybrid host, a pure v1 host with co-mounted cpu,cpuacct, a systemd v2 host, and
 * a v1 view from inside a container whose mounts are rooted below "/").
 */
import assert from "node:assert/strict";
import { buildLayout, directoryOf, parseMountinfo, parseProcCgroup } from "../../src/cgroups/layout.ts";
import {
  cgroupPathIn,
  cleanPath,
  expandSlice,
  resolveCgroupsPath,
  systemdPath,
} from "../../src/cgroups/path.ts";
import { plannedDirs } from "../../src/cgroups/manager.ts";

/** This VM, recorded. */
const HYBRID_MOUNTINFO = `23 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_CGROUP = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/41e39dd250d788891d3831184ad95d92
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;

/** A Debian 10 style v1 host: cpu,cpuacct and net_cls,net_prio co-mounted, no cgroup2. */
const V1_MOUNTINFO = `25 0 8:1 / / rw - ext4 /dev/sda1 rw
26 25 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
27 26 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,name=systemd
30 26 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
31 26 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
32 26 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,pids
33 26 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,net_cls,net_prio
`;
const V1_CGROUP = `12:pids:/user.slice/user-0.slice/session-1.scope
6:net_cls,net_prio:/
5:memory:/user.slice/user-0.slice/session-1.scope
4:cpu,cpuacct:/user.slice
3:hugetlb:/
1:name=systemd:/user.slice/user-0.slice/session-1.scope
0::/user.slice/user-0.slice/session-1.scope
`;

/** A systemd v2 host. */
const V2_MOUNTINFO = `24 1 8:1 / / rw - ext4 /dev/sda1 rw
28 24 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const V2_CGROUP = "0::/user.slice/user-1000.slice/session-3.scope\n";

/** Inside a docker container on a v1 host: the mounts show the container's cgroup as their root. */
const NESTED_MOUNTINFO = `700 650 0:80 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
701 650 0:81 /docker/abc /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids
`;
const NESTED_CGROUP = "5:memory:/docker/abc\n4:pids:/docker/abc/sub\n0::/\n";

Deno.test("cgroups layout: this hybrid host", () => {
  const l = buildLayout(HYBRID_MOUNTINFO, HYBRID_CGROUP, () => ["hugetlb"]);
  assert.equal(l.mode, "hybrid");
  assert.deepEqual(l.hierarchies.map((h) => h.key), [
    "name=systemd",
    "pids",
    "blkio",
    "freezer",
    "devices",
    "memory",
    "cpuset",
    "cpuacct",
    "cpu",
    "unified",
  ]);
  const unified = l.hierarchies.find((h) => h.version === 2)!;
  assert.equal(unified.mountpoint, "/sys/fs/cgroup/unified");
  assert.deepEqual(unified.controllers, ["hugetlb"]);
  const memory = l.hierarchies.find((h) => h.key === "memory")!;
  assert.equal(memory.own, "/process_api/41e39dd250d788891d3831184ad95d92");
  // Absolute: from the root of every hierarchy; relative: below our own cgroup (memory differs here).
  const abs = plannedDirs(l, resolveCgroupsPath("/libpod_parent/libpod-x", "x", false));
  assert.equal(abs.memory, "/sys/fs/cgroup/memory/libpod_parent/libpod-x");
  assert.equal(abs.unified, "/sys/fs/cgroup/unified/libpod_parent/libpod-x");
  const rel = plannedDirs(l, resolveCgroupsPath("runts/x", "x", false));
  assert.equal(rel.memory, "/sys/fs/cgroup/memory/process_api/41e39dd250d788891d3831184ad95d92/runts/x");
  assert.equal(rel.cpu, "/sys/fs/cgroup/cpu/runts/x");
  assert.equal(
    plannedDirs(l, resolveCgroupsPath(undefined, "c1", false))["name=systemd"],
    "/sys/fs/cgroup/systemd/c1",
  );
});

Deno.test("cgroups layout: pure v1 with co-mounted controllers and an unmounted hierarchy", () => {
  const l = buildLayout(V1_MOUNTINFO, V1_CGROUP, () => {
    throw new Error("no unified hierarchy to ask");
  });
  assert.equal(l.mode, "v1");
  // hugetlb is listed in /proc/self/cgroup but not mounted: unusable, left out.
  assert.deepEqual(l.hierarchies.map((h) => h.key), [
    "pids",
    "net_cls,net_prio",
    "memory",
    "cpu,cpuacct",
    "name=systemd",
  ]);
  const dirs = plannedDirs(l, resolveCgroupsPath("/default/c", "c", false));
  assert.equal(dirs["cpu,cpuacct"], "/sys/fs/cgroup/cpu,cpuacct/default/c");
  const rel = plannedDirs(l, resolveCgroupsPath("c", "c", false));
  assert.equal(rel["cpu,cpuacct"], "/sys/fs/cgroup/cpu,cpuacct/user.slice/c");
  assert.equal(rel.pids, "/sys/fs/cgroup/pids/user.slice/user-0.slice/session-1.scope/c");
});

Deno.test("cgroups layout: pure v2 (systemd) and the systemd path form", () => {
  const l = buildLayout(V2_MOUNTINFO, V2_CGROUP, (mp) => {
    assert.equal(mp, "/sys/fs/cgroup");
    return ["cpuset", "cpu", "io", "memory", "pids"];
  });
  assert.equal(l.mode, "v2");
  assert.equal(l.hierarchies.length, 1);
  const sd = plannedDirs(l, resolveCgroupsPath("machine-libpod.slice:libpod:abc", "abc", true));
  assert.equal(sd.unified, "/sys/fs/cgroup/machine.slice/machine-libpod.slice/libpod-abc.scope");
  assert.equal(
    plannedDirs(l, resolveCgroupsPath(undefined, "abc", true)).unified,
    "/sys/fs/cgroup/system.slice/runts-abc.scope",
  );
});

Deno.test("cgroups layout: a container's view, mounts rooted at its own cgroup", () => {
  const l = buildLayout(NESTED_MOUNTINFO, NESTED_CGROUP, () => []);
  assert.equal(l.mode, "v1");
  const memory = l.hierarchies.find((h) => h.key === "memory")!;
  assert.equal(directoryOf(memory, "/docker/abc"), "/sys/fs/cgroup/memory");
  assert.equal(directoryOf(memory, "/docker/abc/x"), "/sys/fs/cgroup/memory/x");
  const pids = l.hierarchies.find((h) => h.key === "pids")!;
  assert.equal(
    directoryOf(pids, cgroupPathIn(pids, { path: "c", relative: true }, l.mode)),
    "/sys/fs/cgroup/pids/sub/c",
  );
});

Deno.test("cgroups layout: parsing details", () => {
  const m = parseMountinfo("40 31 0:37 / /sys/fs/cg\\040x rw - cgroup cgroup rw,name=systemd\n");
  assert.equal(m[0].mountpoint, "/sys/fs/cg x");
  assert.deepEqual(parseProcCgroup("1:cpu,cpuacct:/a\n0::/b\n"), [
    { id: 1, controllers: ["cpu", "cpuacct"], path: "/a" },
    { id: 0, controllers: [], path: "/b" },
  ]);
  assert.throws(() => buildLayout("", "0::/\n", () => []), /no cgroup filesystem/);
});

Deno.test("cgroups path: cleaning, slices and errors", () => {
  assert.equal(cleanPath("/a//b/../c/./d/"), "/a/c/d");
  assert.equal(cleanPath("/../../x"), "/x");
  assert.equal(expandSlice("-.slice"), "/");
  assert.equal(expandSlice("a-b-c.slice"), "/a.slice/a-b.slice/a-b-c.slice");
  assert.throws(() => expandSlice("a--b.slice"), /invalid slice/);
  assert.throws(() => expandSlice("a.scope"), /invalid slice/);
  assert.equal(systemdPath("system.slice::x", "x"), "/system.slice/x.scope");
  assert.equal(systemdPath("-.slice:p:x", "x"), "/p-x.scope");
  assert.throws(() => systemdPath("/a/b", "x"), /slice:prefix:name/);
  assert.throws(() => resolveCgroupsPath("/", "x", false), /root cgroup/);
  assert.deepEqual(resolveCgroupsPath("a/../b", "x", false), { path: "b", relative: true });
});

/** This VM with the caller moved into /test-xyz of every hierarchy (as the host test below does). */
const HYBRID_NESTED_CGROUP = HYBRID_CGROUP.replace(/:\/.*$/gm, ":/test-xyz");

/** A v2 container's view (cgroup namespace-less): the mount shows the container's cgroup as its root. */
const V2_VIEW_MOUNTINFO = "900 850 0:90 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
const V2_VIEW_CGROUP = "0::/docker/abc\n";

// Measured with runc 1.1.5 on this host (`runc run` of a `runc spec` bundle from inside /test-xyz, read
// from the host's /proc/<pid>/cgroup): v1 hierarchies /test-xyz/ID, the hybrid unified hierarchy /ID;
// and in a private pure-v2 view from inside /test-xyz/inner: /test-xyz/ID (runc's fs2 takes the parent).
Deno.test("cgroups path: an empty cgroupsPath goes where runc puts it on v1, v2 and hybrid", () => {
  const empty = (mi: string, cg: string, controllers: string[] = []) =>
    plannedDirs(buildLayout(mi, cg, () => controllers), resolveCgroupsPath(undefined, "c1", false));
  const hybrid = empty(HYBRID_MOUNTINFO, HYBRID_NESTED_CGROUP);
  for (
    const key of ["name=systemd", "pids", "blkio", "freezer", "devices", "memory", "cpuset", "cpuacct", "cpu"]
  ) {
    const mp = key === "name=systemd" ? "systemd" : key;
    assert.equal(hybrid[key], `/sys/fs/cgroup/${mp}/test-xyz/c1`, key);
  }
  assert.equal(hybrid.unified, "/sys/fs/cgroup/unified/c1");
  // This host's own shell: only memory is below the root.
  assert.equal(
    empty(HYBRID_MOUNTINFO, HYBRID_CGROUP).memory,
    "/sys/fs/cgroup/memory/process_api/41e39dd250d788891d3831184ad95d92/c1",
  );
  const v1 = empty(V1_MOUNTINFO, V1_CGROUP);
  assert.equal(v1.memory, "/sys/fs/cgroup/memory/user.slice/user-0.slice/session-1.scope/c1");
  assert.equal(v1["cpu,cpuacct"], "/sys/fs/cgroup/cpu,cpuacct/user.slice/c1");
  assert.equal(v1["name=systemd"], "/sys/fs/cgroup/systemd/user.slice/user-0.slice/session-1.scope/c1");
  assert.equal(empty(V2_MOUNTINFO, V2_CGROUP).unified, "/sys/fs/cgroup/user.slice/user-1000.slice/c1");
  assert.equal(empty(V2_MOUNTINFO, "0::/\n").unified, "/sys/fs/cgroup/c1");
  // The parent of our cgroup is outside what this view's mount shows: the mount's root it is.
  assert.equal(empty(V2_VIEW_MOUNTINFO, V2_VIEW_CGROUP).unified, "/sys/fs/cgroup/c1");
  // A relative cgroupsPath follows the same rule; an absolute one is from the root everywhere.
  const rel = plannedDirs(
    buildLayout(V2_MOUNTINFO, V2_CGROUP, () => []),
    resolveCgroupsPath("a/b", "x", false),
  );
  assert.equal(rel.unified, "/sys/fs/cgroup/user.slice/user-1000.slice/a/b");
  assert.equal(
    plannedDirs(
      buildLayout(HYBRID_MOUNTINFO, HYBRID_NESTED_CGROUP, () => []),
      resolveCgroupsPath("/p/c", "c", false),
    )
      .memory,
    "/sys/fs/cgroup/memory/p/c",
  );
  assert.deepEqual(resolveCgroupsPath(undefined, "c1", false), { path: "c1", relative: true });
});
