/**
 * An in-memory model of cgroupfs for unit tests: v1 hierarchies (one per controller group) and a unified
 * hierarchy with cgroup.subtree_control delegation. A new directory gets the interface files of its
 * hierarchy's controllers (on v2: of those its parent enabled); writes are recorded in order and given
 * the few semantics the code relies on (freezing, enabling controllers, rmdir refusing busy cgroups).
 */
import { Errno, SyscallError } from "../../ffi/mod.ts";
import type { CgroupDir, CgroupFs } from "../../src/cgroups/fs.ts";
import { CgroupWriteError } from "../../src/cgroups/fs.ts";

/** One hierarchy of the model. */
export interface FakeHierarchy {
  mountpoint: string;
  version: 1 | 2;
  /** v1: bound controllers; v2: controllers the root offers. */
  controllers: string[];
}

interface Node {
  files: Map<string, string>;
  h: FakeHierarchy;
}

/** One recorded write. */
export interface FakeWrite {
  path: string;
  value: string;
}

const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.limit_in_bytes": "9223372036854771712",
    "memory.memsw.limit_in_bytes": "9223372036854771712",
    "memory.soft_limit_in_bytes": "9223372036854771712",
    "memory.usage_in_bytes": "1048576",
    "memory.max_usage_in_bytes": "2097152",
    "memory.failcnt": "0",
    "memory.swappiness": "60",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0",
    "memory.stat": "cache 4096\nrss 8192",
    "memory.kmem.tcp.limit_in_bytes": "9223372036854771712",
  },
  cpu: {
    "cpu.shares": "1024",
    "cpu.cfs_period_us": "100000",
    "cpu.cfs_quota_us": "-1",
    "cpu.cfs_burst_us": "0",
    "cpu.rt_period_us": "1000000",
    "cpu.rt_runtime_us": "0",
    "cpu.idle": "0",
    "cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 5000",
  },
  cpuacct: {
    "cpuacct.usage": "123456789",
    "cpuacct.usage_percpu": "100 200",
    "cpuacct.stat": "user 5\nsystem 2",
  },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  pids: { "pids.max": "max", "pids.current": "3", "pids.events": "max 0" },
  freezer: { "freezer.state": "THAWED" },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm" },
  blkio: {
    "blkio.bfq.weight": "100",
    "blkio.bfq.weight_device": "",
    "blkio.throttle.read_bps_device": "",
    "blkio.throttle.write_bps_device": "",
    "blkio.throttle.read_iops_device": "",
    "blkio.throttle.write_iops_device": "",
  },
  hugetlb: { "hugetlb.2MB.limit_in_bytes": "9223372036854771712" },
  net_cls: { "net_cls.classid": "0" },
  net_prio: { "net_prio.ifpriomap": "" },
};

const V2_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.max": "max",
    "memory.high": "max",
    "memory.low": "0",
    "memory.swap.max": "max",
    "memory.current": "4096",
    "memory.peak": "8192",
    "memory.events": "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1",
    "memory.stat": "anon 4096\nfile 0",
    "memory.swap.current": "0",
  },
  cpu: { "cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0" },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  pids: { "pids.max": "max", "pids.current": "1" },
  io: { "io.weight": "default 100", "io.max": "" },
  hugetlb: { "hugetlb.2MB.max": "max" },
  rdma: { "rdma.max": "" },
};

const CORE_V2: Record<string, string> = {
  "cgroup.procs": "",
  "cgroup.subtree_control": "",
  "cgroup.freeze": "0",
  "cgroup.events": "populated 0\nfrozen 0",
  "cgroup.kill": "",
  "cpu.stat":
    "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0",
};

const err = (call: string, path: string, errno: number) => new SyscallError(call, path, errno);

/** The model. */
export class FakeCgroupFs implements CgroupFs {
  readonly nodes = new Map<string, Node>();
  readonly writes: FakeWrite[] = [];
  /** Writes to fail: path → errno. */
  readonly failWrites = new Map<string, number>();
  /** Parents in which mkdir fails (a cgroup not delegated to the caller): path → errno. */
  readonly failMkdirIn = new Map<string, number>();
  /** Directories that report processes (rmdir → EBUSY) while listed. */
  readonly busy = new Set<string>();

