/**
 * `linux.resources` → cgroup file writes, on v1 or v2 directories (runc's semantics: 0 leaves a value
 * alone, -1 means unlimited). A resource whose controller no hierarchy offers is reported through
 * `warn` and skipped; a value the kernel refuses is an error naming the file and the value.
 */
import { Errno, isErrno, type Kernel } from "../../ffi/mod.ts";
import type {
  LinuxBlockIO,
  LinuxCPU,
  LinuxMemory,
  LinuxResources,
  LinuxThrottleDevice,
  LinuxWeightDevice,
} from "../specutils/spec.ts";
import type { CgroupDir } from "./fs.ts";
import { CgroupWriteError } from "./fs.ts";
import { type CgroupView, controllerDir, unifiedControllers } from "./view.ts";
import { deviceFilter, type DeviceRule, v1RuleLine } from "./devices.ts";

/** What applying resources needs besides the view. */
export interface ApplyContext {
  k: Kernel;
  /** Receives "not enforced" notices. */
  warn(msg: string): void;
  /** The device rules to enforce (deviceRules()), or null to leave device access alone. */
  devices?: DeviceRule[] | null;
}

/** A value for a v1 file: -1 stays -1. */
function v1Num(n: number): string {
  return String(Math.trunc(n));
}

/** A value for a v2 file: -1 (or less) is "max". */
function v2Num(n: number): string {
  return n < 0 ? "max" : String(Math.trunc(n));
}

/** runc's cpu.shares (2..262144) → cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** blkio weight (10..1000) → io.weight (1..10000). */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** The OCI memory+swap limit as memory.swap.max (swap only), or null to leave it alone. */
export function swapToV2(swap: number | undefined, limit: number | undefined): string | null {
  if (limit === -1 && (swap === undefined || swap === 0)) return "max";
  if (swap === undefined || swap === 0) return null;
  if (swap === -1) return "max";
  if (limit === undefined || limit === 0 || limit === -1) {
    throw new Error("unable to set swap limit without memory limit");
  }
  if (swap < limit) throw new Error("memory+swap limit should be >= memory limit");
  return String(swap - limit);
}

const set = (n: number | undefined): n is number => n !== undefined && n !== 0;

function notEnforced(ctx: ApplyContext, what: string, controller: string): void {
  ctx.warn(`${what} is not enforced: no ${controller} controller in this cgroup layout`);
}

function applyCpuset(ctx: ApplyContext, view: CgroupView, offered: Set<string>, cpu: LinuxCPU): void {
  if (!cpu.cpus && !cpu.mems) return;
  const d = controllerDir(view, "cpuset", offered);
  if (!d) return notEnforced(ctx, "cpu.cpus/mems", "cpuset");
  if (cpu.cpus) d.dir.write("cpuset.cpus", cpu.cpus);
  if (cpu.mems) d.dir.write("cpuset.mems", cpu.mems);
}

function applyCpu(ctx: ApplyContext, view: CgroupView, offered: Set<string>, cpu: LinuxCPU): void {
  const wants = set(cpu.shares) || set(cpu.quota) || set(cpu.period) || cpu.burst !== undefined ||
    set(cpu.realtimePeriod) || set(cpu.realtimeRuntime) || cpu.idle !== undefined;
  if (!wants) return;
  const d = controllerDir(view, "cpu", offered);
  if (!d) return notEnforced(ctx, "cpu shares/quota", "cpu");
  const dir = d.dir;
  if (d.version === 1) {
    if (set(cpu.shares)) dir.write("cpu.shares", v1Num(cpu.shares));
    if (set(cpu.period)) {
      try {
        dir.write("cpu.cfs_period_us", v1Num(cpu.period));
      } catch (e) {
        // A shorter period can be refused while the old quota is larger: quota first, then retry.
        if (!(e instanceof CgroupWriteError && isErrno(e.cause, Errno.EINVAL) && set(cpu.quota))) throw e;
        dir.write("cpu.cfs_quota_us", v1Num(cpu.quota));
        dir.write("cpu.cfs_period_us", v1Num(cpu.period));
      }
    }
    if (set(cpu.quota)) dir.write("cpu.cfs_quota_us", v1Num(cpu.quota));
    if (cpu.burst !== undefined) writeIfPresent(ctx, dir, "cpu.cfs_burst_us", v1Num(cpu.burst), "cpu.burst");
    if (set(cpu.realtimePeriod)) dir.write("cpu.rt_period_us", v1Num(cpu.realtimePeriod));
    if (set(cpu.realtimeRuntime)) dir.write("cpu.rt_runtime_us", v1Num(cpu.realtimeRuntime));
    if (cpu.idle !== undefined) writeIfPresent(ctx, dir, "cpu.idle", v1Num(cpu.idle), "cpu.idle");
    return;
  }
  if (set(cpu.realtimePeriod) || set(cpu.realtimeRuntime)) {
    throw new Error("cpu realtime period/runtime are not supported on cgroup v2");
  }
  if (set(cpu.shares)) dir.write("cpu.weight", String(sharesToWeight(cpu.shares)));
  if (set(cpu.quota) || set(cpu.period)) {
    let value = set(cpu.quota) && cpu.quota > 0 ? String(cpu.quota) : "max";
    if (set(cpu.period)) value += ` ${cpu.period}`;
    dir.write("cpu.max", value);
  }
  if (cpu.burst !== undefined) writeIfPresent(ctx, dir, "cpu.max.burst", v1Num(cpu.burst), "cpu.burst");
  if (cpu.idle !== undefined) writeIfPresent(ctx, dir, "cpu.idle", v1Num(cpu.idle), "cpu.idle");
}

