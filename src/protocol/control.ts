/**
 * The control protocol between the wrapper and boot: runsc's urpc `containerManager` methods (one JSON
 * request, one JSON reply, fds by SCM_RIGHTS), each with its argument and reply types. The wrapper's
 * client (src/wrapper/control.ts) and boot's server (src/boot/controller.ts) both speak these types.
 */
import { checkInitPlan, checkPidNamespace, type ExecInitPlan, type PidNamespace } from "./init_config.ts";

/** The container's life as boot sees it. */
export type BootStatus = "created" | "running" | "stopped";

/** What boot's State method reports (runts extension). */
export interface BootState {
  /** Host pid of the container's process. */
  pid: number;
  status: BootStatus;
  /** The raw wait status once the process exited, else null. */
  exitStatus: number | null;
}

/** One row of the Processes method (runsc's control.Process), with runsc's JSON field names. */
export interface ProcessRow {
  uid: number;
  pid: number;
  ppid: number;
  threads?: number[] | null;
  c: number;
  tty: string;
  stime: string;
  time: string;
  cmd: string;
}

/** Signal delivery modes of containerManager.Signal (runsc's DeliverTo*). */
export const SignalMode = { Process: 0, All: 1, ForegroundGroup: 2 } as const;

/** The argument of containerManager.Signal. */
export interface SignalArgs {
  CID: string;
  Signo: number;
  /** 0: the container's process. */
  PID: number;
  /** A SignalMode. */
  Mode: number;
}

/** The argument of containerManager.ExecuteAsync and PrepareExec (see notes/boot-design.md). */
export interface ExecArgs {
  Filename: string;
  argv: string[];
  envv: string[];
  wd: string;
  KUID: number;
  KGID: number;
  ExtraKGIDs: number[];
  /** The OCI capabilities object of the process, or null for none. */
  Capabilities: unknown;
  StdioIsPty: boolean;
  ContainerID: string;
  /** The whole OCI process object, JSON-encoded; boot applies everything in it. */
  ProcessJSON: string;
  /**
   * `exec --detach`: nobody will call WaitPID; the engine's subreaper expects to reap the process itself,
   * so the wrapper spawns it (PrepareExec) instead of boot (ExecuteAsync).
   */
  Detached: boolean;
}

/**
 * The reply of containerManager.PrepareExec: how to spawn the exec'd init (its plan, pid namespace and
 * global flags); the container's cgroup directory fds come with it, in order.
 */
export interface ExecPlan {
  Config: ExecInitPlan;
  PidNS: PidNamespace;
  GlobalFlags: string[];
}

/** The reply of containerManager.Event. */
export interface EventReply {
  event: { type: "stats"; id: string; data: unknown };
  containerUsage: Record<string, never>;
}

/** Every method: its argument and its reply. */
export interface ControlMethods {
  StartRoot: { arg: string; reply: Record<string, never> };
  Wait: { arg: string; reply: number };
  WaitPID: { arg: { PID: number; CID: string }; reply: number };
  Signal: { arg: SignalArgs; reply: Record<string, never> };
  Processes: { arg: string; reply: ProcessRow[] | null };
  Event: { arg: string; reply: EventReply };
  Pause: { arg: string; reply: Record<string, never> };
  Resume: { arg: string; reply: Record<string, never> };
  State: { arg: string; reply: BootState };
  ExecuteAsync: { arg: ExecArgs; reply: number };
  /** runts extension for `exec --detach`. */
  PrepareExec: { arg: ExecArgs; reply: ExecPlan };
}

/** A method name. */
export type ControlMethod = keyof ControlMethods;

/** The urpc name of `m`. */
export function methodName(m: ControlMethod): `containerManager.${ControlMethod}` {
  return `containerManager.${m}`;
}

/** A reply that does not hold what the protocol says. */
export class ReplyError extends Error {
  constructor(method: ControlMethod, message: string) {
    super(`${method}: boot's reply: ${message}`);
    this.name = "ReplyError";
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** State's reply, checked on arrival. */
export function checkBootState(v: unknown): BootState {
  const ok = isObj(v) && Number.isInteger(v.pid) && (v.pid as number) > 0 &&
    (v.status === "created" || v.status === "running" || v.status === "stopped") &&
    (v.exitStatus === null || Number.isInteger(v.exitStatus));
  if (!ok) throw new ReplyError("State", `unexpected ${JSON.stringify(v)}`);
  return v as unknown as BootState;
}

/** PrepareExec's reply, checked on arrival: an exec's plan, a pid namespace and the global flags. */
export function checkExecPlan(v: unknown): ExecPlan {
  try {
    if (!isObj(v)) throw new Error(`unexpected ${JSON.stringify(v)}`);
    const config = checkInitPlan(v.Config, false);
    if (config.mode !== "exec") throw new Error(`an exec's plan has mode ${config.mode}`);
    const flags = v.GlobalFlags;
    if (!Array.isArray(flags) || !flags.every((f) => typeof f === "string")) {
      throw new Error(`GlobalFlags: unexpected ${JSON.stringify(flags)}`);
    }
    return { Config: config, PidNS: checkPidNamespace(v.PidNS), GlobalFlags: flags };
  } catch (e) {
    throw new ReplyError("PrepareExec", (e as Error).message);
  }
}

/** A wait status or pid reply (Wait, WaitPID, ExecuteAsync), checked on arrival. */
export function checkNumber(method: ControlMethod, v: unknown): number {
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw new ReplyError(method, `unexpected ${JSON.stringify(v)}`);
  }
  return n;
}
