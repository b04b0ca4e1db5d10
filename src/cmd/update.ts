/**
 * `update ID`: changes the resource limits of a container that has not stopped (runc's update): either
 * the whole `linux.resources` object from `--resources FILE` (or "-" for stdin), or runc's single-value
 * flags. The new values go into the container's cgroups and into its record, so a later update starts
 * from them. Memory values take units ("512m", "1g") or -1 for unlimited.
 */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import type { LinuxResources } from "../specutils/spec.ts";
import { ContainerError } from "../wrapper/errors.ts";
import { updateCgroups } from "../cgroups/container.ts";
import { log } from "../log/log.ts";
import { failWith, loadContainer } from "./oci.ts";
import { readAll } from "../specutils/specutils.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/** Parses a byte size like docker's RAMInBytes ("1024", "512k", "1.5g", "2GiB"); "-1" is unlimited. */
export function parseBytes(s: string): number {
  if (s.trim() === "-1") return -1;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) throw new Error(`invalid size ${JSON.stringify(s)}`);
  return Math.trunc(Number(m[1]) * UNITS[m[2].toLowerCase()]);
}

function parseInteger(name: string, s: string): number {
  if (!/^-?[0-9]+$/.test(s.trim())) throw new Error(`invalid value ${JSON.stringify(s)} for --${name}`);
  return Number(s);
}

/** Merges `update` into `base` the way runc's update does: set fields replace, others stay. */
export function mergeResources(base: LinuxResources, update: LinuxResources): LinuxResources {
  const out: LinuxResources = structuredClone(base);
  for (const [key, value] of Object.entries(update) as Array<[keyof LinuxResources, unknown]>) {
    if (value === undefined) continue;
    const old = out[key];
    if (
      value && typeof value === "object" && !Array.isArray(value) && old && typeof old === "object" &&
      !Array.isArray(old) && key !== "unified"
    ) {
      (out as Record<string, unknown>)[key] = { ...old, ...value };
    } else {
      (out as Record<string, unknown>)[key] = structuredClone(value);
    }
  }
  return out;
}

/**
 * What to write for an update: each section the update touches, in full from the merged resources (so
 * memory and swap, or quota and period, stay consistent with each other).
 */
export function sectionsToApply(merged: LinuxResources, update: LinuxResources): LinuxResources {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(update) as Array<keyof LinuxResources>) {
    if (update[key] !== undefined) {
      out[key] = key === "devices" || key === "unified" ? update[key] : merged[key];
    }
  }
  return out as LinuxResources;
}

class Update implements Command {
  readonly name = "update";
  readonly synopsis = "update container resource constraints";
  readonly usage = "update [flags] <container id>\n";
  private resources!: Ref<string>;
  private readonly values = new Map<string, Ref<string>>();

  setFlags(f: FlagSet): void {
    this.resources = f.string(
      "resources",
      "",
      "path to the file containing the resources to update or '-' to read from the standard input",
    );
    f.alias("r", "resources");
    const flags: Array<[string, string]> = [
      ["blkio-weight", "Specifies per cgroup weight, range is from 10 to 1000"],
      ["cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"],
      ["cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"],
      [
        "cpu-burst",
        "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period",
      ],
      ["cpu-share", "CPU shares (relative weight vs. other containers)"],
      ["cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"],
      ["cpu-rt-runtime", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"],
      ["cpuset-cpus", "CPU(s) to use"],
      ["cpuset-mems", "Memory node(s) to use"],
      ["cpu-idle", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"],
      ["kernel-memory", "(obsoleted; do not use)"],
      ["kernel-memory-tcp", "(obsoleted; do not use)"],
      ["memory", "Memory limit (in bytes)"],
      ["memory-reservation", "Memory reservation or soft_limit (in bytes)"],
      ["memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"],
      ["pids-limit", "Maximum number of pids allowed in the container"],
      ["l3-cache-schema", "The string of Intel RDT/CAT L3 cache schema (not supported)"],
      ["mem-bw-schema", "The string of Intel RDT/MBA memory bandwidth schema (not supported)"],
    ];
    for (const [name, usage] of flags) this.values.set(name, f.string(name, "", usage));
  }

  /** The resources the flags ask for (only the flags given). */
  private fromFlags(f: FlagSet): LinuxResources {
    const r: LinuxResources = {};
    const given = (name: string) => f.isSet(name) ? this.values.get(name)!.value : undefined;
    const int = (name: string) => {
      const v = given(name);
      return v === undefined ? undefined : parseInteger(name, v);
    };
    const bytes = (name: string) => {
      const v = given(name);
      return v === undefined ? undefined : parseBytes(v);
    };
    const cpu = {
      shares: int("cpu-share"),
      period: int("cpu-period"),
      quota: int("cpu-quota"),
      burst: int("cpu-burst"),
      realtimePeriod: int("cpu-rt-period"),
      realtimeRuntime: int("cpu-rt-runtime"),
      cpus: given("cpuset-cpus"),
      mems: given("cpuset-mems"),
      idle: int("cpu-idle"),
    };
    const memory = {
      limit: bytes("memory"),
      reservation: bytes("memory-reservation"),
      swap: bytes("memory-swap"),
      kernel: bytes("kernel-memory"),
      kernelTCP: bytes("kernel-memory-tcp"),
    };
    const defined = <T extends object>(o: T): Partial<T> | undefined => {
      const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
      return Object.keys(out).length ? out : undefined;
    };
    const c = defined(cpu);
    if (c) r.cpu = c;
    const m = defined(memory);
    if (m) r.memory = m;
    const pids = int("pids-limit");
    if (pids !== undefined) r.pids = { limit: pids };
    const weight = int("blkio-weight");
    if (weight !== undefined) r.blockIO = { weight };
    for (const name of ["l3-cache-schema", "mem-bw-schema"]) {
      if (given(name) !== undefined) throw new Error(`--${name}: Intel RDT is not supported by runts`);
    }
    return r;
  }

  private read(source: string): LinuxResources {
    const text = source === "-" ? new TextDecoder().decode(readAll(linux, 0)) : linux.readTextFile(source);
    const r = JSON.parse(text);
    if (!r || typeof r !== "object" || Array.isArray(r)) {
      throw new Error("--resources: expected a JSON object");
    }
    return r as LinuxResources;
  }

  execute(ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() !== 1) return ExitStatus.UsageError;
    try {
      const update = this.resources.value ? this.read(this.resources.value) : this.fromFlags(f);
      const c = loadContainer(linux, ctx, f.arg(0));
      const lock = c.lock();
      try {
        const live = c.liveState();
        if (live.status === "stopped") throw new ContainerError("not-running", "container not running");
        const rec = c.rec.cgroups;
        if (!rec) throw new ContainerError("failed", `container ${c.id} has no cgroups to update`);
        const spec = c.rec.spec;
        const merged = mergeResources(spec.linux?.resources ?? {}, update);
        updateCgroups(linux, rec, sectionsToApply(merged, update), spec, (m) => log.warning(m));
        spec.linux = { ...spec.linux, resources: merged };
        c.save();
      } finally {
        lock.release();
      }
    } catch (e) {
      return failWith(ctx, e);
    }
    return ExitStatus.Success;
  }
}

/** The update command. */
export function createCommand(): Command {
  return new Update();
}