function writeIfPresent(ctx: ApplyContext, dir: CgroupDir, file: string, value: string, what: string): void {
  if (dir.has(file)) dir.write(file, value);
  else ctx.warn(`${what} is not enforced: ${file} does not exist in ${dir.where}`);
}

function applyMemoryV1(ctx: ApplyContext, dir: CgroupDir, m: LinuxMemory): void {
  let swap = m.swap;
  const limit = m.limit;
  const memsw = dir.has("memory.memsw.limit_in_bytes");
  if (limit === -1 && !set(swap) && memsw) swap = -1;
  const setLimit = () => {
    if (set(limit)) dir.write("memory.limit_in_bytes", v1Num(limit));
  };
  const setSwap = () => {
    if (!set(swap)) return;
    if (memsw) dir.write("memory.memsw.limit_in_bytes", v1Num(swap));
    else ctx.warn("memory.swap is not enforced: the kernel does not account swap (memory.memsw.*)");
  };
  // memsw must stay >= the memory limit at every step: raise it first when it grows.
  const current = Number((dir.read("memory.limit_in_bytes") ?? "0").trim());
  if (set(limit) && set(swap) && (swap === -1 || current < swap)) {
    setSwap();
    setLimit();
  } else {
    setLimit();
    setSwap();
  }
  if (set(m.reservation)) dir.write("memory.soft_limit_in_bytes", v1Num(m.reservation));
  if (set(m.kernel)) ctx.warn("memory.kernel is ignored: kernel memory limits are deprecated");
  if (set(m.kernelTCP)) {
    writeIfPresent(ctx, dir, "memory.kmem.tcp.limit_in_bytes", v1Num(m.kernelTCP), "memory.kernelTCP");
  }
  if (m.swappiness !== undefined && m.swappiness >= 0) {
    if (m.swappiness > 100) throw new Error(`invalid memory swappiness ${m.swappiness}: must be 0..100`);
    dir.write("memory.swappiness", String(m.swappiness));
  }
  if (m.disableOOMKiller) dir.write("memory.oom_control", "1");
}

function applyMemoryV2(ctx: ApplyContext, dir: CgroupDir, m: LinuxMemory): void {
  const swap = swapToV2(m.swap, m.limit);
  if (m.checkBeforeUpdate && set(m.limit) && m.limit > 0) {
    const usage = Number((dir.read("memory.current") ?? "0").trim());
    if (usage > m.limit) {
      throw new Error(`memory limit ${m.limit} is below the current usage ${usage} (checkBeforeUpdate)`);
    }
  }
  if (swap !== null) writeIfPresent(ctx, dir, "memory.swap.max", swap, "memory.swap");
  if (set(m.limit)) dir.write("memory.max", v2Num(m.limit));
  if (set(m.reservation)) dir.write("memory.low", v2Num(m.reservation));
  if (set(m.kernel) || set(m.kernelTCP)) ctx.warn("memory.kernel/kernelTCP are ignored on cgroup v2");
  if (m.swappiness !== undefined && m.swappiness >= 0) {
    ctx.warn("memory.swappiness is not supported on cgroup v2");
  }
  if (m.disableOOMKiller) ctx.warn("memory.disableOOMKiller is not supported on cgroup v2");
}

function applyMemory(ctx: ApplyContext, view: CgroupView, offered: Set<string>, m: LinuxMemory): void {
  const wants = set(m.limit) || set(m.swap) || set(m.reservation) || set(m.kernel) || set(m.kernelTCP) ||
    (m.swappiness !== undefined && m.swappiness >= 0) || m.disableOOMKiller === true;
  if (!wants) return;
  const d = controllerDir(view, "memory", offered);
  if (!d) return notEnforced(ctx, "memory limits", "memory");
  if (d.version === 1) applyMemoryV1(ctx, d.dir, m);
  else applyMemoryV2(ctx, d.dir, m);
}

function dev(d: { major: number; minor: number }): string {
  return `${d.major}:${d.minor}`;
}

