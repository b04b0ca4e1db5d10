/**
 * `create` (runsc's container.New + the create half of Start): the bundle's spec read and checked, the
 * cgroups made, boot spawned (or, for a foreground `run`, the loader hosted here), the create hooks run,
 * and the record written with status "created".
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { O } from "../../ffi/consts.ts";
import { errnoText } from "../../ffi/errno.ts";
import { SyscallError } from "../../ffi/error.ts";
import type { Config } from "../config/config.ts";
import { log, nowRfc3339Nano, warnCaller } from "../log/log.ts";
import type { Process, Spec } from "../specutils/spec.ts";
import { absOf } from "../specutils/path.ts";
import { controlAddress } from "./boot_args.ts";
import { resolveMounts } from "./mounts.ts";
import {
  closeConsoleChannel,
  type ConsoleChannel,
  openConsoleChannel,
  receiveConsole,
  sendConsole,
  sendFd,
} from "./pty.ts";
import { abandonCreate, confirmCreated, type Sandbox, type SandboxOptions, startSandbox } from "./sandbox.ts";
import { testPause } from "../util/test_pause.ts";
import { stage } from "../util/stages.ts";
import { rootlessCgroups } from "../util/privilege.ts";
import { ContainerError } from "./errors.ts";
import { runHooks } from "./hooks.ts";
import { validateID } from "./id.ts";
import { FileLock } from "./lock.ts";
import { readProcStat } from "./proc.ts";
import { StateDir } from "./state_file.ts";
import { writeFileAtomic } from "./atomic.ts";
import { Container, loadContainerModules, loadInProcess, modules, stateRoot } from "./container.ts";
import { killContainer } from "./container_kill.ts";

/** Options of createContainer. */
export interface CreateOptions {
  id: string;
  /** The bundle directory as given (relative to the current directory or absolute). */
  bundle: string;
  consoleSocket?: string;
  pidFile?: string;
  /** runc's --pidfd-socket: receives a pidfd of the container's process. */
  pidfdSocket?: string;
  /** Number of fds above stdio (3, 4, ...) to hand to the container (--preserve-fds). */
  preserveFds?: number;
  /** `run` without --detach: boot dies with the wrapper, and a terminal may be relayed. */
  attached?: boolean;
  /** chroot instead of pivot_root (--no-pivot). */
  noPivot?: boolean;
  /** `run` in the foreground: this process hosts the loader (src/wrapper/in_process.ts) where it can. */
  inProcess?: boolean;
}

/** A spec create accepts: it names a process and a root. */
export type CreatableSpec = Spec & { process: Process; root: { path: string; readonly?: boolean } };

/**
 * Opens `bundle`/config.json and reads it as create does (validated, paths made absolute, warnings to
 * `warn`); the spec must name a process and a root. Returns the spec and the open fd, which boot is handed
 * and the caller closes. Needs loadContainerModules().
 */
export function openBundleSpec(
  k: Kernel,
  bundle: string,
  warn: (w: string) => void,
): { spec: CreatableSpec; specFd: number } {
  let specFd: number;
  try {
    specFd = k.open(`${bundle}/config.json`, O.RDONLY | O.CLOEXEC);
  } catch (e) {
    throw new ContainerError("invalid", `cannot open ${bundle}/config.json: ${(e as Error).message}`);
  }
  try {
    const spec = modules().readSpecFromFile(k, bundle, specFd, warn);
    if (!spec.process) throw new ContainerError("invalid", "spec has no process");
    if (!spec.root?.path) throw new ContainerError("invalid", "spec has no root.path");
    return { spec: spec as CreatableSpec, specFd };
  } catch (e) {
    k.close(specFd);
    throw e;
  }
}

/**
 * Creates the container (runsc's container.New + the create half of Start): spawns boot, waits until
 * it created the container, runs the create hooks and records status "created". Returns the
 * container and, for a terminal relayed by `run`, the pty master the caller now owns.
 */
