/**
 * What the plan kernel knows while the create path runs against it: the recorded operations by stage, the
 * simulated process (fd table, root, cwd, namespaces, credentials), and the modelled file systems (vfs.ts).
 * Nothing here touches the host beyond lstat, readlink and reads of regular files.
 */
import { AT, Errno, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { LinuxIDMapping, LinuxTimeOffset } from "../specutils/spec.ts";
import { parseMapText } from "../specutils/idmap.ts";
import type { CgroupRecord } from "../cgroups/manager.ts";
import { freshCgroupFile } from "./cgroupfiles.ts";
import type { CgroupMountInfo } from "./cgroupfiles.ts";
import { hostPath, type Loc, Mount, nodeAt, pathFrom, resolve, Superblock, type VNode } from "./vfs.ts";

/** The three processes of a create: the wrapper (`runts create`), boot, and init (boot's clone child). */
export type Stage = "wrapper" | "boot" | "init";

/** One operation of the plan. */
export interface PlanOp {
  stage: Stage;
  /** The kind of operation ("mount", "capset", "cgroup", ...; docs/explain.md lists them). */
  op: string;
  /** One readable line. */
  text: string;
  /** What it acts on: two plans' operations with the same key and different text are a change. */
  key: string;
  /** False for lookups and fd plumbing (shown with --all). */
  effect: boolean;
}

/** An open file description of the simulated process. */
export type FdObj =
  | { kind: "file"; loc: Loc; flags: number; pos: number; root?: boolean; bytes?: Uint8Array }
  | { kind: "ns"; type: string; id: string; path: string }
  | { kind: "pipe"; data: number[]; end: "r" | "w" }
  | {
    kind: "special";
    name: string;
    content: string;
    pos: number;
    /** What a write does (may throw a SyscallError); without it the write is recorded as one. */
    onWrite?: (text: string) => void;
  }
  | { kind: "other"; what: string; mode: number; insns?: number };

/** The capability sets of the simulated process. */
export interface Caps {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  bounding: bigint;
  ambient: bigint;
}

/** The simulated process. */
export interface ProcState {
  /** Its pid as the host sees it, and as its own pid namespace does. */
  pid: number;
  pidInNs: number;
  /** What it is, for messages: "wrapper", "boot", "init", … */
  name: string;
  root: Loc;
  cwd: Loc;
  fds: Map<number, FdObj>;
  /** Namespace kind ("mnt", "net", ...) → identity. */
  ns: Record<string, string>;
  uid: number;
  gid: number;
  groups: number[];
  caps: Caps;
  noNewPrivs: boolean;
  umask: number;
  seccompFilters: number;
  /** The offsets written for its time namespace (for its children, then for itself once it execs). */
  timeOffsets?: Record<string, LinuxTimeOffset>;
}

/** A user namespace of the plan (the host's included). */
export interface UserNs {
  /** The user namespace it was made in; null for the host's (the plan does not know its ancestors). */
  parent: string | null;
  /** Its maps; null until written. */
  uidMap: LinuxIDMapping[] | null;
  gidMap: LinuxIDMapping[] | null;
  setgroups: "allow" | "deny";
  /** Its creator's uid and gid in the parent namespace: what the creator is once the maps are written. */
  creator: { uid: number; gid: number };
}

/** What the plan kernel is told about the container. */
export interface PlanContext {
  /** spec.root.path. */
  rootfs: string;
  masked: Set<string>;
  readonly: Set<string>;
  /** The host's cgroup hierarchies (mountpoint, version, v1 controllers). */
  cgroupMounts: ReadonlyArray<CgroupMountInfo & { controllers: string[] }>;
  /** /proc/self/cgroup as init would read it, in a cgroup namespace of its own or not. */
  procCgroup(ownNamespace: boolean): string;
  /** The highest capability number. */
  lastCap: number;
  /** What the spec's linux.seccomp asks for, in a line (for the filter load). */
  seccomp?: string;
}

const NS_KINDS = ["mnt", "uts", "ipc", "net", "pid", "user", "cgroup", "time"];

function hostNsIds(): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const t of NS_KINDS) {
    try {
      const st = Deno.statSync(`/proc/self/ns/${t}`);
      ids[t] = `${st.dev}:${st.ino}`;
    } catch {
      ids[t] = `host:${t}`;
    }
  }
  return ids;
}

