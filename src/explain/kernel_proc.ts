/**
 * The plan kernel's process, credential, namespace, socket and bpf calls. runInChild records the clone and
 * runs init's job in-process against the same plan, with a copy of the process state (the child's own fd
 * table and credentials), then restores boot's; runInGrandchild does so through boot's first child. User
 * namespaces, their maps and the holder are kernel_userns.ts's.
 */
import {
  CLD,
  CLONE,
  EPOLL,
  Errno,
  type ExecTarget,
  PR,
  S_IF,
  SECCOMP_FILTER_FLAG,
  SIGNALS,
  SyscallError,
} from "../../ffi/mod.ts";
import type { BpfCalls, ChildStart, EpollCalls, ProcCalls, SocketCalls } from "../../ffi/kernel.ts";
import {
  capList,
  cloneFlagNames,
  NAMESPACE_OF,
  prctlName,
  rlimitName,
  rlimitValue,
  signalName,
} from "./describe.ts";
import { describeFd } from "./kernel_fs.ts";
import { forkState, type PlanState, type ProcState } from "./state.ts";
import { checkJoin, checkMapped, cloneHolder, makeNamespaces, startMapWriter } from "./kernel_userns.ts";
import { kind, nodeAt, resolve } from "./vfs.ts";

function bit(c: number): bigint {
  return 1n << BigInt(c);
}

function prctl(s: PlanState, option: number, a2: number | bigint = 0, a3: number | bigint = 0): number {
  const caps = s.proc.caps;
  const n = Number(a2);
  if (option === PR.CAPBSET_DROP) {
    caps.bounding &= ~bit(n);
    const o = s.last("bounding") ?? s.record("bounding", "", "bounding");
    o.text = `bounding set: drop all but ${capList(caps.bounding)}`;
  } else if (option === PR.CAP_AMBIENT && n === PR.CAP_AMBIENT_CLEAR_ALL) {
    caps.ambient = 0n;
    s.record("ambient", "ambient set: clear", "ambient");
  } else if (option === PR.CAP_AMBIENT && n === PR.CAP_AMBIENT_RAISE) {
    caps.ambient |= bit(Number(a3));
    const o = s.last("ambient-raise") ?? s.record("ambient-raise", "", "ambient-raise");
    o.text = `ambient set: raise ${capList(caps.ambient)}`;
  } else if (option === PR.SET_NO_NEW_PRIVS) {
    s.proc.noNewPrivs = n === 1;
    s.record("no_new_privs", `prctl(PR_SET_NO_NEW_PRIVS, ${n}): no_new_privs is set`, "no_new_privs");
  } else if (option === PR.SET_PDEATHSIG) {
    s.record("prctl", `prctl(PR_SET_PDEATHSIG, ${n ? signalName(n) : "0"})`, "pdeathsig");
  } else {
    s.record("prctl", `prctl(${prctlName(option)}, ${n})`, `prctl:${prctlName(option)}`);
  }
  return 0;
}

