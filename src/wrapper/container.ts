/**
 * One container as the wrapper sees it (runsc's container.Container): its record (the state file), the
 * client for its boot, and its live state. createContainer (container_create.ts) spawns boot and writes
 * the record; every later verb (container_<verb>.ts) loads it and talks to boot over its control socket.
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { Errno } from "../../ffi/errno.ts";
import { isErrno } from "../../ffi/error.ts";
import type { Config } from "../config/config.ts";
import type { Spec } from "../specutils/spec.ts";
import { absOf, clean } from "../specutils/path.ts";
import { Control } from "./control.ts";
import type { Loader } from "../boot/loader.ts";
import { RemoteError } from "../urpc/client.ts";
import { NoReplyError } from "./pending_call.ts";
import { ContainerError } from "./errors.ts";
import type { HookState } from "./hooks.ts";
import { validateID } from "./id.ts";
import { FileLock } from "./lock.ts";
import { isAlive } from "./proc.ts";
import { type LiveState, resolveLiveState } from "./status.ts";
import { type ContainerRecord, StateDir, type Status } from "./state_file.ts";

/**
 * Modules that only create, delete and exec need (spec validation, cgroups, exec spawning): imported on
 * demand, each by the commands that use it, so that state, kill, start, ps and list start faster.
 */
interface HeavyModules {
  readSpecFromFile: typeof import("../specutils/specutils.ts").readSpecFromFile;
  cgroups: typeof import("../cgroups/container.ts");
  spawnDetachedExec: typeof import("./exec.ts").spawnDetachedExec;
  inProcess: typeof import("./in_process.ts") | null;
}

/** The groups of HeavyModules a command loads. */
export type ContainerModule = "specutils" | "cgroups" | "exec";

const heavy: Partial<HeavyModules> = {};

/** Loads the modules of `parts` (all by default); call before the verbs that need them. */
export async function loadContainerModules(
  parts: readonly ContainerModule[] = ["specutils", "cgroups", "exec"],
): Promise<void> {
  await Promise.all(parts.map(async (part) => {
    switch (part) {
      case "specutils":
        heavy.readSpecFromFile ??= (await import("../specutils/specutils.ts")).readSpecFromFile;
        break;
      case "cgroups":
        heavy.cgroups ??= await import("../cgroups/container.ts");
        break;
      case "exec":
        heavy.spawnDetachedExec ??= (await import("./exec.ts")).spawnDetachedExec;
        break;
    }
  }));
}

/** src/wrapper/in_process.ts (the loader and everything boot needs), loaded only by a foreground `run`. */
export async function loadInProcess(): Promise<typeof import("./in_process.ts")> {
  heavy.inProcess ??= await import("./in_process.ts");
  return heavy.inProcess;
}

function loaded<K extends keyof HeavyModules>(key: K): NonNullable<HeavyModules[K]> {
  const m = heavy[key];
  if (!m) throw new Error(`internal error: loadContainerModules() did not load ${key}`);
  return m as NonNullable<HeavyModules[K]>;
}

/** The modules loadContainerModules() loaded; each throws on use when it was not loaded. */
export function modules(): Omit<HeavyModules, "inProcess"> {
  return {
    get readSpecFromFile() {
      return loaded("readSpecFromFile");
    },
    get cgroups() {
      return loaded("cgroups");
    },
    get spawnDetachedExec() {
      return loaded("spawnDetachedExec");
    },
  };
}

/** The runtime-spec version of the state documents runts prints. */
export const OCI_VERSION = "1.2.0";

/** How long delete waits for boot to go after killing the container. */
export const STOP_TIMEOUT_MS = 10_000;

/** How long delete waits for boot to answer its kill request before killing boot itself. */
export const BOOT_ANSWER_MS = 2_000;

/** The runtime-spec state document (`runts state`), with runc's extra fields, in runc's order. */
export interface StateDocument {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  /** The root filesystem's absolute path. */
  rootfs: string;
  /** When create began, RFC 3339 in UTC. */
  created: string;
  /** Always empty, as in runc's state (only `list` names the owner). */
  owner: string;
  annotations?: Record<string, string>;
}

/** The loader of a container that this process hosts (`run`), and whether it is released. */
export interface HostedLoader {
  loader: Loader;
  released: boolean;
  destroyed: Promise<void>;
}

/** The state root as an absolute path. */
export function stateRoot(conf: Config): string {
  return absOf(Deno.cwd(), conf.root);
}

/**
 * A loaded container: its record and state directory, the client for its boot, and this process's loader
 * when `run` hosts it. The verbs are functions of it, one file each (container_<verb>.ts).
 */
export class Container {
  /** The lock this process took with lock(), if any. */
  #ownLock: FileLock | undefined;
  /** This process's loader, when `run` hosts it. */
  #hosted: HostedLoader | undefined;

  /** A container of record `rec` in `dir` (see load, and createContainer in container_create.ts). */
  constructor(
    readonly k: Kernel,
    readonly dir: StateDir,
    public rec: ContainerRecord,
  ) {}

  /** Hosts `loader` (`run`): this process is the container's boot until releaseHosted(). */
  host(loader: Loader): void {
    this.#hosted = { loader, released: false, destroyed: Promise.resolve() };
  }

