/**
 * Typed calls to boot's controller (urpc "containerManager.*"), one connection per call as runsc's
 * wrapper does. RemoteError (from src/urpc) reports a method that failed inside boot; a SyscallError
 * from connect means boot is not serving (gone, or not listening yet).
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { PendingCall } from "./pending_call.ts";
import { UrpcClient } from "../urpc/client.ts";
import {
  type BootState,
  checkBootState,
  checkExecPlan,
  checkNumber,
  type ControlMethod,
  type ControlMethods,
  type EventReply,
  type ExecArgs,
  type ExecPlan,
  methodName,
  type ProcessRow,
} from "../protocol/control.ts";

/**
 * A controller in this very process (`run` hosting its loader): calls its handlers without a socket, since
 * a synchronous call over the socket would wait for the event loop it blocks.
 */
export type LocalController = (method: string, arg: unknown) => unknown;

/** A client for one container's controller. */
export class Control {
  constructor(
    private readonly k: Kernel,
    readonly address: string,
    private readonly local?: LocalController,
  ) {}

  /** Makes one call on a fresh connection (or straight to the local controller). */
  call<M extends ControlMethod>(
    method: M,
    arg: ControlMethods[M]["arg"],
    files?: number[],
  ): ControlMethods[M]["reply"] {
    type Reply = ControlMethods[M]["reply"];
    if (this.local) {
      if (files?.length) throw new Error(`${method}: fds cannot be passed to an in-process controller`);
      const r = this.local(methodName(method), arg);
      if (r instanceof Promise) throw new Error(`${method}: an in-process controller cannot be waited on`);
      return r as Reply;
    }
    const c = UrpcClient.connect(this.k, this.address);
    try {
      return c.call<Reply>(methodName(method), arg, files);
    } finally {
      c.close();
    }
  }

  /** Lets the container's process run (returns once it exec'd the app). */
  startRoot(id: string): void {
    this.call("StartRoot", id);
  }

  /**
   * The container's pid and status. With `timeoutMs`, a boot that does not answer in time makes this
   * throw NoReplyError instead of blocking.
   */
  state(id: string, timeoutMs?: number): BootState {
    if (timeoutMs === undefined || this.local) return checkBootState(this.call("State", id));
    return checkBootState(PendingCall.send(this.k, this.address, methodName("State"), id).finish(timeoutMs));
  }

  /** Sends `signo` to the process `pid` (0: the container's), or to every process with Mode All. */
  signal(id: string, signo: number, mode: number, pid = 0): void {
    this.call("Signal", { CID: id, Signo: signo, PID: pid, Mode: mode });
  }

  /** Blocks until the container's process exits; its raw wait status. */
  wait(id: string): number {
    return checkNumber("Wait", this.call("Wait", id));
  }

  /** Blocks until process `pid` (an exec'd one) exits; its raw wait status. */
  waitPID(id: string, pid: number): number {
    return checkNumber("WaitPID", this.call("WaitPID", { PID: pid, CID: id }));
  }

  /** The container's processes (an empty list for none). */
  processes(id: string): ProcessRow[] {
    return this.call("Processes", id) ?? [];
  }

  /** Resource usage, as boot's Event method reports it. */
  event(id: string): EventReply {
    return this.call("Event", id);
  }

  /** Freezes every process of the container. */
  pause(id: string): void {
    this.call("Pause", id);
  }

  /** Thaws the container. */
  resume(id: string): void {
    this.call("Resume", id);
  }

  /**
   * How to spawn an exec'd process ourselves (`exec --detach`): boot's plan, plus the container's cgroup
   * directory fds, which the caller owns.
   */
  prepareExec(args: ExecArgs): { plan: ExecPlan; cgroupFds: number[] } {
    if (this.local) throw new Error("PrepareExec: not served in-process");
    const c = UrpcClient.connect(this.k, this.address);
    try {
      const { result, files } = c.callWithFiles<unknown>(methodName("PrepareExec"), args);
      try {
        return { plan: checkExecPlan(result), cgroupFds: files };
      } catch (e) {
        for (const fd of files) this.k.close(fd);
        throw e;
      }
    } finally {
      c.close();
    }
  }

  /** Starts a process in the container with `stdio` (stdin, stdout, stderr) as its fds; its host pid. */
  executeAsync(args: ExecArgs, stdio: number[]): number {
    return checkNumber("ExecuteAsync", this.call("ExecuteAsync", args, stdio));
  }
}