function applyBlkioV1(ctx: ApplyContext, dir: CgroupDir, b: LinuxBlockIO): void {
  const weightFile = dir.has("blkio.weight")
    ? "blkio.weight"
    : dir.has("blkio.bfq.weight")
    ? "blkio.bfq.weight"
    : null;
  const deviceFile = weightFile === "blkio.bfq.weight" ? "blkio.bfq.weight_device" : "blkio.weight_device";
  if (set(b.weight)) {
    if (weightFile) dir.write(weightFile, String(b.weight));
    else ctx.warn("blockIO.weight is not enforced: no blkio weight file (no CFQ/BFQ scheduler)");
  }
  if (set(b.leafWeight)) {
    writeIfPresent(ctx, dir, "blkio.leaf_weight", String(b.leafWeight), "blockIO.leafWeight");
  }
  for (const wd of b.weightDevice ?? []) {
    if (set(wd.weight)) {
      writeIfPresent(ctx, dir, deviceFile, `${dev(wd)} ${wd.weight}`, "blockIO.weightDevice");
    }
    if (set(wd.leafWeight)) {
      writeIfPresent(
        ctx,
        dir,
        "blkio.leaf_weight_device",
        `${dev(wd)} ${wd.leafWeight}`,
        "blockIO.weightDevice",
      );
    }
  }
  const throttle = (list: LinuxThrottleDevice[] | undefined, file: string) => {
    for (const t of list ?? []) dir.write(file, `${dev(t)} ${Math.trunc(t.rate)}`);
  };
  throttle(b.throttleReadBpsDevice, "blkio.throttle.read_bps_device");
  throttle(b.throttleWriteBpsDevice, "blkio.throttle.write_bps_device");
  throttle(b.throttleReadIOPSDevice, "blkio.throttle.read_iops_device");
  throttle(b.throttleWriteIOPSDevice, "blkio.throttle.write_iops_device");
}

function applyIoV2(ctx: ApplyContext, dir: CgroupDir, b: LinuxBlockIO): void {
  const bfq = dir.has("io.bfq.weight");
  const weight = (w: number) => String(bfq ? w : blkioToIoWeight(w));
  const file = bfq ? "io.bfq.weight" : "io.weight";
  if (set(b.weight)) writeIfPresent(ctx, dir, file, weight(b.weight), "blockIO.weight");
  if (set(b.leafWeight)) ctx.warn("blockIO.leafWeight is not supported on cgroup v2");
  for (const wd of (b.weightDevice ?? []) as LinuxWeightDevice[]) {
    if (set(wd.weight)) {
      writeIfPresent(ctx, dir, file, `${dev(wd)} ${weight(wd.weight)}`, "blockIO.weightDevice");
    }
  }
  const throttle = (list: LinuxThrottleDevice[] | undefined, key: string) => {
    for (const t of list ?? []) {
      dir.write("io.max", `${dev(t)} ${key}=${t.rate > 0 ? Math.trunc(t.rate) : "max"}`);
    }
  };
  throttle(b.throttleReadBpsDevice, "rbps");
  throttle(b.throttleWriteBpsDevice, "wbps");
  throttle(b.throttleReadIOPSDevice, "riops");
  throttle(b.throttleWriteIOPSDevice, "wiops");
}

function applyBlockIO(ctx: ApplyContext, view: CgroupView, offered: Set<string>, b: LinuxBlockIO): void {
  const wants = set(b.weight) || set(b.leafWeight) || (b.weightDevice?.length ?? 0) > 0 ||
    [b.throttleReadBpsDevice, b.throttleWriteBpsDevice, b.throttleReadIOPSDevice, b.throttleWriteIOPSDevice]
      .some((l) => (l?.length ?? 0) > 0);
  if (!wants) return;
  const d = controllerDir(view, "blkio", offered);
  if (!d) return notEnforced(ctx, "blockIO", "blkio/io");
  if (d.version === 1) applyBlkioV1(ctx, d.dir, b);
  else applyIoV2(ctx, d.dir, b);
}

function applyDevices(ctx: ApplyContext, view: CgroupView, rules: DeviceRule[]): void {
  const d1 = view.v1.get("devices");
  if (d1) {
    for (const r of rules) d1.write(r.allow ? "devices.allow" : "devices.deny", v1RuleLine(r));
    return;
  }
  if (!view.unified) return notEnforced(ctx, "linux.resources.devices", "devices");
  const prog = deviceFilter(rules);
  view.unified.withFd((cgroupFd) => {
    const progFd = ctx.k.bpfLoadDeviceFilter(prog);
    try {
      ctx.k.bpfAttachDeviceFilter(progFd, cgroupFd);
    } finally {
      ctx.k.close(progFd);
    }
  });
}

