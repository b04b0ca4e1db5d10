/** Real process, credential and namespace calls (see ProcCalls). */
import { AT } from "./consts.ts";
import type { CapSets, ProcCalls, WaitInfo } from "./kernel.ts";
import { rawSyscall, sys, sysBlocking } from "./libc.ts";
import { addr, cstr, cstrTable } from "./mem.ts";
import { SyscallError } from "./error.ts";
import {
  CLONE_FLAGS,
  flagsOf,
  IOPRIO_CLASSES,
  nameOf,
  PERSONALITIES,
  prctlArgs,
  RLIMIT_RESOURCES,
  rlimitValue,
  SCHED_FLAGS,
  SCHED_POLICIES,
  signalName,
} from "./names.ts";
import { spawn } from "./spawn.ts";
import { resetDispositions, runInChild, runInGrandchild } from "./clone_child.ts";
import { cloneHolder } from "./holder.ts";
import { startMapWriter } from "./map_writer.ts";

const PTRACE_TRACEME = 0, PTRACE_DETACH = 17, PTRACE_SETOPTIONS = 0x4200;

const CAP_V3 = 0x20080522;

function capHeader(): Uint32Array<ArrayBuffer> {
  return new Uint32Array([CAP_V3, 0]);
}

function parseSiginfo(si: Uint8Array<ArrayBuffer>): WaitInfo | null {
  const v = new DataView(si.buffer);
  const pid = v.getInt32(16, true);
  if (pid === 0) return null;
  return { pid, code: v.getInt32(8, true), status: v.getInt32(24, true) };
}

/** Sets every catchable signal to SIG_DFL and clears the signal mask (Deno ignores SIGPIPE). */
function resetSignals(): void {
  resetDispositions();
  const empty = new BigUint64Array(1);
  sys("rt_sigprocmask", "SIG_SETMASK", 2, addr(empty), 0, 8);
}