/** The calls of the plan kernel other than file-system ones. */
export function procCalls(s: PlanState): Partial<ProcCalls & SocketCalls & BpfCalls & EpollCalls> {
  return {
    unshare(flags) {
      const made = makeNamespaces(s, s.proc, flags);
      const what = made.length ? `: new ${made.join(", ")} namespace${made.length > 1 ? "s" : ""}` : "";
      s.record("unshare", `unshare(${cloneFlagNames(flags)})${what}`, `unshare:${cloneFlagNames(flags)}`);
    },
    setns(fd, nstype) {
      const o = s.fd(fd, "setns");
      const type = NAMESPACE_OF[nstype] ?? "ns";
      let id: string;
      if (o.kind === "ns") id = o.id;
      else if (o.kind === "file" && nodeAt(o.loc)?.host) {
        const st = Deno.statSync(nodeAt(o.loc)!.host!);
        id = `${st.dev}:${st.ino}`;
      } else throw new SyscallError("setns", `fd ${fd}`, Errno.EINVAL);
      const path = o.kind === "file" ? s.hostPathOf(o.loc) ?? describeFd(s, fd) : o.path;
      // The file's kind must be the one asked for.
      if (o.kind === "ns" && nstype && o.type.replace(/_for_children$/, "") !== type) {
        throw new SyscallError("setns", path, Errno.EINVAL);
      }
      checkJoin(s, type, id, path);
      s.proc.ns[type] = id;
      const back = id === s.hostNs[type] ? " (back to the host's)" : "";
      s.record("setns", `setns ${path} (${cloneFlagNames(nstype)})${back}`, `setns:${type}`);
    },
    sethostname(name) {
      s.record("sethostname", `sethostname ${JSON.stringify(name)}`);
    },
    setdomainname(name) {
      s.record("setdomainname", `setdomainname ${JSON.stringify(name)}`);
    },
    prctl: (option, a2, a3) => prctl(s, option, a2, a3),
    capget() {
      const c = s.proc.caps;
      return { effective: c.effective, permitted: c.permitted, inheritable: c.inheritable };
    },
    capset(sets) {
      Object.assign(s.proc.caps, sets);
      s.record(
        "capset",
        `capset: effective=${capList(sets.effective)}; permitted=${capList(sets.permitted)}; ` +
          `inheritable=${capList(sets.inheritable)}`,
      );
    },
    setresuid(uid) {
      checkMapped(s, "uid", [uid], "setresuid");
      s.proc.uid = uid;
      s.record("setresuid", `setresuid ${uid} (real, effective and saved uid)`);
    },
    setresgid(gid) {
      checkMapped(s, "gid", [gid], "setresgid");
      s.proc.gid = gid;
      s.record("setresgid", `setresgid ${gid} (real, effective and saved gid)`);
    },
    setgroups(gids) {
      checkMapped(s, "gid", gids, "setgroups");
      s.proc.groups = [...gids];
      s.record("setgroups", `setgroups ${gids.length ? gids.join(",") : "(none)"}`);
    },
    getuid: () => s.proc.uid,
    getgid: () => s.proc.gid,
    getpid: () => s.proc.pidInNs,
    setsid() {
      s.record("setsid", "setsid: a session of its own");
      return 1;
    },
    setrlimit(res, soft, hard) {
      const name = rlimitName(res);
      s.record(
        "setrlimit",
        `setrlimit ${name} soft=${rlimitValue(soft)} hard=${rlimitValue(hard)}`,
        `rlimit:${name}`,
      );
    },
    personality(p) {
      s.record("personality", `personality ${p === 8 ? "LINUX32" : p === 0 ? "LINUX" : p}`);
      return 0;
    },
    schedGetaffinity: () => Array.from({ length: navigator.hardwareConcurrency }, (_, i) => i),
    schedSetaffinity(pid, cpus) {
      s.record("affinity", `sched_setaffinity ${pid || "self"}: cpus ${cpus.join(",")}`, "affinity");
    },
    schedSetattr(_pid, a) {
      s.record("scheduler", `sched_setattr policy ${a.policy}, nice ${a.nice}, priority ${a.priority}`);
    },
    ioprioSet(_pid, cls, level) {
      s.record("ioprio", `ioprio_set class ${cls}, level ${level}`);
    },
    spawn(opts) {
      const at = opts.argv.indexOf("boot");
      const args = at >= 0 ? opts.argv.slice(at) : opts.argv;
      const pid = s.newPid();
      s.spawned = {
        fds: new Map([...opts.fds].map(([c, p]) => [c, s.fd(p, "spawn")])),
        argv: opts.argv,
        pid,
      };
      s.record(
        "spawn",
        `spawn boot${opts.setsid ? " in a new session" : ""}: runts ${args.join(" ")}`,
        "spawn",
      );
      return pid;
    },
    runInChild(flags, job) {
      const note = flags & CLONE.NEWPID ? " in a new pid namespace" : "";
      return runJob(s, s.proc, flags, job, `init${note}`);
    },
    runInGrandchild(flags, prepare, job) {
      const boot = s.proc;
      s.record(
        "clone",
        `clone(CLONE_VM|CLONE_VFORK${flags ? "|" + cloneFlagNames(flags) : ""}): boot's first child, ` +
          "which makes init's namespaces for its children, then clones init and exits",
        "clone-first",
      );
      const first = forkState(boot);
      first.pid = first.pidInNs = s.newPid();
      first.name = "boot's first child";
      makeNamespaces(s, first, flags);
      s.proc = first;
      try {
        prepare();
        return runJob(s, first, CLONE.PARENT, job, "init, as boot's child (CLONE_PARENT)");
      } catch (e) {
        return { pid: first.pid, failure: (e as Error).message, execErrno: 0, path: "" };
      } finally {
        s.proc = boot;
      }
    },
    cloneHolder: (flags) => cloneHolder(s, flags),
    startMapWriter: (request, answer, maps) => startMapWriter(s, request, answer, maps),
    waitid(_t, id) {
      if (!s.killed.delete(id)) return { pid: id, code: CLD.TRAPPED, status: SIGNALS.TRAP };
      s.procs.delete(id);
      return { pid: id, code: CLD.KILLED, status: SIGNALS.KILL };
    },
    ptraceTraceMe() {
      s.record(
        "ptrace",
        "ptrace(PTRACE_TRACEME): the app stops before its first instruction until start",
        "traceme",
      );
    },
    ptraceSetOptions(pid, options) {
      s.record(
        "ptrace",
        `ptrace(PTRACE_SETOPTIONS, ${pid}, EXITKILL=${options ? 1 : 0}): the app dies with boot`,
      );
    },
    seccompLoad(filter, flags) {
      s.proc.seccompFilters++;
      const names = Object.entries(SECCOMP_FILTER_FLAG).filter(([, v]) => flags & v).map(([k]) => k);
      const f = names.length ? `, flags ${names.join("|")}` : "";
      s.record(
        "seccomp",
        `seccomp: load ${filter.length / 8} BPF instructions${f}: ${s.ctx.seccomp ?? "a filter"}`,
      );
    },
    socket: () => s.alloc({ kind: "other", what: "a unix socket", mode: S_IF.SOCK | 0o777 }),
    socketpair: () => [
      s.alloc({ kind: "other", what: "a socketpair end", mode: S_IF.SOCK | 0o777 }),
      s.alloc({ kind: "other", what: "a socketpair end", mode: S_IF.SOCK | 0o777 }),
    ],
    bind(_fd, address) {
      s.record("bind-socket", `bind the control socket to ${address}`, "control-socket");
    },
    sendmsg(fd, data, fds = []) {
      if (fds.length) {
        s.record(
          "sendmsg",
          `send ${fds.map((x) => describeFd(s, x)).join(", ")} over ${describeFd(s, fd)}`,
        );
      }
      return data.length;
    },
    linkUp(name) {
      s.record("link", `bring ${name} up (the new network namespace starts with it down)`, `link:${name}`);
    },
    pidfdOpen: (pid) => s.alloc({ kind: "other", what: `pidfd ${pid}`, mode: S_IF.REG }),
    kill(pid, sig) {
      if (sig === SIGNALS.KILL && s.procs.has(pid)) s.killed.add(pid);
      s.record("kill", `kill ${pid} ${signalName(sig)}`, "kill", false);
    },
    pollOne(fd, events) {
      const o = s.fd(fd, "ppoll");
      // A pipe with nothing in it stays so: no other process of the plan runs meanwhile.
      if (o.kind === "pipe" && o.end === "r") return o.data.length ? EPOLL.IN : 0;
      return events;
    },
    bpfLoadDeviceFilter: (insns) =>
      s.alloc({ kind: "other", what: "a device-filter program", mode: S_IF.REG, insns: insns.length }),
    bpfAttachDeviceFilter(prog, cgroupFd) {
      const p = s.fd(prog, "bpf");
      const n = p.kind === "other" ? p.insns ?? 0 : 0;
      s.record(
        "cgroup",
        `cgroup device filter: attach an eBPF program of ${n} instructions to ${describeFd(s, cgroupFd)}`,
      );
    },
  };
}

