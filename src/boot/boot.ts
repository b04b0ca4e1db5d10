/**
 * What `runts boot` does (runsc's boot command with a native loader), from its decoded flags: the wrapper
 * (ours or anyone's) hands it the spec, mounts, root and stdio fds, a bound control socket and a
 * start-sync pipe; boot optionally moves into an empty root and re-executes itself with fewer
 * privileges (src/boot/chroot.ts, src/boot/capability.ts), builds the container, writes one byte when it
 * is ready, starts the app on StartRoot and ends with the app's wait status.
 */
import type { Kernel } from "../../ffi/mod.ts";
import type { Config } from "../config/config.ts";
import type { FlagSet } from "../flag/flag.ts";
import { debugEnabled, log } from "../log/log.ts";
import { logSpec, readMounts, readSpecFromFile } from "../specutils/specutils.ts";
import { hasNS } from "../specutils/namespaces.ts";
import type { Mount, Spec } from "../specutils/spec.ts";
import { lookup } from "../platform/platform.ts";
import { self } from "../specutils/exe.ts";
import { openRootfs } from "../specutils/rootfs.ts";
import { type BootRequest, cgroupFlags, sourceFlags } from "../protocol/boot_flags.ts";
import { setUpChroot } from "./chroot.ts";
import { bootCapabilities, callSelfAsNobody, prepareArgs, setCapsAndCallSelf } from "./capability.ts";
import { Loader } from "./loader.ts";
import { pidNamespace } from "./start_init.ts";
import { ioFdMounts } from "./spawn_init.ts";
import { CREATOR_DEATH_SIGNO } from "./creator.ts";
import { testPause } from "../util/test_pause.ts";
import { createOwnedCgroups, type OwnedCgroups, removeOwnedCgroups } from "../cgroups/boot_owned.ts";
import { oomKills } from "../cgroups/stats.ts";

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

/** Reports a fatal error and exits at once, without cleanup (runsc's Fatalf; src/cmd/cmd.ts). */
export type Fatal = (msg: string) => never;