export async function createContainer(
  k: Kernel,
  conf: Config,
  opts: CreateOptions,
): Promise<{ container: Container; ttyMaster?: number }> {
  validateID(opts.id);
  stage("create");
  await loadContainerModules(["specutils", "cgroups"]);
  stage("container modules loaded");
  const bundle = absOf(Deno.cwd(), opts.bundle);
  const dir = new StateDir(stateRoot(conf), opts.id);
  dir.createExclusive();
  let lock: FileLock | undefined;
  let specFd = -1;
  let pty: ConsoleChannel | undefined;
  let c: Container | undefined;
  let sandbox: Sandbox | undefined;
  let cgroupFds: number[] = [];
  let ttyMaster: number | undefined;
  let pidFileWritten = false;
  try {
    lock = FileLock.acquire(k, dir.lockPath, true)!;
    const opened = openBundleSpec(k, bundle, (w) => log.warning(w));
    specFd = opened.specFd;
    const spec = opened.spec;
    const terminal = spec.process.terminal === true;
    checkTerminal(k, terminal, opts.consoleSocket, opts.attached === true);

    const random = crypto.randomUUID().slice(0, 8);
    c = new Container(k, dir, {
      version: 1,
      id: opts.id,
      bundle,
      rootfs: spec.root.path,
      status: "creating",
      pid: 0,
      bootPid: 0,
      bootStartTime: "",
      controlAddress: controlAddress(dir.socketPath, opts.id, random),
      created: nowRfc3339Nano(),
      owner: userName(k, k.getuid()),
      annotations: spec.annotations ?? {},
      spec,
    });
    c.save();
    stage("spec read and validated");
    log.debug(`container ${opts.id}: spec read and validated`);
    // The cgroups exist, limits set, before boot starts; init joins them before it execs the app.
    const rootless = rootlessCgroups(k, conf.rootless);
    c.rec.cgroups = modules().cgroups.setUpCgroups(k, spec, opts.id, {
      systemd: conf.systemdCgroup,
      rootless,
      // Rootless, limits the spec asks for may go unenforced: the caller hears it on stderr too.
      warn: rootless && modules().cgroups.asksForLimits(spec.linux?.resources)
        ? warnCaller
        : (m) => log.warning(m),
      record: (rec) => (c!.rec.cgroups = rec, c!.save()),
    }) ?? undefined;
    c.save();
    if (c.rec.cgroups) cgroupFds = modules().cgroups.openCgroupDirs(k, c.rec.cgroups);
    stage("cgroups ready");
    log.debug(`container ${opts.id}: cgroups ready`);

    let stdio: [number, number, number] = [0, 1, 2];
    if (terminal) {
      // init makes the pty inside the container and sends the master back (src/init/console.ts).
      pty = openConsoleChannel(k);
      stdio = [pty.inner, pty.inner, pty.inner];
    }
    const pidns = spec.linux?.namespaces?.some((ns) => ns.type === "pid" && !ns.path) ?? false;
    const preserved = Array.from({ length: opts.preserveFds ?? 0 }, (_, i) => 3 + i);
    const sandboxOpts: SandboxOptions = {
      id: opts.id,
      bundle,
      rootfs: spec.root.path,
      mounts: resolveMounts(spec.mounts, bundle),
      specFd,
      stdio,
      preserved,
      controlAddress: c.rec.controlAddress,
      bootLog: dir.bootLogPath,
      globalFlags: conf.toFlags(),
      pidns,
      attached: opts.attached === true,
      noPivot: opts.noPivot === true,
      exitStatusFile: dir.exitStatusPath,
      cgroupFds,
      totalMemory: totalMemoryFlag(spec),
      onSpawned: (pid) => {
        // Recorded before boot is ready, so that delete can find a boot whose creator died.
        c!.rec.bootPid = pid;
        c!.rec.bootStartTime = readProcStat(pid)?.startTime ?? "";
        c!.save();
      },
    };
    const inProcess = opts.inProcess ? await loadInProcess() : null;
    if (inProcess?.canHostLoader(sandboxOpts)) {
      const hosted = inProcess.startInProcess(k, conf, spec, sandboxOpts);
      sandbox = hosted.sandbox;
      c.host(hosted.loader);
    } else {
      sandbox = startSandbox(k, sandboxOpts);
    }
    stage("boot reports created");
    log.debug(`container ${opts.id}: boot ${sandbox.pid} reports it created`);
    c.rec.bootPid = sandbox.pid;
    c.rec.bootStartTime = sandbox.startTime;
    c.rec.pid = c.control().state(opts.id).pid;
    c.rec.pidStartTime = readProcStat(c.rec.pid)?.startTime;
    c.save();
    testPause("create-after-sync");

    if (pty) {
      const master = receiveConsole(k, pty);
      pty = undefined;
      if (opts.consoleSocket) {
        try {
          sendConsole(k, opts.consoleSocket, master);
        } finally {
          k.close(master);
        }
      } else {
        ttyMaster = master;
      }
    }

    // "created": the runtime-spec lifecycle gives that status once the environment exists (step 2), which
    // is before these hooks; crun and runtime-tools' hooks_stdin agree (runc passes "creating").
    const hookState = c.hookState("created");
    await runHooks(k, "prestart", spec.hooks, hookState);
    await runHooks(k, "createRuntime", spec.hooks, hookState);
    await runHooks(k, "createContainer", spec.hooks, hookState);

    c.rec.status = "created";
    c.save();
    stage("created");
    log.debug(`container ${opts.id}: created`);
    if (opts.pidFile) {
      writeFileAtomic(absOf(Deno.cwd(), opts.pidFile), String(c.rec.pid));
      pidFileWritten = true;
    }
    if (opts.pidfdSocket) {
      const pidfd = k.pidfdOpen(c.rec.pid);
      try {
        sendFd(k, opts.pidfdSocket, pidfd, opts.id);
      } finally {
        k.close(pidfd);
      }
    }
    confirmCreated(k, sandbox);
    return { container: c, ttyMaster };
  } catch (e) {
    // Undo everything; a failing step here must not hide the error that brought us here. Fds go
    // first: the error may be EMFILE, and the undoing needs a few.
    const undo = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        log.warning(`creating container ${opts.id} failed; ${what}: ${(err as Error).message}`);
      }
    };
    if (pty) {
      const p = pty;
      undo("closing the console channel", () => closeConsoleChannel(k, p));
    }
    if (ttyMaster !== undefined) {
      const m = ttyMaster;
      undo("closing the terminal", () => k.close(m));
    }
    if (pidFileWritten && opts.pidFile) {
      const path = absOf(Deno.cwd(), opts.pidFile);
      undo("removing the pid file", () => k.remove(path));
    }
    if (specFd >= 0) undo("closing the spec", () => k.close(specFd));
    specFd = -1;
    if (sandbox) {
      const sb = sandbox;
      undo("releasing boot", () => abandonCreate(k, sb));
    }
    if (c && c.rec.bootPid > 0) undo("killing the container", () => killContainer(c!));
    if (c?.rec.cgroups) {
      undo("removing its cgroups", () => modules().cgroups.removeCgroups(k, c!.rec.cgroups!));
    }
    undo("removing its state", () => dir.remove());
    throw e;
  } finally {
    if (specFd >= 0) k.close(specFd);
    for (const fd of cgroupFds) k.close(fd);
    lock?.release();
  }
}