/** Checks a `unified` key: a file name like "memory.high", nothing that leaves the directory. */
function checkUnifiedKey(key: string): void {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+$/.test(key) || key.includes("..")) {
    throw new Error(`unified: invalid cgroup file name ${JSON.stringify(key)}`);
  }
}

/** The v2 controllers resources need (the ones a parent must enable in cgroup.subtree_control). */
export function v2ControllersFor(r: LinuxResources): string[] {
  const out = new Set<string>();
  const cpu = r.cpu;
  if (
    cpu &&
    (set(cpu.shares) || set(cpu.quota) || set(cpu.period) || cpu.burst !== undefined ||
      cpu.idle !== undefined)
  ) {
    out.add("cpu");
  }
  if (cpu?.cpus || cpu?.mems) out.add("cpuset");
  const m = r.memory;
  if (m && (set(m.limit) || set(m.swap) || set(m.reservation))) out.add("memory");
  if (r.pids && set(r.pids.limit)) out.add("pids");
  const b = r.blockIO;
  if (
    b && (set(b.weight) || (b.weightDevice?.length ?? 0) > 0 || (b.throttleReadBpsDevice?.length ?? 0) > 0 ||
      (b.throttleWriteBpsDevice?.length ?? 0) > 0 || (b.throttleReadIOPSDevice?.length ?? 0) > 0 ||
      (b.throttleWriteIOPSDevice?.length ?? 0) > 0)
  ) {
    out.add("io");
  }
  if ((r.hugepageLimits?.length ?? 0) > 0) out.add("hugetlb");
  if (Object.keys(r.rdma ?? {}).length > 0) out.add("rdma");
  for (const key of Object.keys(r.unified ?? {})) {
    const prefix = key.split(".")[0];
    if (prefix !== "cgroup") out.add(prefix);
  }
  return [...out];
}

/** Writes `r` into the container's cgroups. */
export function applyResources(view: CgroupView, r: LinuxResources, ctx: ApplyContext): void {
  const offered = unifiedControllers(view);
  if (r.cpu) {
    applyCpuset(ctx, view, offered, r.cpu);
    applyCpu(ctx, view, offered, r.cpu);
  }
  if (r.memory) applyMemory(ctx, view, offered, r.memory);
  if (r.pids && set(r.pids.limit)) {
    const d = controllerDir(view, "pids", offered);
    if (!d) notEnforced(ctx, "pids.limit", "pids");
    else d.dir.write("pids.max", v2Num(r.pids.limit)); // "max" for -1 on both versions
  }
  if (r.blockIO) applyBlockIO(ctx, view, offered, r.blockIO);
  for (const h of r.hugepageLimits ?? []) {
    const d = controllerDir(view, "hugetlb", offered);
    if (!d) {
      notEnforced(ctx, `hugepageLimits ${h.pageSize}`, "hugetlb");
      continue;
    }
    const file = d.version === 1 ? `hugetlb.${h.pageSize}.limit_in_bytes` : `hugetlb.${h.pageSize}.max`;
    d.dir.write(file, d.version === 1 ? v1Num(h.limit) : v2Num(h.limit));
  }
  if (r.network) {
    const { classID, priorities } = r.network;
    if (classID !== undefined) {
      const d = view.v1.get("net_cls");
      if (d) d.write("net_cls.classid", String(classID));
      else notEnforced(ctx, "network.classID", "net_cls (v1 only)");
    }
    if (priorities?.length) {
      const d = view.v1.get("net_prio");
      if (d) { for (const p of priorities) d.write("net_prio.ifpriomap", `${p.name} ${p.priority}`); }
      else notEnforced(ctx, "network.priorities", "net_prio (v1 only)");
    }
  }
  for (const [device, limit] of Object.entries(r.rdma ?? {})) {
    const d = controllerDir(view, "rdma", offered);
    if (!d) {
      notEnforced(ctx, `rdma ${device}`, "rdma");
      continue;
    }
    const parts = [device];
    if (limit.hcaHandles !== undefined) parts.push(`hca_handle=${limit.hcaHandles}`);
    if (limit.hcaObjects !== undefined) parts.push(`hca_object=${limit.hcaObjects}`);
    if (parts.length > 1) d.dir.write("rdma.max", parts.join(" "));
  }
  if (ctx.devices) applyDevices(ctx, view, ctx.devices);
  const unified = Object.entries(r.unified ?? {});
  if (unified.length) {
    if (!view.unified) throw new Error("linux.resources.unified needs a cgroup v2 (unified) hierarchy");
    for (const [key, value] of unified) {
      checkUnifiedKey(key);
      if (!view.unified.has(key)) {
        throw new Error(
          `unified: ${key} does not exist in ${view.unified.where} (is its controller enabled on this host?)`,
        );
      }
      view.unified.write(key, value);
    }
  }
}