  /** This process's loader, when `run` hosts it (released or not). */
  get hosted(): HostedLoader | undefined {
    return this.#hosted;
  }

  /** Loads container `id` from the state root; ContainerError("not-exist") when it is unknown. */
  static load(k: Kernel, root: string, id: string): Container {
    validateID(id);
    const dir = new StateDir(root, id);
    return new Container(k, dir, dir.load());
  }

  /** The container's id. */
  get id(): string {
    return this.rec.id;
  }

  /** The container's spec, as read at create time. */
  get spec(): Spec {
    return this.rec.spec;
  }

  /** A client for boot's controller (this process's own loader, when `run` hosts it). */
  control(): Control {
    const h = this.#hosted;
    if (h && !h.released) {
      return new Control(this.k, this.rec.controlAddress, (m, a) => h.loader.callLocal(m, a));
    }
    return new Control(this.k, this.rec.controlAddress);
  }

  /**
   * Stops this process's loader (`run` hosts it) once the app has exited and its waiters are answered,
   * or at once (`graceMs` 0) to tear the container down; from then on the container is as a stopped one
   * whose boot is gone. A no-op for a container with a separate boot.
   */
  async releaseHosted(graceMs = 2000): Promise<void> {
    const h = this.#hosted;
    if (!h) return;
    if (!h.released) {
      h.released = true;
      h.destroyed = h.loader.destroy(graceMs);
    }
    await h.destroyed;
  }

  /** Takes the container's lock (exclusive); reloads the record under it. */
  lock(): FileLock {
    let l: FileLock;
    try {
      l = FileLock.acquire(this.k, this.dir.lockPath, true)!;
    } catch (e) {
      // A delete removed the whole directory since we loaded the record.
      if (isErrno(e, Errno.ENOENT)) {
        throw new ContainerError("not-exist", `container ${this.id} does not exist`);
      }
      throw e;
    }
    try {
      this.rec = this.dir.load();
    } catch (e) {
      l.release();
      throw e;
    }
    this.#ownLock = l;
    return l;
  }

  /** Writes the record. */
  save(): void {
    this.dir.save(this.rec);
  }

  /** The live status and pid (see status.ts). */
  liveState(): LiveState {
    return resolveLiveState(this.rec, {
      recordedExit: () => this.dir.readExitStatus(this.rec.pid),
      // flock conflicts between our own open files too: while this command holds the lock, no create runs.
      createInProgress: () => !this.#ownLock?.held && FileLock.isHeld(this.k, this.dir.lockPath),
      bootAlive: (rec) => this.bootAlive(rec),
      bootState: (rec) => {
        try {
          return this.control().state(rec.id, BOOT_ANSWER_MS);
        } catch (e) {
          // A boot that answers with an error, or not at all, still runs: the record is the best guess.
          if (e instanceof RemoteError || e instanceof NoReplyError) throw e;
          return null;
        }
      },
    });
  }

  /** The runtime-spec state document for `live`. */
  stateDocument(live: LiveState = this.liveState()): StateDocument {
    const doc: StateDocument = {
      ociVersion: OCI_VERSION,
      id: this.id,
      pid: live.status === "stopped" ? 0 : live.pid,
      status: live.status,
      bundle: this.rec.bundle,
      rootfs: clean(absOf(this.rec.bundle, this.rec.rootfs)),
      created: this.rec.created,
      owner: "",
    };
    if (Object.keys(this.rec.annotations).length > 0) doc.annotations = this.rec.annotations;
    return doc;
  }

  /** The state a hook reads on stdin, with `status`. */
  hookState(status: Status): HookState {
    const s: HookState = {
      ociVersion: OCI_VERSION,
      id: this.id,
      status,
      pid: this.rec.pid,
      bundle: this.rec.bundle,
    };
    if (Object.keys(this.rec.annotations).length > 0) s.annotations = this.rec.annotations;
    return s;
  }

  /**
   * `e` from a call to boot, or "container not running" when it is a connection failure because boot
   * is gone or no longer serving (it stops listening as soon as the app has exited).
   */
  notRunningOr(e: unknown): unknown {
    if (e instanceof RemoteError || this.bootServing()) return e;
    return new ContainerError("not-running", "container not running");
  }

  /** True when boot runs and its controller answers. */
  bootServing(): boolean {
    if (!this.bootAlive(this.rec)) return false;
    try {
      this.control().state(this.id, BOOT_ANSWER_MS);
      return true;
    } catch (e) {
      // A remote error, or no answer in time from a boot that still runs (stopped, say): it is there.
      return e instanceof RemoteError || e instanceof NoReplyError;
    }
  }

  /** True when this container's boot process still runs (for a hosted loader: until it is released). */
  bootAlive(rec: ContainerRecord = this.rec): boolean {
    // This process as the container's boot (`run` hosting the loader), or a loader that failed to start.
    if (rec.bootPid === Deno.pid) return this.#hosted !== undefined && !this.#hosted.released;
    return rec.bootPid > 0 && isAlive(rec.bootPid, rec.bootStartTime || undefined);
  }
}
