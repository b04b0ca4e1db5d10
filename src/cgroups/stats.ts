/**
 * Usage numbers from a container's cgroups, in runc's `events --stats` shape (types.Stats): cpu usage
 * and throttling, memory usage/max/limit/failcnt with the raw memory.stat, pids current/limit. v1 and v2
 * files are read into the same fields (v2 microseconds become nanoseconds, "max" becomes 2^64-1).
 */
import type { CgroupDir } from "./fs.ts";
import { type CgroupView, controllerDir } from "./view.ts";

/** 2^64-1, what runc reports for "no limit". */
const UNLIMITED = 18446744073709551615n;

/** A counter: a number, or an exact bigint beyond 2^53 (limits near 2^63 are common). */
export type Count = number | bigint;
/** USER_HZ: cpuacct.stat counts in these ticks. */
const TICKS_PER_SECOND = 100;

/** runc's memory usage entry. */
export interface MemoryEntry {
  usage: Count;
  max: Count;
  failcnt: Count;
  limit: Count;
}

/** The stats document. */
export interface CgroupStats {
  cpu: {
    usage: { total: Count; percpu?: number[]; kernel: number; user: number };
    throttling: { periods: number; throttled_periods: number; throttled_time: number };
  };
  memory: {
    cache: Count;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    raw: Record<string, Count>;
    /** OOM kills in the cgroup so far (a runts addition: memory.oom_control or memory.events). */
    oom_kill?: number;
  };
  pids: { current: Count; limit: Count };
}

/** Parses "key value" lines (memory.stat, cpu.stat, memory.events). */
export function parseKeyed(text: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** parseKeyed with exact values (bigints beyond 2^53), for the raw memory.stat. */
export function parseKeyedExact(text: string | null): Record<string, Count> {
  const out: Record<string, Count> = {};
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined || !/^-?\d+$/.test(v)) continue;
    const n = Number(v);
    out[k] = Number.isSafeInteger(n) ? n : BigInt(v);
  }
  return out;
}

function num(dir: CgroupDir, file: string): Count {
  const t = dir.read(file)?.trim().split(/\s+/)[0];
  if (t === undefined || t === "") return 0;
  if (t === "max") return UNLIMITED;
  if (!/^-?\d+$/.test(t)) return 0;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BigInt(t);
}

const emptyEntry = (): MemoryEntry => ({ usage: 0, max: 0, failcnt: 0, limit: 0 });

/** Reads the stats of a container's cgroups; controllers that no hierarchy offers read as zeros. */
export function readStats(view: CgroupView): CgroupStats {
  const s: CgroupStats = {
    cpu: {
      usage: { total: 0, kernel: 0, user: 0 },
      throttling: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    },
    memory: { cache: 0, usage: emptyEntry(), swap: emptyEntry(), kernel: emptyEntry(), raw: {} },
    pids: { current: 0, limit: 0 },
  };
  readCpu(view, s);
  readMemory(view, s);
  const pids = controllerDir(view, "pids");
  if (pids) {
    s.pids.current = num(pids.dir, "pids.current");
    const limit = num(pids.dir, "pids.max");
    s.pids.limit = limit === UNLIMITED ? 0 : limit;
  }
  return s;
}

function readCpu(view: CgroupView, s: CgroupStats): void {
  const acct = view.v1.get("cpuacct");
  if (acct) {
    s.cpu.usage.total = num(acct, "cpuacct.usage");
    const percpu = (acct.read("cpuacct.usage_percpu") ?? "").trim().split(/\s+/).filter(Boolean).map(Number);
    if (percpu.length) s.cpu.usage.percpu = percpu;
    const st = parseKeyed(acct.read("cpuacct.stat"));
    const ns = 1e9 / TICKS_PER_SECOND;
    s.cpu.usage.user = (st.user ?? 0) * ns;
    s.cpu.usage.kernel = (st.system ?? 0) * ns;
  }
  const cpu = view.v1.get("cpu");
  if (cpu) {
    const st = parseKeyed(cpu.read("cpu.stat"));
    s.cpu.throttling = {
      periods: st.nr_periods ?? 0,
      throttled_periods: st.nr_throttled ?? 0,
      throttled_time: st.throttled_time ?? 0,
    };
  }
  if ((acct && cpu) || !view.unified) return;
  // cgroup v2: cpu.stat exists in every cgroup (usage); throttling only with the cpu controller.
  const st = parseKeyed(view.unified.read("cpu.stat"));
  if (!acct) {
    s.cpu.usage.total = (st.usage_usec ?? 0) * 1000;
    s.cpu.usage.user = (st.user_usec ?? 0) * 1000;
    s.cpu.usage.kernel = (st.system_usec ?? 0) * 1000;
  }
  if (!cpu) {
    s.cpu.throttling = {
      periods: st.nr_periods ?? 0,
      throttled_periods: st.nr_throttled ?? 0,
      throttled_time: (st.throttled_usec ?? 0) * 1000,
    };
  }
}

function readMemory(view: CgroupView, s: CgroupStats): void {
  const d = controllerDir(view, "memory");
  if (!d) return;
  const dir = d.dir;
  const text = dir.read("memory.stat");
  const raw = parseKeyed(text);
  s.memory.raw = parseKeyedExact(text);
  if (d.version === 1) {
    s.memory.cache = raw.cache ?? raw.total_cache ?? 0;
    // v1 reports each counter family as <prefix>usage_in_bytes, max_usage_in_bytes, failcnt, limit_in_bytes.
    const family = (prefix: string) => ({
      usage: num(dir, `${prefix}usage_in_bytes`),
      max: num(dir, `${prefix}max_usage_in_bytes`),
      failcnt: num(dir, `${prefix}failcnt`),
      limit: num(dir, `${prefix}limit_in_bytes`),
    });
    s.memory.usage = family("memory.");
    if (dir.has("memory.memsw.usage_in_bytes")) s.memory.swap = family("memory.memsw.");
    if (dir.has("memory.kmem.usage_in_bytes")) s.memory.kernel = family("memory.kmem.");
    const oom = parseKeyed(dir.read("memory.oom_control"));
    if (oom.oom_kill !== undefined) s.memory.oom_kill = oom.oom_kill;
    return;
  }
  const events = parseKeyed(dir.read("memory.events"));
  s.memory.cache = raw.file ?? 0;
  s.memory.usage = {
    usage: num(dir, "memory.current"),
    max: num(dir, "memory.peak"),
    failcnt: events.max ?? 0,
    limit: num(dir, "memory.max"),
  };
  if (dir.has("memory.swap.current")) {
    s.memory.swap = {
      usage: num(dir, "memory.swap.current"),
      max: num(dir, "memory.swap.peak"),
      failcnt: parseKeyed(dir.read("memory.swap.events")).max ?? 0,
      limit: num(dir, "memory.swap.max"),
    };
  }
  if (events.oom_kill !== undefined) s.memory.oom_kill = events.oom_kill;
}

/** The OOM-kill count of the container's memory cgroup, or null when there is no memory controller. */
export function oomKills(view: CgroupView): number | null {
  const d = controllerDir(view, "memory");
  if (!d) return null;
  const file = d.version === 1 ? "memory.oom_control" : "memory.events";
  return parseKeyed(d.dir.read(file)).oom_kill ?? 0;
}
