/**
 * The boot → init hop: what init is told, for a create or for an exec (a union: each carries only its
 * own fields). A clone child gets it in the memory it shares with boot; the `runts init` fallback gets it
 * as one JSON document in a memfd and checks it on arrival (parseInitConfig); `exec --detach` gets the
 * plan in PrepareExec's reply (src/protocol/control.ts) and checks it the same way.
 */
import type { LinuxTimeOffset, Mount, Process, Spec } from "../specutils/spec.ts";

/** The namespace paths an exec joins (those of the running container). */
export interface JoinedNamespace {
  type: string;
  path: string;
}

/** What every init is told. */
interface CommonPlan {
  id: string;
  spec: Spec;
  /** The process to run (spec.process for create; the exec'd process for exec). */
  process: Process;
  /** Restrict the app to this many CPUs (0: all). */
  cpuNum: number;
  /** fds 3 … 3+preserveFds-1 pass through to the app. */
  preserveFds: number;
  /**
   * The container's user namespace was joined already, by boot's first child, which entered or made the
   * pid namespace in it (src/boot/first_child.ts); init does not join it again.
   */
  userEntered?: boolean;
}

/** A create: build a new container. */
export interface CreateInitPlan extends CommonPlan {
  mode: "create";
  /** The final mount list (from --mounts-fd, or spec.mounts). */
  mounts: Mount[];
  /** --network: none forces an empty network namespace, host keeps the host's. */
  network: "none" | "sandbox" | "host";
  /** chroot instead of pivot_root. */
  noPivot: boolean;
  /**
   * The root and bind source fds are detached trees already (boot made them, because init in a user
   * namespace of its own may not copy mount trees of boot's namespace): used as they are.
   */
  sourcesDetached?: boolean;
  /**
   * Rootless: the root and bind sources are taken by path once init has a mount namespace of its own
   * (src/init/rootless.ts); rootFd and bindFds only say which files those must be.
   */
  sourcesByPath?: boolean;
}

/** An exec: join a running container. */
export interface ExecInitPlan extends CommonPlan {
  mode: "exec";
  /** The namespaces of the running container to join. */
  join: JoinedNamespace[];
  /**
   * The offsets of the container's time namespace, when it has one. The exec'd process gets a new time
   * namespace with them instead of joining the container's (src/init/timens.ts says why).
   */
  timeOffsets?: Record<string, LinuxTimeOffset>;
  /**
   * The running container's root (`/proc/PID/root`), entered with chroot after the namespaces, for a
   * container whose root is not its mount namespace's root (it shares the runtime's or a joined one).
   */
  joinRoot?: string;
  /**
   * `runts exec --detach`: the wrapper that spawned init exits right after the start, so the parent-death
   * signal is cleared before execve and the process is re-parented to the engine's subreaper.
   */
  detached?: boolean;
}

/** The configuration before its fds are laid out (src/boot/spawn_init.ts layoutInitFds numbers them). */
export type InitPlan = CreateInitPlan | ExecInitPlan;

/** The fds every init is told of, by their numbers in init. */
interface CommonFds {
  /**
   * fds of the container's cgroup directories (one per hierarchy); init writes "0" to cgroup.procs under
   * each as its very first step. Empty: init stays in boot's cgroups.
   */
  cgroupFds: number[];
  /**
   * Where a `runts init` process reports "ready", or an error line (CLOEXEC at exec, so EOF after start
   * means the exec succeeded); -1 for a clone child.
   */
  readyFd: number;
  /** One byte here means: exec the process now; -1 for a clone child. */
  startFd: number;
}

/** A create's configuration, with the fds of its root and bind sources. */
export interface CreateInitConfig extends CreateInitPlan, CommonFds {
  /** fd of the container's root directory, or null to use spec.root.path. */
  rootFd: number | null;
  /** mount index → fd of its (bind) source. */
  bindFds: Record<string, number>;
}

/** An exec's configuration. */
export interface ExecInitConfig extends ExecInitPlan, CommonFds {}

/** The init process's instructions. */
export type InitConfig = CreateInitConfig | ExecInitConfig;

/** Where init's pid namespace comes from. */
export type PidNamespace = { kind: "inherit" } | { kind: "new" } | { kind: "join"; path: string };

/**
 * What a `runts init` process reports on its ready pipe: it is ready (waiting for the start byte), or it
 * failed. EOF (null below) after the start byte means the execve succeeded. On the pipe each is one line,
 * `ready` or `error: <message>`.
 */
export type InitReport = { kind: "ready" } | { kind: "error"; message: string };

/** `r` as its line on the ready pipe (with the newline; a message's newlines become spaces). */
export function encodeReport(r: InitReport): string {
  return (r.kind === "ready" ? "ready" : `error: ${r.message.replaceAll("\n", " ")}`) + "\n";
}