/**
 * boot's --total-memory for a container with a memory limit (informational: the wrapper's cgroup
 * enforces it), left out when unlimited, as runsc does.
 */
export function totalMemoryFlag(spec: Spec): bigint | undefined {
  const limit = spec.linux?.resources?.memory?.limit;
  return limit !== undefined && limit > 0 && limit < 0x7ffffffffffff000
    ? BigInt(Math.trunc(limit))
    : undefined;
}

/** The name /etc/passwd gives `uid`, else the number (runc's owner field). */
function userName(k: Kernel, uid: number): string {
  try {
    for (const line of k.readTextFile("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f.length > 2 && f[2] === String(uid)) return f[0];
    }
  } catch {
    // no passwd file
  }
  return String(uid);
}

/**
 * runc's checks on process.terminal against --console-socket; an attached terminal without a console
 * socket also needs a terminal of ours to relay it to (hostConsole()).
 */
export function checkTerminal(
  k: Kernel,
  terminal: boolean,
  consoleSocket: string | undefined,
  attached: boolean,
): void {
  if (terminal && !consoleSocket && !attached) {
    throw new ContainerError(
      "invalid",
      "cannot allocate tty if runts will detach without setting console socket",
    );
  }
  if (!terminal && consoleSocket) {
    throw new ContainerError("invalid", "cannot use console socket if runts will not detach or allocate tty");
  }
  if (terminal && !consoleSocket) hostConsole(k);
}

/**
 * Fails unless this process has a terminal: one of stderr, stdout and stdin, or else its controlling tty
 * (runc's initHostConsole, with its error text: `open /dev/tty: no such device or address`).
 */
function hostConsole(k: Kernel): void {
  if (Deno.stderr.isTerminal() || Deno.stdout.isTerminal() || Deno.stdin.isTerminal()) return;
  let fd: number;
  try {
    fd = k.open("/dev/tty", O.RDONLY | O.CLOEXEC);
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    throw new ContainerError(
      "invalid",
      `open /dev/tty: ${errnoText(e.errno)} (process.terminal without --console-socket needs a terminal)`,
    );
  }
  k.close(fd);
}
