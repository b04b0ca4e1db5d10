/**
 * Reads and writes of the plan kernel, and the /proc paths it answers itself: its own fds, namespaces,
 * user namespace files (uid_map, gid_map, setgroups) and time offsets, its cgroups as init would see them;
 * and the namespaces and user namespace files of the plan's other processes by pid. A write changes only
 * the model and is recorded: a cgroup file, a sysctl, oom_score_adj, a map, or a file of the container.
 */
import { Errno, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { LinuxTimeOffset } from "../specutils/spec.ts";
import { hierarchyOf } from "./cgroupfiles.ts";
import { quoted } from "./describe.ts";
import { privileged, userNsFile } from "./kernel_userns.ts";
import type { FdObj, PlanState, ProcState } from "./state.ts";
import { kind, nodeAt } from "./vfs.ts";

const SELF = "/proc/(?:self|thread-self)";
const MAGIC_FD = new RegExp(`^${SELF}/fd/(\\d+)$`);
const OWN_NS = new RegExp(`^${SELF}/ns/(\\w+)$`);
const OTHER_NS = /^\/proc\/(\d+)\/ns\/(\w+)$/;
const OWN_CGROUP = new RegExp(`^${SELF}/cgroup$`);
const OOM = new RegExp(`^${SELF}/oom_score_adj$`);
const USERNS_FILE = /^\/proc\/(self|thread-self|\d+)\/(uid_map|gid_map|setgroups)$/;
const TIMENS = new RegExp(`^${SELF}/timens_offsets$`);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An fd for a /proc path the plan kernel answers itself, or null for an ordinary lookup. */
export function openMagic(s: PlanState, path: string, _flags: number): FdObj | null {
  let m = MAGIC_FD.exec(path);
  if (m) {
    const o = s.fd(Number(m[1]), "openat");
    return o.kind === "file" ? { ...o, pos: 0, bytes: undefined } : o;
  }
  m = OWN_NS.exec(path);
  if (m) return { kind: "ns", type: m[1], id: s.proc.ns[m[1]] ?? `host:${m[1]}`, path };
  m = OTHER_NS.exec(path);
  const planned = m ? s.procs.get(Number(m[1])) : undefined;
  if (m && planned) return { kind: "ns", type: m[2], id: planned.ns[m[2]] ?? `host:${m[2]}`, path };
  if (m) {
    try {
      const st = Deno.statSync(path);
      return { kind: "ns", type: m[2], id: `${st.dev}:${st.ino}`, path };
    } catch {
      throw new SyscallError("openat", path, Errno.ENOENT);
    }
  }
  if (OWN_CGROUP.test(path)) {
    return { kind: "special", name: path, content: s.ctx.procCgroup(s.ownsNs("cgroup")), pos: 0 };
  }
  if (OOM.test(path)) return { kind: "special", name: "oom_score_adj", content: "0\n", pos: 0 };
  m = USERNS_FILE.exec(path);
  const target = m && (/^\d+$/.test(m[1]) ? s.procs.get(Number(m[1])) : s.proc);
  if (m && target) return userNsFile(s, target, m[2] as "uid_map" | "gid_map" | "setgroups");
  if (TIMENS.test(path)) return timensFile(s, s.proc);
  return null;
}

const CLOCKS: Record<string, string> = {
  monotonic: "monotonic",
  boottime: "boottime",
  "1": "monotonic",
  "7": "boottime",
};

/**
 * /proc/self/timens_offsets: the offsets of the time namespace the process made for its children (execve
 * moves it there). The kernel takes them only for a new one (EACCES for the host's), with CAP_SYS_TIME
 * over it, and shows both clocks.
 */
function timensFile(s: PlanState, p: ProcState): FdObj {
  const o = p.timeOffsets ?? {};
  const line = (c: string) =>
    `${c.padEnd(10)} ${String(o[c]?.secs ?? 0).padStart(10)} ${String(o[c]?.nanosecs ?? 0).padStart(9)}\n`;
  const name = "/proc/self/timens_offsets";
  const onWrite = (text: string) => {
    const fail = (errno: number): never => {
      throw new SyscallError("write", name, errno);
    };
    if (!s.isPlanned(p.ns.time)) fail(Errno.EACCES);
    if (!privileged(s, p, p.ns.time)) fail(Errno.EPERM);
    const offsets: Record<string, LinuxTimeOffset> = { ...p.timeOffsets };
    for (const l of text.split("\n").map((x) => x.trim()).filter(Boolean)) {
      const [clock, secs, nanosecs, extra] = l.split(/\s+/);
      const ns = Number(nanosecs);
      if (!CLOCKS[clock] || !/^-?\d+$/.test(secs ?? "") || !(ns >= 0 && ns < 1e9) || extra) {
        fail(Errno.EINVAL);
      }
      offsets[CLOCKS[clock]] = { secs: Number(secs), nanosecs: ns };
    }
    p.timeOffsets = offsets;
    const shown = Object.entries(offsets).map(([c, v]) =>
      `${c} ${v.secs! >= 0 ? "+" : ""}${v.secs}${
        v.nanosecs ? `.${String(v.nanosecs).padStart(9, "0")}` : ""
      } s`
    );
    s.record("timens", `time offsets of the new time namespace: ${shown.join(", ")}`, "timens_offsets");
  };
  return { kind: "special", name, content: line("monotonic") + line("boottime"), pos: 0, onWrite };
}

function copyOut(bytes: Uint8Array, pos: number, buf: Uint8Array): number {
  const n = Math.max(0, Math.min(buf.length, bytes.length - pos));
  buf.set(bytes.subarray(pos, pos + n));
  return n;
}

/** read(2) on a description of the plan. */
export function readFrom(_s: PlanState, o: FdObj, buf: Uint8Array): number {
  if (o.kind === "special") {
    const n = copyOut(encoder.encode(o.content), o.pos, buf);
    o.pos += n;
    return n;
  }
  if (o.kind === "pipe") {
    if (o.end !== "r") throw new SyscallError("read", "pipe", Errno.EBADF);
    const n = Math.min(buf.length, o.data.length);
    buf.set(o.data.splice(0, n));
    return n;
  }
  if (o.kind !== "file") return 0;
  const node = nodeAt(o.loc);
  if (!node) return 0;
  if (kind(node) === S_IF.DIR) throw new SyscallError("read", "directory", Errno.EISDIR);
  if (o.bytes === undefined) {
    if (node.content !== undefined) o.bytes = encoder.encode(node.content);
    // Only regular files: a FIFO or a device planted in the image must not block or stream.
    else if (node.host && kind(node) === S_IF.REG) o.bytes = Deno.readFileSync(node.host);
    else o.bytes = new Uint8Array();
  }
  const n = copyOut(o.bytes, o.pos, buf);
  o.pos += n;
  return n;
}

function mergeSubtree(old: string, value: string): string {
  const on = new Set(old.split(/\s+/).filter(Boolean));
  for (const tok of value.trim().split(/\s+/)) {
    if (tok.startsWith("+")) on.add(tok.slice(1));
    else if (tok.startsWith("-")) on.delete(tok.slice(1));
  }
  return [...on].join(" ");
}

/** write(2) on a description of the plan: the model changes, the operation is recorded. */
export function writeTo(s: PlanState, o: FdObj, buf: Uint8Array): number {
  const text = decoder.decode(buf);
  if (o.kind === "pipe") {
    if (o.end !== "w") throw new SyscallError("write", "pipe", Errno.EBADF);
    o.data.push(...buf);
    s.pipeReaders.get(o.data)?.();
    return buf.length;
  }
  if (o.kind === "special" && o.onWrite) {
    o.onWrite(text);
    return buf.length;
  }
  if (o.kind === "special") {
    if (o.name === "oom_score_adj") s.record("oom_score_adj", `oom_score_adj ${text.trim()}`);
    else s.record("write", `write ${quoted(text)} to ${o.name}`);
    return buf.length;
  }
  if (o.kind !== "file") return buf.length;
  const node = nodeAt(o.loc);
  if (!node) throw new SyscallError("write", s.describe(o.loc), Errno.ENOENT);
  const host = s.hostPathOf(o.loc);
  const where = s.describe(o.loc);
  if (host?.startsWith("/proc/sys/") && where.startsWith("/proc/sys/")) {
    const key = host.slice("/proc/sys/".length).replaceAll("/", ".");
    s.record("sysctl", `sysctl ${key}=${text.trim()}`, `sysctl:${key}`);
    return buf.length;
  }
  const old = node.content ?? s.peek(host ?? "") ?? "";
  if (host && o.loc.mount.sb === s.hostSb && hierarchyOf(host, s.ctx.cgroupMounts)) {
    const dir = host.slice(0, host.lastIndexOf("/"));
    const file = host.slice(dir.length + 1);
    const content = file === "cgroup.subtree_control" ? mergeSubtree(old, text) : text;
    s.put(o.loc, { ...node, content });
    if (file === "cgroup.procs" && text.trim() === "0") {
      s.record("cgroup", `cgroup: join ${dir} (cgroup.procs=0)`, `cgroup-join:${dir}`);
    } else {
      s.record("cgroup", `cgroup ${file}=${text.trim()} in ${dir}`, `cgroup:${host}`);
    }
    return buf.length;
  }
  s.put(o.loc, { ...node, content: (o.pos ? old.slice(0, o.pos) : "") + text });
  s.record("write", `write ${quoted(text)} to ${where}`, `write:${where}`);
  return buf.length;
}
