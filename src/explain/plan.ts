/**
 * `runts explain`'s plan: the create path run for real against the plan kernel (kernel.ts). The wrapper
 * reads and validates the spec (openBundleSpec), plans its cgroups (setUpCgroups) and prepares boot's fds
 * and command line (prepareBoot); boot's stage parses that command line with boot's own flags, reads the
 * spec and mounts again and starts init (initSpawnFor, createInit); init's job (src/init/child.ts) runs in
 * the simulated clone child. What each stage asked of the kernel is the plan; the first error is the
 * refusal a real create would give.
 */
import { AT, Errno, isErrno, type Kernel, SIGNALS } from "../../ffi/mod.ts";
import type { Config } from "../config/config.ts";
import { FlagSet } from "../flag/flag.ts";
import { absOf } from "../specutils/path.ts";
import { lastCap } from "../specutils/capabilities.ts";
import { readMounts, readSpecFromFile } from "../specutils/specutils.ts";
import type { Hooks } from "../specutils/spec.ts";
import { loadContainerModules, stateRoot } from "../wrapper/container.ts";
import {
  checkTerminal,
  type CreatableSpec,
  openBundleSpec,
  totalMemoryFlag,
} from "../wrapper/container_create.ts";
import { ContainerError } from "../wrapper/errors.ts";
import { validateID } from "../wrapper/id.ts";
import { FileLock } from "../wrapper/lock.ts";
import { StateDir } from "../wrapper/state_file.ts";
import { controlAddress } from "../wrapper/boot_args.ts";
import { resolveMounts } from "../wrapper/mounts.ts";
import { openConsoleChannel } from "../wrapper/pty.ts";
import { bootSpawn, prepareBoot, sendMounts } from "../wrapper/sandbox.ts";
import { type CgroupRecord, openCgroupDirs, setUpCgroups } from "../cgroups/container.ts";
import { detectLayout, type Layout, parseProcCgroup } from "../cgroups/layout.ts";
import { compileSeccomp } from "../seccomp/compile.ts";
import { clonedInits, createInit, initEnv, initSpawnFor } from "../boot/start_init.ts";
import { BootFlags } from "../protocol/boot_flags.ts";
import { planKernel } from "./kernel.ts";
import { forkState, type PlanContext, type PlanOp, type PlanState, type Stage } from "./state.ts";
import {
  type PlannedMount,
  plannedMounts,
  type PlannedProcess,
  plannedProcess,
  seccompSummary,
} from "./summary.ts";

/** The create flags that change the plan. */
export interface ExplainOptions {
  bundle: string;
  id: string;
  conf: Config;
  /** --console-socket; with process.terminal and none given, the plan assumes one (engines pass it). */
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
}

/** The plan (docs/explain.md documents this document). */
export interface Plan {
  /** The document's version. */
  schema: 1;
  bundle: string;
  id: string;
  result: "ok" | "refused";
  /** Why a real create would fail, and in which stage; null when it would succeed. */
  refusal: { stage: Stage; message: string } | null;
  /** Settings that are accepted but ignored or not enforced (validation's and the cgroup code's). */
  warnings: Array<{ stage: Stage; message: string }>;
  /** How the plan was made where it is not the real run's own doing. */
  notes: string[];
  /** The operations in order, by stage. */
  stages: Array<{ stage: Stage; ops: Array<Omit<PlanOp, "stage">> }>;
  /** The container's mount table as planned ([] when init did not get that far). */
  mounts: PlannedMount[];
  /** The app as execve starts it (null when refused before). */
  process: PlannedProcess | null;
}

const STAGES: Stage[] = ["wrapper", "boot", "init"];

/** /proc/self/cgroup as init reads it after joining the container's cgroups. */
function procCgroupFor(own: string, layout: Layout, rec: CgroupRecord | null, cgroupNs: boolean): string {
  return parseProcCgroup(own).map((l) => {
    const key = l.id === 0 && l.controllers.length === 0 ? "unified" : l.controllers.join(",");
    const h = layout.hierarchies.find((x) => x.key === key);
    let path = l.path;
    if (cgroupNs) path = "/";
    else if (h && rec?.dirs[key]) {
      const rel = rec.dirs[key].slice(h.mountpoint.replace(/\/+$/, "").length) || "/";
      path = h.mountRoot === "/" ? rel : `${h.mountRoot}${rel === "/" ? "" : rel}`;
    }
    return `${l.id}:${l.controllers.join(",")}:${path}\n`;
  }).join("");
}