  constructor(readonly hierarchies: FakeHierarchy[]) {
    for (const h of hierarchies) {
      const files = new Map<string, string>(
        h.version === 2
          ? Object.entries({ ...CORE_V2, "cgroup.controllers": h.controllers.join(" ") })
          : [["cgroup.procs", ""], ...this.#v1Files(h, true)],
      );
      this.nodes.set(h.mountpoint, { files, h });
    }
  }

  #v1Files(h: FakeHierarchy, root: boolean): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const c of h.controllers) {
      for (const [f, v] of Object.entries(V1_FILES[c] ?? {})) {
        out.push([f, root && f.startsWith("cpuset.") ? "0-3" : v]);
      }
    }
    return out;
  }

  #node(path: string): Node {
    const n = this.nodes.get(path);
    if (!n) throw err("openat", path, Errno.ENOENT);
    return n;
  }

  /** The value of `file` in `dir` (test assertions). */
  value(dir: string, file: string): string | undefined {
    return this.nodes.get(dir)?.files.get(file);
  }

  /** Sets a file's content (test setup). */
  setValue(dir: string, file: string, value: string): void {
    this.#node(dir).files.set(file, value);
  }

  dir(path: string): CgroupDir {
    // deno-lint-ignore no-this-alias
    const fs = this;
    return {
      where: path,
      read: (file) => fs.nodes.get(path)?.files.get(file) ?? null,
      has: (file) => fs.nodes.get(path)?.files.has(file) ?? false,
      write(file, value) {
        try {
          fs.#write(path, file, value);
        } catch (e) {
          throw new CgroupWriteError(file, value, path, e as Error);
        }
      },
      withFd: (fn) => fn(900 + [...fs.nodes.keys()].indexOf(path)),
      children: () => fs.children(path),
      child: (name) => fs.dir(`${path}/${name}`),
    };
  }

  #write(dir: string, file: string, value: string): void {
    const n = this.#node(dir);
    const path = `${dir}/${file}`;
    if (!n.files.has(file)) throw err("openat", path, Errno.ENOENT);
    const fail = this.failWrites.get(path);
    if (fail !== undefined) throw err("write", path, fail);
    this.writes.push({ path, value });
    if (file === "cgroup.subtree_control") {
      const offered = (n.files.get("cgroup.controllers") ?? "").split(" ").filter(Boolean);
      const enabled = new Set((n.files.get(file) ?? "").split(" ").filter(Boolean));
      for (const tok of value.trim().split(/\s+/)) {
        const c = tok.slice(1);
        if (!offered.includes(c)) throw err("write", path, Errno.ENOENT);
        if (tok.startsWith("+")) enabled.add(c);
        else enabled.delete(c);
      }
      n.files.set(file, [...enabled].join(" "));
      return;
    }
    if (file === "freezer.state") {
      n.files.set(file, value.trim());
      return;
    }
    if (file === "cgroup.freeze") {
      n.files.set(file, value.trim());
      n.files.set("cgroup.events", `populated 0\nfrozen ${value.trim()}`);
      return;
    }
    if (file === "cgroup.kill" || file === "cgroup.procs") {
      n.files.set("cgroup.procs", "");
      return;
    }
    if (
      file === "devices.allow" || file === "devices.deny" || file === "io.max" || file.endsWith("_device")
    ) {
      const old = n.files.get(file) ?? "";
      n.files.set(file, old ? `${old}\n${value}` : value);
      return;
    }
    n.files.set(file, value);
  }

  mkdir(path: string): boolean {
    if (this.nodes.has(path)) return false;
    const parentPath = path.slice(0, path.lastIndexOf("/"));
    const parent = this.nodes.get(parentPath);
    if (!parent) throw err("mkdirat", path, Errno.ENOENT);
    const refused = this.failMkdirIn.get(parentPath);
    if (refused !== undefined) throw err("mkdirat", path, refused);
    const h = parent.h;
    let files: Array<[string, string]>;
    if (h.version === 1) {
      files = [["cgroup.procs", ""], ...this.#v1Files(h, false)];
    } else {
      const enabled = (parent.files.get("cgroup.subtree_control") ?? "").split(" ").filter(Boolean);
      files = Object.entries({ ...CORE_V2, "cgroup.controllers": enabled.join(" ") });
      for (const c of enabled) files.push(...Object.entries(V2_FILES[c] ?? {}));
    }
    this.nodes.set(path, { files: new Map(files), h });
    return true;
  }

  rmdir(path: string): void {
    if (!this.nodes.has(path)) return;
    if (this.children(path).length || this.busy.has(path)) throw err("unlinkat", path, Errno.EBUSY);
    this.nodes.delete(path);
  }

  children(path: string): string[] {
    const out: string[] = [];
    for (const p of this.nodes.keys()) {
      if (p.startsWith(path + "/") && !p.slice(path.length + 1).includes("/")) {
        out.push(p.slice(path.length + 1));
      }
    }
    return out;
  }

  exists(path: string): boolean {
    return this.nodes.has(path);
  }

  /** The writes under `dir`, as "file=value" strings. */
  writesIn(dir: string): string[] {
    return this.writes.filter((w) =>
      w.path.startsWith(dir + "/") && !w.path.slice(dir.length + 1).includes("/")
    )
      .map((w) => `${w.path.slice(dir.length + 1)}=${w.value}`);
  }
}

/** This host's hybrid layout (recorded): separate v1 hierarchies plus an empty unified one. */
export const HYBRID: FakeHierarchy[] = [
  { mountpoint: "/sys/fs/cgroup/systemd", version: 1, controllers: ["name=systemd"] },
  { mountpoint: "/sys/fs/cgroup/pids", version: 1, controllers: ["pids"] },
  { mountpoint: "/sys/fs/cgroup/blkio", version: 1, controllers: ["blkio"] },
  { mountpoint: "/sys/fs/cgroup/freezer", version: 1, controllers: ["freezer"] },
  { mountpoint: "/sys/fs/cgroup/devices", version: 1, controllers: ["devices"] },
  { mountpoint: "/sys/fs/cgroup/memory", version: 1, controllers: ["memory"] },
  { mountpoint: "/sys/fs/cgroup/cpuset", version: 1, controllers: ["cpuset"] },
  { mountpoint: "/sys/fs/cgroup/cpuacct", version: 1, controllers: ["cpuacct"] },
  { mountpoint: "/sys/fs/cgroup/cpu", version: 1, controllers: ["cpu"] },
  { mountpoint: "/sys/fs/cgroup/unified", version: 2, controllers: ["hugetlb"] },
];

/** A pure v2 host (systemd-style). */
export const PURE_V2: FakeHierarchy[] = [
  {
    mountpoint: "/sys/fs/cgroup",
    version: 2,
    controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma"],
  },
];
