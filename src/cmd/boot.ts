/**
 * `runts boot`: runsc's boot command with a native loader. The wrapper (ours or anyone's) hands it the
 * spec, mounts, root and stdio fds, a bound control socket and a start-sync pipe; boot builds the
 * container, writes one byte when it is ready, starts the app on StartRoot and exits with its status.
 */
import type { Command, CommandContext } from "./command.ts";
import { ExitStatus } from "./command.ts";
import type { FlagSet, Ref } from "../flag/flag.ts";
import { linux, PR } from "../../ffi/mod.ts";
import { fatalf } from "./cmd.ts";
import { debugEnabled, log } from "../log/log.ts";
import { logSpec, readMounts, readSpecFromFile } from "../specutils/specutils.ts";
import { isBindMount } from "../specutils/mount_options.ts";
import { hasNS } from "../specutils/namespaces.ts";
import type { Spec } from "../specutils/spec.ts";
import { lookup } from "../platform/platform.ts";
import { self } from "../specutils/exe.ts";
import { setUpChroot } from "../boot/chroot.ts";
import { BOOT_CAPS, callSelfAsNobody, prepareArgs, setCapsAndCallSelf } from "../boot/capability.ts";
import { Loader } from "../boot/loader.ts";
import { pidNamespace } from "../boot/start_init.ts";
import { CREATOR_DEATH_SIGNO } from "../boot/creator.ts";
import { testPause } from "../util/test_pause.ts";
import { createOwnedCgroups, type OwnedCgroups, removeOwnedCgroups } from "../cgroups/boot_owned.ts";
import { oomKills } from "../cgroups/stats.ts";
import { openRootfs } from "../specutils/rootfs.ts";

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

class Boot implements Command {
  readonly name = "boot";
  readonly synopsis = "launch a sandbox process (internal use only)";
  readonly usage = "boot [flags] <container id>";
  readonly group = "internal use only" as const;

  private bundleDir!: Ref<string>;
  private specFd!: Ref<number>;
  private controllerFd!: Ref<number>;
  private deviceFd!: Ref<number>;
  private ioFds!: Ref<number[]>;
  private stdioFds!: Ref<number[]>;
  private applyCaps!: Ref<boolean>;
  private setUpRoot!: Ref<boolean>;
  private pidns!: Ref<boolean>;
  private cpuNum!: Ref<number>;
  private totalMem!: Ref<bigint>;
  private userLogFd!: Ref<number>;
  private startSyncFd!: Ref<number>;
  private mountsFd!: Ref<number>;
  private attached!: Ref<boolean>;
  private noPivot!: Ref<boolean>;
  private preserveFds!: Ref<number[]>;
  private exitStatusFd!: Ref<number>;
  private cgroupFds!: Ref<number[]>;
  private cgroupParentFds!: Ref<number[]>;
  #removeOwnedCgroups: (() => void) | undefined;

  setFlags(f: FlagSet): void {
    this.bundleDir = f.string("bundle", "", "required path to the root of the bundle directory");
    this.specFd = f.int("spec-fd", -1, "required fd with the container spec");
    this.controllerFd = f.int(
      "controller-fd",
      -1,
      "required FD of a stream socket for the control server that must be donated to this process",
    );
    this.deviceFd = f.int("device-fd", -1, "FD for the platform device file (accepted and closed: native)");
    this.ioFds = f.intList(
      "io-fds",
      "list of FDs of the root directory, then of each bind mount source, in mounts order",
    );
    this.stdioFds = f.intList(
      "stdio-fds",
      "list of FDs containing sandbox stdin, stdout, and stderr in that order",
    );
    this.applyCaps = f.bool(
      "apply-caps",
      false,
      "if true, apply capabilities defined in the spec to the process",
    );
    this.setUpRoot = f.bool("setup-root", false, "if true, set up an empty root for the process");
    this.pidns = f.bool(
      "pidns",
      false,
      "accepted for runsc's wrappers; the spec's linux.namespaces decide the container's PID namespace",
    );
    this.cpuNum = f.int("cpu-num", 0, "number of CPUs the container may use (0: all)");
    this.totalMem = f.uint64("total-memory", 0n, "memory limit for the container in bytes (0: none)");
    this.userLogFd = f.int("user-log-fd", 0, "file descriptor to write user logs to. 0 means no logging.");
    this.startSyncFd = f.int("start-sync-fd", -1, "required FD to used to synchronize sandbox startup");
    this.mountsFd = f.int("mounts-fd", -1, "FD of the resolved mount list (JSON); absent: spec.mounts");
    this.attached = f.bool(
      "attached",
      false,
      "if attached is true, kills the sandbox process when the parent process terminates",
    );
    this.noPivot = f.bool("no-pivot", false, "use chroot instead of pivot_root for the container (runts)");
    this.preserveFds = f.intList("preserve-fd", "an fd passed to the app as fd 3, 4, ... in order (runts)");
    this.cgroupFds = f.intList(
      "cgroup-fd",
      "an open directory of one of the container's cgroups, one per hierarchy: init joins each before it " +
        "does anything else, Pause/Resume and Event use them; the wrapper's limits apply (runts)",
    );
    this.cgroupParentFds = f.intList(
      "cgroup-parent-fd",
      "internal: the parent of each of boot's own cgroups (--total-memory or --cpu-num without --cgroup-fd), " +
        "where they are removed when the container is gone (runts)",
    );
    this.exitStatusFd = f.int(
      "exit-status-fd",
      -1,
      "file that receives the app's wait status when it exits, before the controller stops (runts)",
    );
  }