function mkdirs(k: Kernel, path: string, mode: number): void {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    try {
      k.mkdirat(AT.FDCWD, "/" + parts.slice(0, i).join("/"), mode);
    } catch (e) {
      if (!isErrno(e, Errno.EEXIST)) throw e;
    }
  }
}

function hookOps(s: PlanState, hooks: Hooks | undefined): void {
  const when: Record<string, string> = {
    prestart: "create",
    createRuntime: "create",
    createContainer: "create",
    startContainer: "start",
    poststart: "start",
    poststop: "delete",
  };
  for (const [stage, at] of Object.entries(when)) {
    (hooks?.[stage as keyof Hooks] ?? []).forEach((h, i) => {
      const args = (h.args ?? []).slice(1).join(" ");
      s.record(
        "hook",
        `hook ${stage}[${i}]: ${h.path}${args ? " " + args : ""} (run by runts on the host at ${at})`,
        `hook:${stage}:${i}`,
      );
    });
  }
}

/** The int values of a list flag ("[3 4]"). */
function ints(f: FlagSet, name: string): number[] {
  return (f.lookup(name) ?? "[]").replace(/^\[|\]$/g, "").split(" ").filter(Boolean).map(Number);
}

function bootStage(k: Kernel, s: PlanState, opts: ExplainOptions, warn: (m: string) => void) {
  const spawned = s.spawned!;
  s.stage = "boot";
  s.proc = {
    ...forkState(s.proc),
    fds: new Map(spawned.fds),
    pid: spawned.pid,
    pidInNs: spawned.pid,
    name: "boot",
  };
  s.procs.set(spawned.pid, s.proc);
  // boot's own flag definitions parse the command line the wrapper built.
  const f = new FlagSet("boot");
  new BootFlags(f);
  f.parse(spawned.argv.slice(spawned.argv.indexOf("boot") + 1));
  const num = (name: string) => Number(f.lookup(name));
  const attached = f.lookup("attached") === "true";
  if (attached) k.setParentDeathSignal(SIGNALS.KILL);
  const spec = readSpecFromFile(k, f.lookup("bundle") ?? "", num("spec-fd"), warn);
  const mounts = readMounts(k, num("mounts-fd"));
  k.close(num("mounts-fd"));
  const cgroupFds = ints(f, "cgroup-fd");
  if (!cgroupFds.length && (BigInt(f.lookup("total-memory") ?? "0") > 0n || num("cpu-num") > 0)) {
    s.record("note", "boot would make cgroups of its own for --total-memory/--cpu-num (not planned)", "note");
  }
  const stdio = ints(f, "stdio-fds");
  createInit(
    k,
    initSpawnFor({
      id: f.arg(0),
      spec,
      mounts,
      conf: opts.conf,
      controllerFd: num("controller-fd"),
      ioFds: ints(f, "io-fds"),
      stdioFds: stdio.length === 3 ? [stdio[0], stdio[1], stdio[2]] : [0, 1, 2],
      preservedFds: ints(f, "preserve-fd"),
      numCpu: num("cpu-num"),
      totalMem: BigInt(f.lookup("total-memory") ?? "0"),
      userLogFd: num("user-log-fd"),
      attached,
      noPivot: f.lookup("no-pivot") === "true",
      cgroupFds,
    }),
    initEnv(),
    true,
  );
}

