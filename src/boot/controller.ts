/**
 * The control server's methods (runsc's boot/controller.go containerManager), served over urpc with Go's
 * method and field names.
 */
import { Errno, isErrno, type Kernel, SIGNALS } from "../../ffi/mod.ts";

import type { Process } from "../specutils/spec.ts";
import { goField, isObject } from "../urpc/wire.ts";
import { FilePayload, type Handler } from "../urpc/server.ts";
import type { InitSpawn } from "./spawn_init.ts";
import type { ExecInitPlan } from "../protocol/init_config.ts";
import type { CgroupView } from "../cgroups/view.ts";
import {
  type BootStatus,
  type ControlMethod,
  type ControlMethods,
  type ExecPlan,
  methodName,
  SignalMode,
} from "../protocol/control.ts";
import { processRows, usageStats } from "./procs.ts";
import { readStats } from "../cgroups/stats.ts";
import { setFrozen } from "../cgroups/freezer.ts";

/** What the controller serves: the container boot holds (the loader, src/boot/loader.ts). */
export interface ServedContainer {
  readonly id: string;
  /** The app's host pid. */
  readonly pid: number;
  readonly status: BootStatus;
  readonly exitStatus: number | null;
  readonly init: { readonly kind: "clone" | "process" };
  readonly cgroups: CgroupView | null;
  /** The host pids of the container's processes. */
  pids(): number[];
  startRoot(): void;
  waitExit(): Promise<number>;
  waitPid(pid: number): Promise<number>;
  execute(process: Process, stdio: [number, number, number]): number;
  execSpawn(process: Process, stdio: [number, number, number], detached?: boolean): InitSpawn<ExecInitPlan>;
}

/** A served method: the argument as it arrived (checked here), and the reply the protocol names. */
type Served = {
  [M in ControlMethod]: (
    arg: unknown,
    files: number[],
  ) => ControlMethods[M]["reply"] | Promise<ControlMethods[M]["reply"]> | FilePayload;
};

/** Signals whose default action is to ignore, stop or continue, which do not end a process. */
const NOT_FATAL = new Set([0, 17, 18, 19, 20, 21, 22, 23, 28]);

function terminatesByDefault(signo: number): boolean {
  return !NOT_FATAL.has(signo);
}

function num(v: unknown, what: string): number {
  const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new Error(`invalid ${what}: ${JSON.stringify(v)}`);
  return n;
}

/** The containerManager object. */
export class Controller {
  readonly #k: Kernel;
  readonly #l: ServedContainer;

  constructor(k: Kernel, loader: ServedContainer) {
    this.#k = k;
    this.#l = loader;
  }

  #paused = false;

  /** An exec'd init joins the frozen cgroup and would never answer: refuse while paused. */
  #notPaused(): void {
    if (this.#paused) throw new Error("container is paused");
  }

  #checkCid(cid: unknown): void {
    if (cid !== this.#l.id) throw new Error(`container ${JSON.stringify(cid)} not found`);
  }

  /** The urpc method table. */
  handlers(): Record<string, Handler> {
    const served = this.#methods();
    return Object.fromEntries(
      (Object.keys(served) as ControlMethod[]).map((m) => [methodName(m), served[m] as Handler]),
    );
  }