  /**
   * Before boot leaves the host's mount namespace, the root and bind sources must become detached mount
   * trees (mounts can only be copied inside their own namespace), and the mount list must survive the
   * re-exec (a pipe reads only once): it moves to a memfd. Returns the flags that replace --io-fds and
   * --mounts-fd for the next stage.
   */
  private detachSources(k: typeof linux): string[] {
    const spec = readSpec(this.bundleDir.value, this.specFd.value);
    let mounts = spec.mounts ?? [];
    if (this.mountsFd.value !== -1) {
      mounts = readMounts(k, this.mountsFd.value);
      k.close(this.mountsFd.value);
    }
    const io = this.ioFds.value.length
      ? [...this.ioFds.value]
      : [openRootfs(k, spec.root!.path, this.bundleDir.value)];
    const recursive = [true, ...mounts.filter(isBindMount).map((m) => (m.options ?? []).includes("rbind"))];
    io.forEach((fd, i) => {
      const tree = k.cloneMount(fd, recursive[i] ?? true);
      k.dup3(tree, fd, 0);
      k.close(tree);
    });
    const memfd = k.memfdCreate("runts-mounts", 0);
    const bytes = new TextEncoder().encode(JSON.stringify(mounts));
    for (let off = 0; off < bytes.length;) off += k.write(memfd, bytes.subarray(off));
    k.lseek(memfd, 0, 0);
    return [...io.map((fd) => `--io-fds=${fd}`), `--mounts-fd=${memfd}`];
  }

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    if (
      this.specFd.value === -1 || this.controllerFd.value === -1 || this.startSyncFd.value === -1 ||
      f.nArg() !== 1
    ) {
      return ExitStatus.UsageError;
    }
    const k = linux;
    const conf = ctx.conf;
    const platform = lookupPlatform(conf.platform);
    const attached = this.attached.value;
    if (attached) {
      try {
        // Caught once the loader runs, so boot can reap the app before it goes (src/boot/creator.ts).
        k.prctl(PR.SET_PDEATHSIG, CREATOR_DEATH_SIGNO);
      } catch (e) {
        fatalf(`error setting parent death signal: ${(e as Error).message}`);
      }
    }
    const userLog = this.userLogFd.value > 0 ? this.userLogFd.value : -1;
    const userEvent = (msg: string) => {
      if (userLog < 0) return;
      try {
        k.write(userLog, new TextEncoder().encode(msg + "\n"));
      } catch (e) {
        log.debug(`user log: ${(e as Error).message}`);
      }
    };

    // Without cgroups from a wrapper, --total-memory and --cpu-num get a cgroup of boot's own.
    const cgroupArgs = this.ownCgroups(k, f.arg(0));