function hostUserNs(): UserNs {
  const read = (f: string) => {
    try {
      return Deno.readTextFileSync(`/proc/self/${f}`);
    } catch {
      return null;
    }
  };
  const identity = "0 0 4294967295";
  return {
    parent: null,
    uidMap: parseMapText(read("uid_map") ?? identity),
    gidMap: parseMapText(read("gid_map") ?? identity),
    setgroups: read("setgroups")?.trim() === "deny" ? "deny" : "allow",
    creator: { uid: 0, gid: 0 },
  };
}

/** The state. */
export class PlanState {
  readonly ops: PlanOp[] = [];
  stage: Stage = "wrapper";
  readonly hostSb: Superblock;
  readonly hostRoot: Mount;
  readonly hostNs = hostNsIds();
  proc: ProcState;
  /** The detached copy of the rootfs that becomes the container's root. */
  containerRoot: Mount | null = null;
  /** The process the wrapper spawned (boot): its fd table (child fd → description), argv and pid. */
  spawned: { fds: Map<number, FdObj>; argv: readonly string[]; pid: number } | null = null;
  /** The cgroups the wrapper planned. */
  cgroups: CgroupRecord | null = null;
  /** init's error, when its job failed. */
  childFailure: string | null = null;
  /** The app as execve starts it: set when init's job returns. */
  final: { path: string; argv: readonly string[]; env: readonly string[]; proc: ProcState } | null = null;
  /** User namespaces by identity. */
  readonly users = new Map<string, UserNs>();
  /** Namespace identity → the user namespace that owns it (the host's when not listed). */
  readonly owners = new Map<string, string>();
  /** The processes of the plan by host pid (the wrapper, boot, init, holders). */
  readonly procs = new Map<number, ProcState>();
  /** Processes killed (by SIGKILL) and not reaped. */
  readonly killed = new Set<number>();
  /** What reacts to a write into a pipe (a thread of boot reading it), by the pipe's buffer. */
  readonly pipeReaders = new Map<number[], () => void>();
  #nsCounter = 0;
  #pid = 4000;
  readonly #pidsIn = new Map<string, number>();

  constructor(readonly ctx: PlanContext) {
    this.hostSb = new Superblock(
      "host",
      "/",
      (rel) => freshCgroupFile(`/${rel}`, ctx.cgroupMounts, this.peek),
    );
    this.hostRoot = new Mount(this.hostSb, "", 0, "/");
    const root = { mount: this.hostRoot, rel: "" };
    const stdio = (): FdObj => ({ kind: "other", what: "stdio", mode: S_IF.FIFO | 0o600 });
    const all = (1n << BigInt(ctx.lastCap + 1)) - 1n;
    this.proc = {
      pid: Deno.pid,
      pidInNs: Deno.pid,
      name: "wrapper",
      root,
      cwd: root,
      fds: new Map([[0, stdio()], [1, stdio()], [2, stdio()]]),
      ns: { ...this.hostNs },
      uid: 0,
      gid: 0,
      groups: [],
      caps: { effective: all, permitted: all, inheritable: 0n, bounding: all, ambient: 0n },
      noNewPrivs: false,
      umask: 0o022,
      seccompFilters: 0,
    };
    this.procs.set(Deno.pid, this.proc);
    this.users.set(this.hostNs.user, hostUserNs());
    try {
      this.proc.cwd = resolve(Deno.cwd(), this.walk("/", true));
    } catch {
      // the cwd stays "/"
    }
  }

  /** Reads a host or planned file by host path (overlay first; "" when unreadable); null when it does not exist. */
  readonly peek = (path: string): string | null => {
    const n = nodeAt({ mount: this.hostRoot, rel: path.replace(/^\/+/, "") });
    if (!n) return null;
    if (n.content !== undefined) return n.content;
    if (!n.host || (n.mode & S_IF.FMT) !== S_IF.REG) return "";
    try {
      return Deno.readTextFileSync(n.host);
    } catch {
      // It exists (a write-only cgroup file such as devices.deny).
      return "";
    }
  };

