/** Reading the container's processes and usage from /proc and the cgroup files (synchronously). */
import type { ProcessRow } from "../protocol/control.ts";

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function link(path: string): string | null {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return null;
  }
}

/** Parses /proc/PID/stat past the command name (which may hold spaces and parentheses). */
export function parseStat(stat: string): { comm: string; ppid: number; utime: number; stime: number } | null {
  const open = stat.indexOf("("), close = stat.lastIndexOf(")");
  if (open < 0 || close < 0) return null;
  const rest = stat.slice(close + 2).split(" ");
  return {
    comm: stat.slice(open + 1, close),
    ppid: Number(rest[1]),
    utime: Number(rest[11]),
    stime: Number(rest[12]),
  };
}

/** All pids on the host. */
export function allPids(): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) if (/^\d+$/.test(e.name)) pids.push(Number(e.name));
  return pids;
}

/**
 * The host pids of the container rooted at `initPid`: every process in its pid namespace when it has its
 * own, otherwise `initPid` and its descendants.
 */
export function containerPids(initPid: number, ownPidNs: boolean): number[] {
  const pids = allPids();
  if (ownPidNs) {
    const ns = link(`/proc/${initPid}/ns/pid`);
    if (ns === null) return [];
    return pids.filter((p) => link(`/proc/${p}/ns/pid`) === ns);
  }
  const children = new Map<number, number[]>();
  for (const p of pids) {
    const st = parseStat(readText(`/proc/${p}/stat`) ?? "");
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(p);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const todo = readText(`/proc/${initPid}/stat`) === null ? [] : [initPid];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out.sort((a, b) => a - b);
}

const TICKS = 100;

function clock(ticks: number): string {
  const s = Math.floor(ticks / TICKS);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** ps rows for `pids`; processes that vanished meanwhile are skipped. */
export function processRows(pids: readonly number[]): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (const pid of pids) {
    const st = parseStat(readText(`/proc/${pid}/stat`) ?? "");
    const status = readText(`/proc/${pid}/status`);
    if (!st || status === null) continue;
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    let threads: number[] = [];
    try {
      threads = [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => Number(e.name)).sort((a, b) => a - b);
    } catch { /* the process exited while we looked */ }
    const cmdline = (readText(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean).join(" ");
    rows.push({
      uid,
      pid,
      ppid: st.ppid,
      threads,
      c: 0,
      tty: "?",
      stime: "",
      time: clock(st.utime + st.stime),
      cmd: cmdline || st.comm,
    });
  }
  return rows;
}

/** Usage numbers for containerManager.Event, from the cgroups of `pid` (whatever this host offers). */
export function usageStats(pid: number): Record<string, unknown> {
  const cg = readText(`/proc/${pid}/cgroup`) ?? "";
  const v1 = (ctrl: string) =>
    cg.split("\n").find((l) => l.split(":")[1]?.split(",").includes(ctrl))?.split(":")[2];
  const v2 = cg.split("\n").find((l) => l.startsWith("0::"))?.slice(3);
  const num = (path: string) => {
    const t = readText(path);
    return t === null ? undefined : Number(t.trim().split(/\s+/)[0]);
  };
  const memPath = v1("memory");
  const cpuPath = v1("cpuacct");
  const pidsPath = v1("pids");
  const memory = memPath !== undefined
    ? num(`/sys/fs/cgroup/memory${memPath}/memory.usage_in_bytes`)
    : num(`/sys/fs/cgroup/unified${v2}/memory.current`) ?? num(`/sys/fs/cgroup${v2}/memory.current`);
  const cpu = cpuPath !== undefined ? num(`/sys/fs/cgroup/cpuacct${cpuPath}/cpuacct.usage`) : undefined;
  const pids = pidsPath !== undefined ? num(`/sys/fs/cgroup/pids${pidsPath}/pids.current`) : undefined;
  return {
    cpu: { usage: { total: cpu ?? 0 } },
    memory: { usage: { usage: memory ?? 0 } },
    pids: { current: pids ?? 0 },
  };
}

/** PF_EXITING in the flags field of /proc/PID/stat: the task is inside exit(). */
const PF_EXITING = 0x4;

/**
 * True when process `pid` has exited or is exiting (a zombie, or inside exit(): for the init of a pid
 * namespace that is already the moment the namespace stops accepting new processes).
 */
export function exiting(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === null) return true;
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return rest[0] === "Z" || rest[0] === "X" || (Number(rest[6]) & PF_EXITING) !== 0;
}