    // After --setup-root: the flags that replace --io-fds and --mounts-fd (detached trees, a mounts memfd).
    let rootExtra: string[] | null = null;
    if (this.setUpRoot.value) {
      let extra: string[] = [];
      let appCaps = {};
      try {
        const first = readSpec(this.bundleDir.value, this.specFd.value);
        if (!hasNS(first, "mount")) {
          throw new Error(
            "the spec has no mount namespace, so the container must stay in the runtime's, and --setup-root " +
              "moves boot into one of its own: give linux.namespaces a mount entry, or leave out --setup-root",
          );
        }
        appCaps = first.process?.capabilities ?? {};
        extra = [...this.detachSources(k), ...cgroupArgs];
        setUpChroot(k, logDirs(conf.debugLog, conf.log));
      } catch (e) {
        fatalf(`error setting up chroot: ${(e as Error).message}`);
      }
      if (!this.applyCaps.value && !conf.rootless) {
        const args = prepareArgs(self().args, f, attached, ["setup-root", "mounts-fd", "io-fds"], extra);
        try {
          callSelfAsNobody(k, args, appCaps);
        } catch (e) {
          fatalf(`callSelfAsNobody(${JSON.stringify(args)}): ${(e as Error).message}`);
        }
      }
      rootExtra = extra;
      const value = (a: string) => Number(a.split("=")[1]);
      this.mountsFd.value = value(extra.find((a) => a.startsWith("--mounts-fd="))!);
      this.ioFds.value = extra.filter((a) => a.startsWith("--io-fds=")).map(value);
    }

    const specWarnings: string[] = [];
    const spec = readSpec(this.bundleDir.value, this.specFd.value, specWarnings);
    logSpec(spec, log, debugEnabled());
    if (this.pidns.value !== (pidNamespace(spec).kind === "new")) {
      log.debug(
        `--pidns=${this.pidns.value} ignored: the container's PID namespace follows linux.namespaces`,
      );
    }

    if (this.applyCaps.value) {
      const caps = structuredClone(spec.process!.capabilities ?? {});
      // The native loader creates the container itself, so boot keeps BOOT_CAPS on top of the spec's sets
      // (runsc's Sentry needs only the app's).
      for (const set of ["bounding", "effective", "permitted"] as const) {
        caps[set] = [...new Set([...caps[set] ?? [], ...BOOT_CAPS])];
      }
      if (platform.requirements().requiresCapSysPtrace) {
        for (const set of ["bounding", "effective", "permitted"] as const) {
          caps[set] = [...caps[set] ?? [], "CAP_SYS_PTRACE"];
        }
      }
      const args = rootExtra
        ? prepareArgs(
          self().args,
          f,
          attached,
          ["setup-root", "apply-caps", "mounts-fd", "io-fds"],
          rootExtra,
        )
        : prepareArgs(self().args, f, attached, ["setup-root", "apply-caps"], cgroupArgs);
      try {
        setCapsAndCallSelf(k, args, caps);
      } catch (e) {
        fatalf(`setCapsAndCallSelf(${JSON.stringify(args)}): ${(e as Error).message}`);
      }
    }

    let mounts = spec.mounts ?? [];
    if (this.mountsFd.value !== -1) {
      try {
        mounts = readMounts(k, this.mountsFd.value);
      } catch (e) {
        fatalf(`Error reading mounts file: ${(e as Error).message}`);
      } finally {
        k.close(this.mountsFd.value);
      }
    }
    if (this.deviceFd.value !== -1) k.close(this.deviceFd.value);

