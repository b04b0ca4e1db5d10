/** process.scheduler, process.ioPriority and process.execCPUAffinity: how the app is scheduled. */
import type { Kernel } from "../../ffi/mod.ts";
import type { Process } from "../specutils/spec.ts";

const POLICIES: Record<string, number> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};

const FLAGS: Record<string, bigint> = {
  SCHED_FLAG_RESET_ON_FORK: 0x1n,
  SCHED_FLAG_RECLAIM: 0x2n,
  SCHED_FLAG_DL_OVERRUN: 0x4n,
  SCHED_FLAG_KEEP_POLICY: 0x8n,
  SCHED_FLAG_KEEP_PARAMS: 0x10n,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20n,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40n,
};

const IOPRIO_CLASSES: Record<string, number> = {
  IOPRIO_CLASS_RT: 1,
  IOPRIO_CLASS_BE: 2,
  IOPRIO_CLASS_IDLE: 3,
};

/** Parses a cpu list such as "0-3,7" into cpu numbers. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const range of list.split(",")) {
    const [lo, hi] = range.split("-").map(Number);
    for (let c = lo; c <= (hi ?? lo); c++) cpus.push(c);
  }
  return cpus;
}

/** Applies the scheduler, the I/O priority and the initial CPU affinity to the calling process. */
export function applyScheduling(k: Kernel, p: Process): void {
  const s = p.scheduler;
  if (s) {
    const policy = POLICIES[s.policy];
    if (policy === undefined) throw new Error(`process.scheduler.policy ${s.policy}: unknown policy`);
    k.schedSetattr(0, {
      policy,
      flags: (s.flags ?? []).reduce((m, f) => m | (FLAGS[f] ?? 0n), 0n),
      nice: s.nice ?? 0,
      priority: s.priority ?? 0,
      runtime: BigInt(s.runtime ?? 0),
      deadline: BigInt(s.deadline ?? 0),
      period: BigInt(s.period ?? 0),
    });
  }
  const io = p.ioPriority;
  if (io) {
    const cls = IOPRIO_CLASSES[io.class];
    if (cls === undefined) throw new Error(`process.ioPriority.class ${io.class}: unknown class`);
    k.ioprioSet(0, cls, io.priority);
  }
  if (p.execCPUAffinity?.initial) k.schedSetaffinity(0, parseCpuList(p.execCPUAffinity.initial));
}

/** Applies execCPUAffinity.final to the app once it runs (from boot; the app is then past its execve). */
export function applyFinalAffinity(k: Kernel, pid: number, p: Process): void {
  if (p.execCPUAffinity?.final) k.schedSetaffinity(pid, parseCpuList(p.execCPUAffinity.final));
}