  /** Records an operation of the current stage. */
  record(op: string, text: string, key: string = op, effect = true): PlanOp {
    const o = { stage: this.stage, op, text, key, effect };
    this.ops.push(o);
    return o;
  }

  /** The last operation recorded, when it is of kind `op` in this stage (for merging runs of calls). */
  last(op: string): PlanOp | undefined {
    const o = this.ops[this.ops.length - 1];
    return o && o.op === op && o.stage === this.stage ? o : undefined;
  }

  /** A new namespace identity, owned by the user namespace `owner`. */
  newNs(type: string, owner: string): string {
    const id = `plan:${type}:${++this.#nsCounter}`;
    this.owners.set(id, owner);
    return id;
  }

  /** Whether namespace `id` is one the plan made (not the host's, nor one joined by path). */
  isPlanned(id: string): boolean {
    return id.startsWith("plan:");
  }

  /** The user namespace `p` is in. */
  userNs(p: ProcState = this.proc): UserNs {
    return this.users.get(p.ns.user)!;
  }

  /** A new pid. */
  newPid(): number {
    return ++this.#pid;
  }

  /** The next pid in pid namespace `ns` as that namespace numbers them (1 for its first process). */
  nextPidIn(ns: string): number {
    const n = (this.#pidsIn.get(ns) ?? 0) + 1;
    this.#pidsIn.set(ns, n);
    return n;
  }

  /** The description open as `fd`; EBADF when none. */
  fd(fd: number, call: string): FdObj {
    const o = this.proc.fds.get(fd);
    if (!o) throw new SyscallError(call, `fd ${fd}`, Errno.EBADF);
    return o;
  }

  /** The place of a file fd (or of AT_FDCWD: the cwd). */
  loc(fd: number, call: string): Loc {
    if (fd === AT.FDCWD) return this.proc.cwd;
    const o = this.fd(fd, call);
    if (o.kind !== "file") throw new SyscallError(call, `fd ${fd}`, Errno.ENOTDIR);
    return o.loc;
  }

  /** Puts `obj` at the lowest free fd number from `min` on. */
  alloc(obj: FdObj, min = 0): number {
    let n = min;
    while (this.proc.fds.has(n)) n++;
    this.proc.fds.set(n, obj);
    return n;
  }

  /** A resolution from the process's root (and `start`, default the cwd). */
  walk(call: string, follow: boolean, start: Loc = this.proc.cwd, root: Loc = this.proc.root) {
    return { start, root, follow, call };
  }

  /** The container root as a place, once init has detached it. */
  containerRootLoc(): Loc | null {
    return this.containerRoot ? { mount: this.containerRoot, rel: this.containerRoot.root } : null;
  }

  /** Where `loc` is: a container path once there is a container root it is below, else a host path. */
  describe(loc: Loc): string {
    const root = this.containerRootLoc();
    const inside = root ? pathFrom(loc, root) : null;
    if (inside !== null) return inside;
    const host = pathFrom(loc, { mount: this.hostRoot, rel: "" });
    return host === null ? "(a detached mount)" : `${host} (host)`;
  }

  /** The host path a place shows, when its file system is a host directory. */
  hostPathOf(loc: Loc): string | null {
    const b = loc.mount.sb.backing;
    return b === null ? null : hostPath(b, loc.rel);
  }

  /** Sets the node at `loc` (a file or directory the plan makes or changes). */
  put(loc: Loc, node: VNode | null): void {
    loc.mount.sb.overlay.set(loc.rel, node);
  }

  /** Whether the simulated process has a namespace of kind `t` other than the host's. */
  ownsNs(t: string): boolean {
    return this.proc.ns[t] !== this.hostNs[t];
  }
}

/** A copy of a process state for a child (its own fd table and credentials, the same file systems). */
export function forkState(p: ProcState): ProcState {
  return {
    ...p,
    fds: new Map(p.fds),
    ns: { ...p.ns },
    groups: [...p.groups],
    caps: { ...p.caps },
  };
}