    if (this.ioFds.value.length === 0) {
      // Opened here, where the bundle is known: only the bundle's own path may hold a symlink.
      try {
        this.ioFds.value = [openRootfs(k, spec.root!.path, this.bundleDir.value)];
      } catch (e) {
        fatalf(`creating loader: ${(e as Error).message}`);
      }
    }
    const stdio = this.stdioFds.value;
    if (stdio.length !== 0 && stdio.length !== 3) fatalf(`--stdio-fds: want 3 fds, got ${stdio.length}`);
    let l: Loader;
    try {
      l = Loader.create(k, {
        id: f.arg(0),
        spec,
        mounts,
        conf,
        controllerFd: this.controllerFd.value,
        ioFds: this.ioFds.value,
        stdioFds: stdio.length === 3 ? [stdio[0], stdio[1], stdio[2]] : [0, 1, 2],
        preservedFds: this.preserveFds.value,
        numCpu: this.cpuNum.value,
        totalMem: this.totalMem.value,
        userLogFd: this.userLogFd.value,
        attached,
        noPivot: this.noPivot.value,
        cgroupFds: this.cgroupFds.value,
      });
    } catch (e) {
      fatalf(`creating loader: ${(e as Error).message}`);
    }
    for (const fd of [...this.ioFds.value, ...stdio, ...this.preserveFds.value]) {
      if (fd > 2) k.close(fd);
    }
    if (this.exitStatusFd.value !== -1) l.recordExitTo(this.exitStatusFd.value);
    // Fatalf skips cleanup: from here the loader is destroyed explicitly before any fatal exit.
    testPause("boot-before-sync");
    try {
      const sync = this.startSyncFd.value;
      if (k.write(sync, new Uint8Array(1)) !== 1) throw new Error("short write");
      // A socket (runts' wrapper) stays open until the wrapper confirms the container; a pipe is done.
      if ((k.fstatMode(sync) & S_IFMT) === S_IFSOCK) l.awaitConfirmation(sync);
      else k.close(sync);
    } catch (e) {
      await l.destroy(0);
      fatalf(`unable to write into the start-sync descriptor: ${(e as Error).message}`);
    }
    for (const w of specWarnings) userEvent(`ignored: ${w}`);
    userEvent(`container ${l.id} created, pid ${l.pid}`);
    await l.waitForStartSignal();
    if (l.status === "running") userEvent(`container ${l.id} started`);
    const ws = await l.waitExit();
    log.info(`application exiting with ${ws}`);
    userEvent(`container ${l.id} exited with wait status ${ws}`);
    const ooms = l.cgroups ? oomKills(l.cgroups) : null;
    if (ooms) userEvent(`container ${l.id}: the OOM killer struck ${ooms} time(s) in its memory cgroup`);
    ctx.waitStatus = ws;
    await l.destroy();
    this.#removeOwnedCgroups?.();
    return ExitStatus.Success;
  }

  /**
   * boot's own cgroup (src/cgroups/boot_owned.ts) when --total-memory or --cpu-num come without
   * --cgroup-fd: made now, before any chroot. Returns the flags that carry it across boot's re-execs,
   * and arms its removal for whenever this process exits.
   */
  private ownCgroups(k: typeof linux, id: string): string[] {
    let args: string[] = [];
    if (!this.cgroupFds.value.length && (this.totalMem.value > 0n || this.cpuNum.value > 0)) {
      let owned: OwnedCgroups | null = null;
      try {
        owned = createOwnedCgroups(k, id, this.totalMem.value, this.cpuNum.value, (m) => log.warning(m));
      } catch (e) {
        fatalf(`creating a cgroup for --total-memory/--cpu-num: ${(e as Error).message}`);
      }
      if (!owned) return [];
      this.cgroupFds.value = owned.dirFds;
      this.cgroupParentFds.value = owned.parentFds;
      args = [
        ...owned.dirFds.map((fd) => `--cgroup-fd=${fd}`),
        ...owned.parentFds.map((fd) => `--cgroup-parent-fd=${fd}`),
      ];
    }
    if (this.cgroupParentFds.value.length) {
      const owned = { dirFds: this.cgroupFds.value, parentFds: this.cgroupParentFds.value };
      let done = false;
      this.#removeOwnedCgroups = () => {
        if (done) return;
        done = true;
        try {
          removeOwnedCgroups(k, id, owned);
        } catch (e) {
          log.warning((e as Error).message);
        }
      };
      globalThis.addEventListener("unload", this.#removeOwnedCgroups);
    }
    return args;
  }
}

function lookupPlatform(name: string) {
  try {
    return lookup(name);
  } catch (e) {
    fatalf(`loading platform: ${(e as Error).message}`);
  }
}

function readSpec(bundle: string, fd: number, warnings: string[] = []): Spec {
  try {
    return readSpecFromFile(linux, bundle, fd, (w) => {
      log.warning(w);
      warnings.push(w);
    });
  } catch (e) {
    fatalf(`reading spec: ${(e as Error).message}`);
  }
}

/** The directories of the --debug-log pattern and the --log file, which must survive the chroot. */
function logDirs(debugLog: string, logFile: string): string[] {
  const dir = (p: string) => p.slice(0, Math.max(p.lastIndexOf("/"), 1));
  const dirs: string[] = [];
  if (debugLog) dirs.push(debugLog.endsWith("/") ? debugLog.replace(/\/+$/, "") || "/" : dir(debugLog));
  if (logFile) dirs.push(dir(logFile));
  return dirs.filter((d) => d.startsWith("/") && d !== "/");
}

/** The boot subcommand. */
export function createCommand(): Command {
  return new Boot();
}