/** A line read from the ready pipe (null: EOF) as a report; null for EOF. Anything else is an error report. */
export function decodeReport(line: string | null): InitReport | null {
  if (line === null) return null;
  if (line === "ready") return { kind: "ready" };
  return { kind: "error", message: line.replace(/^error: /, "") };
}

/** A configuration that does not hold what the protocol says. */
export class InitConfigError extends Error {
  constructor(message: string) {
    super(`init configuration: ${message}`);
    this.name = "InitConfigError";
  }
}

type Obj = Record<string, unknown>;

function fail(what: string, v: unknown): never {
  throw new InitConfigError(`${what}: unexpected ${JSON.stringify(v) ?? String(v)}`);
}

function obj(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(what, v);
  return v as Obj;
}

function int(v: unknown, what: string, min = 0): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) fail(what, v);
  return v;
}

function optional<T>(o: Obj, key: string, check: (v: unknown, what: string) => T): void {
  if (o[key] !== undefined) check(o[key], key);
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") fail(what, v);
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") fail(what, v);
  return v;
}

function list<T>(v: unknown, what: string, item: (v: unknown, what: string) => T): T[] {
  if (!Array.isArray(v)) fail(what, v);
  return v.map((x, i) => item(x, `${what}[${i}]`));
}

function onlyKeys(o: Obj, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new InitConfigError(`unknown field ${k}`);
}

const COMMON = ["mode", "id", "spec", "process", "cpuNum", "preserveFds", "userEntered"] as const;
const CREATE = [...COMMON, "mounts", "network", "noPivot", "sourcesDetached", "sourcesByPath"] as const;
const EXEC = [...COMMON, "join", "timeOffsets", "joinRoot", "detached"] as const;
const FDS = ["cgroupFds", "readyFd", "startFd"] as const;

/**
 * Checks `v` as an init plan (`fds` false) or a whole configuration (`fds` true) of the protocol: the
 * mode, each field's type, no field of the other mode and none unknown. The spec itself was read and
 * validated by boot; here it must be an object whose process, when given, names a program.
 */
export function checkInitPlan(v: unknown, fds: true): InitConfig;
export function checkInitPlan(v: unknown, fds: false): InitPlan;
export function checkInitPlan(v: unknown, fds: boolean): InitPlan | InitConfig {
  const o = obj(v, "configuration");
  const mode = o.mode;
  if (mode !== "create" && mode !== "exec") fail("mode", mode);
  str(o.id, "id");
  obj(o.spec, "spec");
  const p = obj(o.process, "process");
  list(p.args, "process.args", str);
  if (!(p.args as string[]).length) throw new InitConfigError("process.args is empty");
  if (p.user !== undefined) {
    const user = obj(p.user, "process.user");
    int(user.uid, "process.user.uid");
    int(user.gid, "process.user.gid");
  }
  int(o.cpuNum, "cpuNum");
  int(o.preserveFds, "preserveFds");
  optional(o, "userEntered", bool);
  const extra = fds ? [...FDS, ...(mode === "create" ? ["rootFd", "bindFds"] : [])] : [];
  if (mode === "create") {
    onlyKeys(o, [...CREATE, ...extra]);
    list(o.mounts, "mounts", (m, what) => str(obj(m, what).destination, `${what}.destination`));
    if (o.network !== "none" && o.network !== "sandbox" && o.network !== "host") fail("network", o.network);
    bool(o.noPivot, "noPivot");
    optional(o, "sourcesDetached", bool);
    optional(o, "sourcesByPath", bool);
  } else {
    onlyKeys(o, [...EXEC, ...extra]);
    list(o.join, "join", (j, what) => {
      const e = obj(j, what);
      return [str(e.type, `${what}.type`), str(e.path, `${what}.path`)];
    });
    optional(o, "timeOffsets", obj);
    optional(o, "joinRoot", str);
    optional(o, "detached", bool);
  }
  if (fds) {
    list(o.cgroupFds, "cgroupFds", (fd, what) => int(fd, what));
    int(o.readyFd, "readyFd", -1);
    int(o.startFd, "startFd", -1);
    if (mode === "create") {
      if (o.rootFd !== null) int(o.rootFd, "rootFd");
      for (const [i, fd] of Object.entries(obj(o.bindFds, "bindFds"))) int(fd, `bindFds[${i}]`);
    }
  }
  return o as unknown as InitPlan | InitConfig;
}

/** A configuration as the `runts init` process reads it from its memfd: parsed, then checked. */
export function parseInitConfig(text: string): InitConfig {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InitConfigError((e as Error).message);
  }
  return checkInitPlan(v, true);
}

/** Checks `v` as a pid namespace of the protocol. */
export function checkPidNamespace(v: unknown): PidNamespace {
  const o = obj(v, "pid namespace");
  if (o.kind === "inherit" || o.kind === "new") return { kind: o.kind };
  if (o.kind === "join") return { kind: "join", path: str(o.path, "pid namespace path") };
  fail("pid namespace kind", o.kind);
}
