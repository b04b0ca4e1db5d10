/**
 * The on-disk record of one container: `<root>/<id>/state.json`, next to its lock file, the boot log and
 * (when the path fits) the control socket. Written atomically; the lock serialises writers.
 */
import type { Spec } from "../specutils/spec.ts";
import type { CgroupRecord } from "../cgroups/manager.ts";
import { writeFileAtomic } from "./atomic.ts";
import { ContainerError } from "./errors.ts";

/** Container status, as the runtime-spec names it. */
export type Status = "creating" | "created" | "running" | "paused" | "stopped";

/** What runts remembers about a container between commands. */
export interface ContainerRecord {
  /** Format version of this record. */
  version: 1;
  id: string;
  /** Absolute bundle directory. */
  bundle: string;
  /** Absolute rootfs path (spec.root.path resolved against the bundle). */
  rootfs: string;
  /** The status last recorded; the live status is derived from it and boot (see status.ts). */
  status: Status;
  /** Host pid of the container's own process (0 until boot reported it). */
  pid: number;
  /** Start time of that process (field 22 of /proc/PID/stat), to tell it from a later one with its pid. */
  pidStartTime?: string;
  /** Host pid of the boot process (0 before it was spawned). */
  bootPid: number;
  /** Start time of boot (field 22 of /proc/PID/stat), to tell boot from a later process with its pid. */
  bootStartTime: string;
  /** Control socket address: a path, or "@name" for an abstract socket. */
  controlAddress: string;
  /** RFC 3339 creation time. */
  created: string;
  /** The user that created the container. */
  owner: string;
  annotations: Record<string, string>;
  /** The spec as read at create time (hooks, exec defaults, cgroups path). */
  spec: Spec;
  /** The container's cgroups (src/cgroups), when runts made them; removed at delete. */
  cgroups?: CgroupRecord;
}

/** The files of one container under the state root. */
export class StateDir {
  /** The container's directory. */
  readonly dir: string;
  /** The state file's content as this object last read or wrote it: a save of the same is skipped. */
  #known: string | null = null;

  constructor(readonly root: string, readonly id: string) {
    this.dir = `${root}/${id}`;
  }

  /** The state document. */
  get statePath(): string {
    return `${this.dir}/state.json`;
  }

  /** The lock file. */
  get lockPath(): string {
    return `${this.dir}/lock`;
  }

  /** Where boot's own stderr goes (read back when boot fails before the sync byte). */
  get bootLogPath(): string {
    return `${this.dir}/boot.log`;
  }

  /** The path control socket (used when it fits in sun_path). */
  get socketPath(): string {
    return `${this.dir}/control.sock`;
  }

  /** Where boot records the exits it sees: one line `<host pid> <wait status>` per process. */
  get exitStatusPath(): string {
    return `${this.dir}/exit-status`;
  }

  /** The wait status boot recorded for host pid `pid` (its last line for that pid); null: none (yet). */
  readExitStatus(pid: number): number | null {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.exitStatusPath);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
      throw e;
    }
    let ws: number | null = null;
    for (const m of text.matchAll(/^([0-9]+) ([0-9]+)\n/gm)) if (Number(m[1]) === pid) ws = Number(m[2]);
    return ws;
  }

  /** True when the container directory exists (possibly without a state file, after a crashed create). */
  exists(): boolean {
    try {
      return Deno.statSync(this.dir).isDirectory;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  /**
   * Creates the root (0711) and the container directory. Exactly one of several concurrent callers
   * succeeds; the others get ContainerError("exists").
   */
  createExclusive(): void {
    Deno.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      Deno.mkdirSync(this.dir, { mode: 0o711 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new ContainerError("exists", `container ${this.id} already exists`);
      }
      throw e;
    }
  }

  /** Reads the record; ContainerError("not-exist") when there is none. */
  load(): ContainerRecord {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.statePath);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        throw new ContainerError("not-exist", `container ${this.id} does not exist`);
      }
      throw e;
    }
    let rec: ContainerRecord;
    try {
      rec = JSON.parse(text);
    } catch (e) {
      throw new ContainerError("failed", `reading state of container ${this.id}: ${(e as Error).message}`);
    }
    if (rec.version !== 1 || rec.id !== this.id) {
      throw new ContainerError("failed", `state file ${this.statePath} is not a runts container record`);
    }
    this.#known = text;
    return rec;
  }

  /**
   * Replaces the record atomically (0640); nothing to do when it is what this object last read or wrote
   * (writers hold the container's lock, and take it before they read).
   */
  save(rec: ContainerRecord): void {
    const text = JSON.stringify(rec);
    if (text === this.#known) return;
    try {
      writeFileAtomic(this.statePath, text, 0o640);
      this.#known = text;
    } catch (e) {
      throw new ContainerError("failed", `saving the state of container ${this.id}: ${(e as Error).message}`);
    }
  }

  /**
   * Removes the whole container directory; a missing one is fine. The files runts itself creates are
   * unlinked by name first, which needs no file descriptor (this also runs after EMFILE).
   */
  remove(): void {
    this.#known = null;
    // The state file goes first, so a command waiting on the lock then finds no container.
    for (const p of [this.statePath, this.exitStatusPath, this.socketPath, this.bootLogPath, this.lockPath]) {
      try {
        Deno.removeSync(p);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound) && !(e instanceof Deno.errors.NotADirectory)) throw e;
      }
    }
    try {
      Deno.removeSync(this.dir);
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      // Not empty: temporary files of a writer that died, or files someone else put there.
    }
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

/** The IDs that have a directory under `root` (sorted); none when the root does not exist. */
export function listIDs(root: string): string[] {
  const ids: string[] = [];
  try {
    for (const e of Deno.readDirSync(root)) if (e.isDirectory) ids.push(e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return ids.sort();
}