function wrapperStage(
  k: Kernel,
  s: PlanState,
  opts: ExplainOptions,
  warn: (m: string) => void,
  notes: string[],
) {
  const bundle = absOf(Deno.cwd(), opts.bundle);
  validateID(opts.id);
  const dir = new StateDir(stateRoot(opts.conf), opts.id);
  try {
    Deno.statSync(dir.dir);
    throw new ContainerError("exists", `container ${opts.id} already exists`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  mkdirs(k, dir.dir, 0o711);
  FileLock.acquire(k, dir.lockPath, true);
  const { spec, specFd } = openBundleSpec(k, bundle, warn);
  describeSpec(s, spec, notes);
  const terminal = spec.process.terminal === true;
  let consoleSocket = opts.consoleSocket;
  if (terminal && !consoleSocket) {
    consoleSocket = "(the engine's)";
    notes.push(
      "process.terminal is set: planned with a --console-socket, as engines pass one for a terminal",
    );
  }
  checkTerminal(k, terminal, consoleSocket, false);
  const layout = detectLayout();
  const rec = setUpCgroups(k, spec, opts.id, {
    systemd: opts.conf.systemdCgroup,
    rootless: opts.conf.rootless,
    warn,
    layout,
  });
  s.cgroups = rec;
  const cgroupFds = rec ? openCgroupDirs(k, rec) : [];
  let stdio: [number, number, number] = [0, 1, 2];
  if (terminal) {
    const pty = openConsoleChannel(k);
    stdio = [pty.inner, pty.inner, pty.inner];
  }
  const mounts = resolveMounts(spec.mounts, bundle);
  const prepared = prepareBoot(k, {
    id: opts.id,
    bundle,
    rootfs: spec.root.path,
    mounts,
    specFd,
    stdio,
    preserved: Array.from({ length: opts.preserveFds ?? 0 }, (_, i) => 3 + i),
    controlAddress: controlAddress(dir.socketPath, opts.id, "00000000"),
    bootLog: dir.bootLogPath,
    globalFlags: opts.conf.toFlags(),
    pidns: spec.linux?.namespaces?.some((ns) => ns.type === "pid" && !ns.path) ?? false,
    attached: false,
    noPivot: opts.noPivot === true,
    exitStatusFile: dir.exitStatusPath,
    cgroupFds,
    totalMemory: totalMemoryFlag(spec),
  });
  k.spawn(bootSpawn(prepared.cmd));
  for (const fd of prepared.opened) k.close(fd);
  sendMounts(k, prepared.mountsW, mounts);
  k.close(prepared.mountsW);
  return spec;
}

function describeSpec(s: PlanState, spec: CreatableSpec, notes: string[]): void {
  s.ctx.rootfs = spec.root.path;
  s.ctx.masked = new Set(spec.linux?.maskedPaths ?? []);
  s.ctx.readonly = new Set(spec.linux?.readonlyPaths ?? []);
  const profile = spec.linux?.seccomp;
  if (!profile) return;
  try {
    s.ctx.seccomp = seccompSummary(profile, compileSeccomp(profile));
  } catch {
    // boot's own compile fails the same way, and that is the refusal.
  }
  notes.push(
    "seccomp rules are counted as libseccomp is given them (one per syscall name and condition set)",
  );
}

/** Plans `runts create` of the bundle without running anything. */
export async function explainBundle(opts: ExplainOptions): Promise<Plan> {
  await loadContainerModules();
  const layout = detectLayout();
  const own = Deno.readTextFileSync("/proc/self/cgroup");
  const ctx: PlanContext = {
    rootfs: "",
    masked: new Set(),
    readonly: new Set(),
    cgroupMounts: layout.hierarchies.map((h) => ({
      mountpoint: h.mountpoint,
      version: h.version,
      controllers: h.controllers,
    })),
    procCgroup: (ns) => procCgroupFor(own, layout, s.cgroups, ns),
    lastCap: lastCap(),
  };
  const { kernel: k, state: s } = planKernel(ctx);
  const warnings: Plan["warnings"] = [];
  const notes: string[] = [];
  const warn = (message: string) => {
    if (!warnings.some((w) => w.message === message)) warnings.push({ stage: s.stage, message });
  };
  if (!clonedInits()) {
    notes.push("init runs as a `runts init` process here (RUNTS_INIT=process or not x86_64): same job");
  }
  let refusal: Plan["refusal"] = null;
  const wrapperProc = s.proc;
  try {
    const spec = wrapperStage(k, s, opts, warn, notes);
    bootStage(k, s, opts, warn);
    s.proc = wrapperProc;
    s.stage = "wrapper";
    hookOps(s, spec.hooks);
    s.record("state", `record container ${opts.id} as created`, "state");
    for (const [list, what] of [[s.ctx.masked, "mask"], [s.ctx.readonly, "readonly"]] as const) {
      const missing = [...list].filter((p) => !s.ops.some((o) => o.key === `${what}:${p}`));
      if (missing.length) {
        const kind = what === "mask" ? "masked" : "read-only";
        notes.push(`${kind} paths not in the container, left alone (as runc does): ${missing.join(", ")}`);
      }
    }
  } catch (e) {
    const stage = s.childFailure !== null || (s.final && s.stage === "boot") ? "init" : s.stage;
    refusal = { stage, message: s.childFailure ?? (e as Error).message };
    if (s.spawned) {
      notes.push("on this refusal create undoes its steps: boot is killed, the cgroups and the state go");
    }
  }
  const bundle = absOf(Deno.cwd(), opts.bundle);
  return {
    schema: 1,
    bundle,
    id: opts.id,
    result: refusal ? "refused" : "ok",
    refusal,
    warnings,
    notes,
    stages: STAGES.map((stage) => ({
      stage,
      ops: s.ops.filter((o) => o.stage === stage).map(({ stage: _, ...o }) => o),
    })),
    mounts: refusal ? [] : plannedMounts(s),
    process: refusal ? null : plannedProcess(s),
  };
}