/** boot's run: `req` from its flags, `f` the parsed flag set (its arguments are handed on at a re-exec). */
export async function runBoot(
  k: Kernel,
  conf: Config,
  req: BootRequest,
  f: FlagSet,
  fatalf: Fatal,
): Promise<number> {
  const platform = lookupPlatform(conf.platform, fatalf);
  const attached = req.attached;
  if (attached) {
    try {
      // Caught once the loader runs, so boot can reap the app before it goes (src/boot/creator.ts).
      k.setParentDeathSignal(CREATOR_DEATH_SIGNO);
    } catch (e) {
      fatalf(`error setting parent death signal: ${(e as Error).message}`);
    }
  }
  const userLog = req.userLogFd > 0 ? req.userLogFd : -1;
  const userEvent = (msg: string) => {
    if (userLog < 0) return;
    try {
      k.write(userLog, new TextEncoder().encode(msg + "\n"));
    } catch (e) {
      log.debug(`user log: ${(e as Error).message}`);
    }
  };

  // Without cgroups from a wrapper, --total-memory and --cpu-num get a cgroup of boot's own.
  const owned = ownCgroups(k, req, fatalf);
  const cgroupArgs = owned.args;

  // Read and validated once in this stage: a re-exec'd stage reads its own copy from the fd again.
  const specWarnings: string[] = [];
  const spec = readSpec(k, req, fatalf, specWarnings);
  // The mount list, once read (detachSources reads it before the chroot); null: not read yet.
  let mounts: Mount[] | null = null;

  // After --setup-root: the flags that replace --io-fds and --mounts-fd (detached trees, a mounts memfd).
  let rootExtra: string[] | null = null;
  if (req.setUpRoot) {
    let extra: string[] = [];
    try {
      if (!hasNS(spec, "mount")) {
        throw new Error(
          "the spec has no mount namespace, so the container must stay in the runtime's, and --setup-root " +
            "moves boot into one of its own: give linux.namespaces a mount entry, or leave out --setup-root",
        );
      }
      const sources = detachSources(k, req, spec);
      extra = [...sourceFlags(sources.ioFds, sources.mountsFd), ...cgroupArgs];
      req.mountsFd = sources.mountsFd;
      req.ioFds = sources.ioFds;
      mounts = sources.mounts;
      setUpChroot(k, logDirs(conf.debugLog, conf.log));
    } catch (e) {
      fatalf(`error setting up chroot: ${(e as Error).message}`);
    }
    if (!req.applyCaps && !conf.rootless) {
      const args = prepareArgs(self().args, f, attached, ["setup-root", "mounts-fd", "io-fds"], extra);
      try {
        callSelfAsNobody(k, args, spec.process?.capabilities ?? {});
      } catch (e) {
        fatalf(`callSelfAsNobody(${JSON.stringify(args)}): ${(e as Error).message}`);
      }
    }
    rootExtra = extra;
  }

  logSpec(spec, log, debugEnabled());
  if (req.pidns !== (pidNamespace(spec).kind === "new")) {
    log.debug(`--pidns=${req.pidns} ignored: the container's PID namespace follows linux.namespaces`);
  }

  if (req.applyCaps) {
    const caps = bootCapabilities(
      spec.process!.capabilities ?? {},
      platform.requirements().requiresCapSysPtrace,
    );
    const args = rootExtra
      ? prepareArgs(self().args, f, attached, ["setup-root", "apply-caps", "mounts-fd", "io-fds"], rootExtra)
      : prepareArgs(self().args, f, attached, ["setup-root", "apply-caps"], cgroupArgs);
    try {
      setCapsAndCallSelf(k, args, caps);
    } catch (e) {
      fatalf(`setCapsAndCallSelf(${JSON.stringify(args)}): ${(e as Error).message}`);
    }
  }

  if (req.mountsFd !== -1) {
    try {
      mounts ??= readMounts(k, req.mountsFd);
    } catch (e) {
      fatalf(`Error reading mounts file: ${(e as Error).message}`);
    } finally {
      k.close(req.mountsFd);
    }
  }
  mounts ??= spec.mounts ?? [];
  if (req.deviceFd !== -1) k.close(req.deviceFd);

  if (req.ioFds.length === 0) {
    // Opened here, where the bundle is known: only the bundle's own path may hold a symlink.
    try {
      req.ioFds = [openRootfs(k, spec.root!.path, req.bundle)];
    } catch (e) {
      fatalf(`creating loader: ${(e as Error).message}`);
    }
  }
  const stdio = req.stdioFds;
  let l: Loader;
  try {
    l = Loader.create(k, {
      id: req.id,
      spec,
      mounts,
      conf,
      controllerFd: req.controllerFd,
      ioFds: req.ioFds,
      stdioFds: stdio ?? [0, 1, 2],
      preservedFds: req.preserveFds,
      numCpu: req.cpuNum,
      totalMem: req.totalMem,
      userLogFd: req.userLogFd,
      attached,
      noPivot: req.noPivot,
      cgroupFds: req.cgroupFds,
    });
  } catch (e) {
    fatalf(`creating loader: ${(e as Error).message}`);
  }
  for (const fd of [...req.ioFds, ...stdio ?? [], ...req.preserveFds]) {
    if (fd > 2) k.close(fd);
  }
  if (req.exitStatusFd !== -1) l.recordExitTo(req.exitStatusFd);
  // Fatalf skips cleanup: from here the loader is destroyed explicitly before any fatal exit.
  testPause("boot-before-sync");
  try {
    const sync = req.startSyncFd;
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
  await l.destroy();
  owned.remove?.();
  return ws;
}

/**
 * Before boot leaves the host's mount namespace, the root and bind sources must become detached mount
 * trees (mounts can only be copied inside their own namespace), and the mount list must survive the
 * re-exec (a pipe reads only once): it moves to a memfd. Returns the fds that replace --io-fds and
 * --mounts-fd for the next stage, and the mount list read.
 */
function detachSources(
  k: Kernel,
  req: BootRequest,
  spec: Spec,
): { ioFds: number[]; mountsFd: number; mounts: Mount[] } {
  let mounts = spec.mounts ?? [];
  if (req.mountsFd !== -1) {
    mounts = readMounts(k, req.mountsFd);
    k.close(req.mountsFd);
  }
  const io = req.ioFds.length ? [...req.ioFds] : [openRootfs(k, spec.root!.path, req.bundle)];
  const recursive = ioFdMounts(mounts).map((m) => m === null || (m.options ?? []).includes("rbind"));
  io.forEach((fd, i) => {
    const tree = k.cloneMount(fd, recursive[i] ?? true);
    k.dup3(tree, fd, 0);
    k.close(tree);
  });
  const memfd = k.memfdCreate("runts-mounts", 0);
  const bytes = new TextEncoder().encode(JSON.stringify(mounts));
  for (let off = 0; off < bytes.length;) off += k.write(memfd, bytes.subarray(off));
  k.lseek(memfd, 0, 0);
  return { ioFds: io, mountsFd: memfd, mounts };
}

/**
 * boot's own cgroup (src/cgroups/boot_owned.ts) when --total-memory or --cpu-num come without
 * --cgroup-fd: made now, before any chroot. Returns the flags that carry it across boot's re-execs, and
 * its removal, also armed for whenever this process exits.
 */
function ownCgroups(k: Kernel, req: BootRequest, fatalf: Fatal): { args: string[]; remove?: () => void } {
  let args: string[] = [];
  if (!req.cgroupFds.length && (req.totalMem > 0n || req.cpuNum > 0)) {
    let owned: OwnedCgroups | null = null;
    try {
      owned = createOwnedCgroups(k, req.id, req.totalMem, req.cpuNum, (m) => log.warning(m));
    } catch (e) {
      fatalf(`creating a cgroup for --total-memory/--cpu-num: ${(e as Error).message}`);
    }
    if (!owned) return { args: [] };
    req.cgroupFds = owned.dirFds;
    req.cgroupParentFds = owned.parentFds;
    args = cgroupFlags(owned.dirFds, owned.parentFds);
  }
  if (!req.cgroupParentFds.length) return { args };
  const owned = { dirFds: req.cgroupFds, parentFds: req.cgroupParentFds };
  let done = false;
  const remove = () => {
    if (done) return;
    done = true;
    try {
      removeOwnedCgroups(k, req.id, owned);
    } catch (e) {
      log.warning((e as Error).message);
    }
  };
  globalThis.addEventListener("unload", remove);
  return { args, remove };
}

function lookupPlatform(name: string, fatalf: Fatal) {
  try {
    return lookup(name);
  } catch (e) {
    fatalf(`loading platform: ${(e as Error).message}`);
  }
}

function readSpec(k: Kernel, req: BootRequest, fatalf: Fatal, warnings: string[] = []): Spec {
  try {
    return readSpecFromFile(k, req.bundle, req.specFd, (w) => {
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
