/**
 * Typed calls to boot's controller (urpc "containerManager.*"), one connection per call as runsc's
 * wrapper does. RemoteError (from src/urpc) reports a method that failed inside boot; a SyscallError
 * from connect means boot is not serving (gone, or not listening yet).
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { UrpcClient } from "../urpc/client.ts";

/** What boot's State method reports (runts extension). */
export interface BootState {
  /** Host pid of the container's process. */
  pid: number;
  status: "created" | "running" | "stopped";
  /** The raw wait status once the process exited, else null. */
  exitStatus: number | null;
}

/** One row of the Processes method (runsc's control.Process). */
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

/** Signal delivery modes of containerManager.Signal. */
export const SignalMode = { Process: 0, All: 1, ForegroundProcessGroup: 2 } as const;

/** The argument of containerManager.ExecuteAsync (see notes/boot-design.md). */
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
   * `exec --detach`: nobody will call WaitPID; the engine's subreaper expects to reap the process itself
   * (boot may ignore this today; see notes/boot-design.md).
   */
  Detached: boolean;
}

/** A client for one container's controller. */
export class Control {
  constructor(private readonly k: Kernel, readonly address: string) {}

  /** Makes one call on a fresh connection. */
  call<T>(method: string, arg: unknown, files?: number[]): T {
    const c = UrpcClient.connect(this.k, this.address);
    try {
      return c.call<T>(`containerManager.${method}`, arg, files);
    } finally {
      c.close();
    }
  }

  /** Lets the container's process run (returns once it exec'd the app). */
  startRoot(id: string): void {
    this.call("StartRoot", id);
  }

  /** The container's pid and status. */
  state(id: string): BootState {
    return this.call<BootState>("State", id);
  }

  /** Sends `signo` to the process `pid` (0: the container's), or to every process with Mode All. */
  signal(id: string, signo: number, mode: number, pid = 0): void {
    this.call("Signal", { CID: id, Signo: signo, PID: pid, Mode: mode });
  }

  /** Blocks until the container's process exits; its raw wait status. */
  wait(id: string): number {
    return Number(this.call<number>("Wait", id));
  }

  /** Blocks until process `pid` (an exec'd one) exits; its raw wait status. */
  waitPID(id: string, pid: number): number {
    return Number(this.call<number>("WaitPID", { PID: pid, CID: id }));
  }

  /** The container's processes (an empty list for none). */
  processes(id: string): ProcessRow[] {
    return this.call<ProcessRow[] | null>("Processes", id) ?? [];
  }

  /** Resource usage, as boot's Event method reports it. */
  event(id: string): unknown {
    return this.call<unknown>("Event", id);
  }

  /** Freezes every process of the container. */
  pause(id: string): void {
    this.call("Pause", id);
  }

  /** Thaws the container. */
  resume(id: string): void {
    this.call("Resume", id);
  }

  /** Starts a process in the container with `stdio` (stdin, stdout, stderr) as its fds; its host pid. */
  executeAsync(args: ExecArgs, stdio: number[]): number {
    return Number(this.call<number>("ExecuteAsync", args, stdio));
  }
}
