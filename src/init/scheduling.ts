/** process.scheduler, process.ioPriority and process.execCPUAffinity: how the app is scheduled. */
import { IOPRIO_CLASS, type Kernel, SCHED_FLAG, SCHED_POLICY } from "../../ffi/mod.ts";
import type { Process } from "../specutils/spec.ts";

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
    const policy = SCHED_POLICY[s.policy];
    if (policy === undefined) throw new Error(`process.scheduler.policy ${s.policy}: unknown policy`);
    k.schedSetattr(0, {
      policy,
      flags: BigInt((s.flags ?? []).reduce((m, f) => m | (SCHED_FLAG[f] ?? 0), 0)),
      nice: s.nice ?? 0,
      priority: s.priority ?? 0,
      runtime: BigInt(s.runtime ?? 0),
      deadline: BigInt(s.deadline ?? 0),
      period: BigInt(s.period ?? 0),
    });
  }
  const io = p.ioPriority;
  if (io) {
    const cls = IOPRIO_CLASS[io.class];
    if (cls === undefined) throw new Error(`process.ioPriority.class ${io.class}: unknown class`);
    k.ioprioSet(0, cls, io.priority);
  }
  if (p.execCPUAffinity?.initial) k.schedSetaffinity(0, parseCpuList(p.execCPUAffinity.initial));
}

/** Applies execCPUAffinity.final to the app once it runs (from boot; the app is then past its execve). */
export function applyFinalAffinity(k: Kernel, pid: number, p: Process): void {
  if (p.execCPUAffinity?.final) k.schedSetaffinity(pid, parseCpuList(p.execCPUAffinity.final));
}