/** The real process calls. */
export const linuxProc: ProcCalls = {
  unshare(flags) {
    sys("unshare", `(${flagsOf(CLONE_FLAGS, flags)})`, flags);
  },
  setns(fd, nstype) {
    sys("setns", `(${fd}, ${flagsOf(CLONE_FLAGS, nstype)})`, fd, nstype);
  },
  sethostname(name) {
    const b = cstr(name);
    sys("sethostname", name, addr(b), b.length - 1);
  },
  setdomainname(name) {
    const b = cstr(name);
    sys("setdomainname", name, addr(b), b.length - 1);
  },
  prctl(option, a2 = 0, a3 = 0, a4 = 0, a5 = 0) {
    return sys("prctl", prctlArgs(option, a2, a3), option, a2, a3, a4, a5);
  },
  capget() {
    const data = new Uint32Array(6);
    sys("capget", "", addr(capHeader()), addr(data));
    const join = (lo: number, hi: number) => (BigInt(hi) << 32n) | BigInt(lo);
    return {
      effective: join(data[0], data[3]),
      permitted: join(data[1], data[4]),
      inheritable: join(data[2], data[5]),
    };
  },
  capset(s: CapSets) {
    const lo = (v: bigint) => Number(v & 0xffffffffn);
    const hi = (v: bigint) => Number(v >> 32n);
    const data = new Uint32Array([
      lo(s.effective),
      lo(s.permitted),
      lo(s.inheritable),
      hi(s.effective),
      hi(s.permitted),
      hi(s.inheritable),
    ]);
    sys(
      "capset",
      `eff=0x${s.effective.toString(16)} prm=0x${s.permitted.toString(16)}`,
      addr(capHeader()),
      addr(data),
    );
  },
  setresuid(uid) {
    sys("setresuid", String(uid), uid, uid, uid);
  },
  setresgid(gid) {
    sys("setresgid", String(gid), gid, gid, gid);
  },
  setgroups(gids) {
    const list = new Uint32Array(gids);
    sys("setgroups", gids.join(","), gids.length, addr(list));
  },
  getuid: () => sys("getuid", ""),
  getgid: () => sys("getgid", ""),
  getpid: () => sys("getpid", ""),
  kill(pid, sig) {
    sys("kill", `(${pid}, ${signalName(sig)})`, pid, sig);
  },
  waitid(idtype, id, options) {
    const si = new Uint8Array(128);
    sys("waitid", `pid ${id}`, idtype, id, addr(si), options, 0);
    return parseSiginfo(si);
  },
  async waitidBlocking(idtype, id, options) {
    const si = new Uint8Array(128);
    for (;;) {
      const r = await sysBlocking("waitid", idtype, id, addr(si), options, 0);
      if (r >= 0n) return parseSiginfo(si);
      // errno lives on the pool thread: ask again without blocking to learn whether the child exists.
      const probe = new Uint8Array(128);
      const r2 = rawSyscall("waitid", idtype, id, addr(probe), options | 1, /* WNOHANG */ 0);
      if (r2 < 0n && r2 !== -4n) throw new SyscallError("waitid", `pid ${id}`, Number(-r2));
      const info = parseSiginfo(probe);
      if (info) return info;
    }
  },
  pidfdOpen(pid) {
    return sys("pidfd_open", `pid ${pid}`, pid, 0);
  },
  setsid: () => sys("setsid", ""),
  setrlimit(resource, soft, hard) {
    const lim = new BigUint64Array([soft, hard]);
    const what = `(${nameOf(RLIMIT_RESOURCES, resource)}, soft=${rlimitValue(soft)}, hard=${
      rlimitValue(hard)
    })`;
    sys("prlimit64", what, 0, resource, addr(lim), 0);
  },
  personality(persona) {
    return sys("personality", `(${nameOf(PERSONALITIES, persona)})`, persona);
  },
  schedSetaffinity(pid, cpus) {
    const mask = new BigUint64Array(16);
    for (const c of cpus) mask[c >> 6] |= 1n << BigInt(c & 63);
    sys("sched_setaffinity", `pid ${pid} cpus ${cpus.join(",")}`, pid, mask.byteLength, addr(mask));
  },
  schedSetattr(pid, a) {
    // struct sched_attr (SCHED_ATTR_SIZE_VER0 = 48 bytes): size, policy, flags, nice, priority, runtime,
    // deadline, period.
    const buf = new DataView(new ArrayBuffer(48));
    buf.setUint32(0, 48, true);
    buf.setUint32(4, a.policy, true);
    buf.setBigUint64(8, a.flags, true);
    buf.setInt32(16, a.nice, true);
    buf.setUint32(20, a.priority, true);
    buf.setBigUint64(24, a.runtime, true);
    buf.setBigUint64(32, a.deadline, true);
    buf.setBigUint64(40, a.period, true);
    const shown = [`priority=${a.priority}`];
    if (a.nice) shown.push(`nice=${a.nice}`);
    if (a.flags) shown.push(`flags=${flagsOf(SCHED_FLAGS, a.flags)}`);
    for (const k of ["runtime", "deadline", "period"] as const) if (a[k]) shown.push(`${k}=${a[k]}`);
    const what = `(${pid}, ${nameOf(SCHED_POLICIES, a.policy)}, ${shown.join(", ")})`;
    sys("sched_setattr", what, pid, addr(new Uint8Array(buf.buffer)), 0);
  },
  ioprioSet(pid, ioClass, level) {
    sys(
      "ioprio_set",
      `(${pid}, ${nameOf(IOPRIO_CLASSES, ioClass)}, ${level})`,
      1, /* IOPRIO_WHO_PROCESS */
      pid,
      (ioClass << 13) | level,
    );
  },
  schedGetaffinity(pid) {
    const mask = new BigUint64Array(16);
    sys("sched_getaffinity", `pid ${pid}`, pid, mask.byteLength, addr(mask));
    const cpus: number[] = [];
    for (let c = 0; c < 1024; c++) if (mask[c >> 6] & (1n << BigInt(c & 63))) cpus.push(c);
    return cpus;
  },
  execve(path, argv, env): never {
    const a = cstrTable(argv), e = cstrTable(env);
    const p = cstr(path);
    resetSignals();
    sys("execve", path, addr(p), addr(a.table), addr(e.table));
    throw new Error("unreachable");
  },
  fexecve(fd, argv, env): never {
    const a = cstrTable(argv), e = cstrTable(env);
    resetSignals();
    sys("execveat", `fd ${fd}`, fd, addr(cstr("")), addr(a.table), addr(e.table), AT.EMPTY_PATH);
    throw new Error("unreachable");
  },
  spawn,
  runInChild,
  runInGrandchild,
  cloneHolder,
  startMapWriter,
  ptraceTraceMe() {
    sys("ptrace", "PTRACE_TRACEME", PTRACE_TRACEME, 0, 0, 0);
  },
  ptraceSetOptions(pid, options) {
    sys(
      "ptrace",
      `PTRACE_SETOPTIONS pid ${pid} 0x${options.toString(16)}`,
      PTRACE_SETOPTIONS,
      pid,
      0,
      options,
    );
  },
  ptraceDetach(pid, sig) {
    sys("ptrace", `PTRACE_DETACH pid ${pid}`, PTRACE_DETACH, pid, 0, sig);
  },
  seccompLoad(filter, flags) {
    const prog = new BigUint64Array([BigInt(filter.length / 8), addr(filter)]);
    sys("seccomp", "SECCOMP_SET_MODE_FILTER", 1, flags, addr(prog));
  },
};