  #methods(): Served {
    return {
      StartRoot: (cid) => {
        this.#checkCid(cid);
        this.#notPaused();
        this.#l.startRoot();
        return {};
      },
      Wait: async (cid) => {
        this.#checkCid(cid);
        return await this.#l.waitExit();
      },
      WaitPID: async (arg) => {
        if (!isObject(arg)) throw new Error("WaitPID: expected {PID, CID}");
        this.#checkCid(goField(arg, "CID"));
        return await this.#l.waitPid(num(goField(arg, "PID") ?? 0, "PID"));
      },
      Signal: (arg) => {
        if (!isObject(arg)) throw new Error("Signal: expected {CID, Signo, PID, Mode}");
        this.#checkCid(goField(arg, "CID"));
        this.#signal(
          num(goField(arg, "Signo"), "Signo"),
          num(goField(arg, "PID") ?? 0, "PID"),
          num(goField(arg, "Mode") ?? 0, "Mode"),
        );
        return {};
      },
      Processes: (cid) => {
        this.#checkCid(cid);
        const rows = processRows(this.#l.pids());
        return rows.length ? rows : null;
      },
      Event: () => {
        const cgroups = this.#l.cgroups;
        const data = this.#l.exitStatus !== null
          ? {}
          : cgroups
          ? readStats(cgroups)
          : usageStats(this.#l.pid);
        return { event: { type: "stats", id: this.#l.id, data }, containerUsage: {} };
      },
      // The cgroup freezer, through the cgroup fds boot was given (see src/cgroups/freezer.ts).
      Pause: (cid) => {
        this.#checkCid(cid);
        if (this.#l.status !== "running") throw new Error(`cannot pause a ${this.#l.status} container`);
        this.#freeze(true);
        this.#paused = true;
        return {};
      },
      Resume: (cid) => {
        this.#checkCid(cid);
        this.#freeze(false);
        this.#paused = false;
        return {};
      },
      State: (cid) => {
        this.#checkCid(cid);
        return { pid: this.#l.pid, status: this.#l.status, exitStatus: this.#l.exitStatus };
      },
      ExecuteAsync: (arg, files) => {
        if (!isObject(arg)) throw new Error("ExecuteAsync: expected ExecArgs");
        this.#checkCid(goField(arg, "ContainerID"));
        this.#notPaused();
        if (files.length !== 3) throw new Error(`ExecuteAsync: want 3 stdio files, got ${files.length}`);
        try {
          return this.#l.execute(execProcess(arg), [files[0], files[1], files[2]]);
        } finally {
          for (const fd of files) this.#k.close(fd);
        }
      },
      // runts extension for `exec --detach`: the caller spawns the exec'd init itself, from exactly what
      // ExecuteAsync would use (docs/architecture.md, "exec"). The container's cgroup fds come as files.
      PrepareExec: (arg) => {
        if (!isObject(arg)) throw new Error("PrepareExec: expected ExecArgs");
        this.#checkCid(goField(arg, "ContainerID"));
        this.#notPaused();
        const spawn = this.#l.execSpawn(execProcess(arg), [0, 1, 2], true);
        const fds: number[] = [];
        try {
          for (const fd of spawn.cgroupFds ?? []) fds.push(this.#k.dupAtLeast(fd, 3));
        } catch (e) {
          for (const fd of fds) this.#k.close(fd);
          throw e;
        }
        const plan: ExecPlan = { Config: spawn.config, PidNS: spawn.pidns, GlobalFlags: spawn.globalFlags };
        return new FilePayload(plan, fds);
      },
    };
  }

  #freeze(frozen: boolean): void {
    if (this.#l.exitStatus !== null) throw new Error("container not running");
    const cgroups = this.#l.cgroups;
    if (!cgroups) throw new Error("cannot pause: boot was given no cgroups (--cgroup-fd)");
    setFrozen(cgroups, frozen);
  }

  #signal(signo: number, pid: number, mode: number): void {
    if (this.#l.exitStatus !== null) throw new Error("container not running");
    // A created container's app is stopped before its first instruction (traced by boot); a queued
    // signal whose default action ends a process would end it there at start: end it now, as runc's
    // waiting init would end.
    if (this.#l.status === "created" && this.#l.init.kind === "clone" && terminatesByDefault(signo)) {
      signo = SIGNALS.KILL;
    }
    switch (mode) {
      case SignalMode.Process: {
        // The app's pid is safe to signal while boot serves: boot reaps it only after that (attached) or
        // never, so it cannot be reused.
        // (An exiting app has already left its cgroup, so the membership test would misreport it.)
        const target = pid === 0 ? this.#l.pid : pid;
        if (pid !== 0 && pid !== this.#l.pid && !this.#l.pids().includes(target)) {
          throw new Error(`process ${target} is not in the container`);
        }
        this.#k.kill(target, signo);
        return;
      }
      case SignalMode.All:
        if (pid !== 0) throw new Error("PID must be 0 when signalling all processes");
        for (const p of this.#l.pids()) {
          try {
            this.#k.kill(p, signo);
          } catch (e) {
            if (!isErrno(e, Errno.ESRCH)) throw e; // ESRCH: it exited meanwhile
          }
        }
        return;
      case SignalMode.ForegroundGroup: {
        // Only a group led by one of the container's processes: kill(-pid) must never reach the host's.
        const target = pid === 0 ? this.#l.pid : pid;
        if (target <= 0 || (target !== this.#l.pid && !this.#l.pids().includes(target))) {
          throw new Error(`process ${target} is not in the container`);
        }
        this.#k.kill(-target, signo);
        return;
      }
      default:
        throw new Error(`unknown signal mode ${mode}`);
    }
  }
}

/** Builds the exec'd process from ExecArgs: the full OCI process when given, else runsc's fields. */
export function execProcess(arg: Record<string, unknown>): Process {
  const json = goField(arg, "ProcessJSON");
  if (typeof json === "string" && json) return JSON.parse(json) as Process;
  const argv = goField(arg, "Argv") as string[] | undefined;
  if (!Array.isArray(argv) || argv.length === 0) throw new Error("ExecuteAsync: argv is empty");
  const caps = goField(arg, "Capabilities");
  return {
    args: argv,
    env: (goField(arg, "Envv") as string[] | undefined) ?? [],
    cwd: (goField(arg, "WorkingDirectory") as string | undefined) ?? (goField(arg, "Wd") as string) ?? "/",
    user: {
      uid: num(goField(arg, "KUID") ?? 0, "KUID"),
      gid: num(goField(arg, "KGID") ?? 0, "KGID"),
      additionalGids: (goField(arg, "ExtraKGIDs") as number[] | undefined) ?? [],
    },
    capabilities: isObject(caps) ? caps as Process["capabilities"] : undefined,
    terminal: goField(arg, "StdioIsPty") === true,
  };
}