/**
 * A clone child of `parent` (clone `flags` | CLONE_VM | CLONE_VFORK) running `job` against the plan, as
 * `what`; the plan's init from then on.
 */
function runJob(
  s: PlanState,
  parent: ProcState,
  flags: number,
  job: () => ExecTarget,
  what: string,
): ChildStart {
  s.record(
    "clone",
    `clone(CLONE_VM|CLONE_VFORK${flags ? "|" + cloneFlagNames(flags) : ""}): ${what}`,
    "clone",
  );
  const child = forkState(parent);
  child.pid = s.newPid();
  child.name = "init";
  makeNamespaces(s, child, flags);
  child.pidInNs = s.isPlanned(child.ns.pid) ? s.nextPidIn(child.ns.pid) : child.pid;
  s.procs.set(child.pid, child);
  const saved = s.proc;
  s.proc = child;
  s.stage = "init";
  try {
    const target = job();
    const errno = execErrno(s, target.path);
    s.final = { path: target.path, argv: target.argv, env: target.env, proc: child };
    s.record(
      "execve",
      `execve ${target.path} ${JSON.stringify(target.argv)} (${target.env.length} environment variables)`,
    );
    return { pid: child.pid, failure: null, execErrno: errno, path: target.path };
  } catch (e) {
    s.childFailure = (e as Error).message;
    return { pid: child.pid, failure: s.childFailure, execErrno: 0, path: "" };
  } finally {
    s.proc = saved;
    s.stage = "boot";
  }
}

/** What execve of `path` would fail with (0: it would run): an executable ELF file or script. */
function execErrno(s: PlanState, path: string): number {
  let host: string | undefined;
  try {
    const n = nodeAt(resolve(path, s.walk("execve", true)))!;
    if (kind(n) !== S_IF.REG || !(n.mode & 0o111)) return Errno.EACCES;
    host = n.host;
  } catch (e) {
    return e instanceof SyscallError ? e.errno : Errno.ENOENT;
  }
  if (!host) return 0;
  const head = new Uint8Array(4);
  try {
    const f = Deno.openSync(host, { read: true });
    try {
      f.readSync(head);
    } finally {
      f.close();
    }
  } catch {
    return 0;
  }
  const elf = head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
  const script = head[0] === 0x23 && head[1] === 0x21;
  return elf || script ? 0 : Errno.ENOEXEC;
}
