/**
 * The init process: a short-lived runts that boot spawns on its main thread. Synchronously, on its own main
 * thread, it enters the namespaces, builds the root, sets up the process, reports "ready" to boot, waits for
 * the start byte and execve's the app, which keeps its pid.
 */
import { CLOSE_RANGE_CLOEXEC, F, type Kernel, PR, SIGNALS, TIOC } from "../../ffi/mod.ts";
import type { InitConfig } from "./config.ts";
import { READY } from "./config.ts";
import { enterNamespaces, planNamespaces } from "./namespaces.ts";
import { buildRoot, takeSources } from "./rootfs.ts";
import {
  applyCredentials,
  applyOomScoreAdj,
  applyRlimits,
  applySysctls,
  lookPath,
  setNames,
} from "./process.ts";

const encoder = new TextEncoder();

function lastCap(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
  } catch {
    return 40;
  }
}

function restrictCpus(k: Kernel, n: number): void {
  if (n <= 0) return;
  const cpus = k.schedGetaffinity(0);
  if (n < cpus.length) k.schedSetaffinity(0, cpus.slice(0, n));
}

/** Sends one line to boot over the ready pipe. */
export function report(k: Kernel, fd: number, line: string): void {
  const bytes = encoder.encode(line.replaceAll("\n", " ") + "\n");
  let off = 0;
  while (off < bytes.length) off += k.write(fd, bytes.subarray(off));
}

/** Everything up to the start signal. Throws on any failure; the caller reports it. */
export function prepare(k: Kernel, cfg: InitConfig, cap = lastCap()): string {
  k.umask(0);
  const sources = cfg.mode === "create" ? takeSources(k, cfg) : null;
  enterNamespaces(k, planNamespaces(cfg));
  if (sources) {
    buildRoot(k, cfg, sources);
    setNames(k, cfg.spec);
    applySysctls(cfg.spec.linux?.sysctl);
  }
  const p = cfg.process;
  applyRlimits(k, p);
  applyOomScoreAdj(p);
  restrictCpus(k, cfg.cpuNum);
  const cwd = p.cwd || "/";
  k.chdir(cwd);
  const path = lookPath(p.args![0], p.env ?? [], cwd);
  // Its own session, so signals to the foreground group reach the app's group, and a terminal can become
  // the controlling tty of exactly this session.
  k.setsid();
  if (p.terminal) k.ioctl(0, TIOC.SCTTY, 0n);
  applyCredentials(k, p, cap);
  k.umask(p.user?.umask ?? 0o022);
  return path;
}

/** Runs init to the execve of the app; never returns. */
export function runInit(k: Kernel, cfg: InitConfig): never {
  k.prctl(PR.SET_PDEATHSIG, SIGNALS.KILL);
  let path: string;
  try {
    path = prepare(k, cfg);
    // Everything above the preserved fds is closed at exec; that includes the ready pipe, whose EOF tells
    // boot the exec succeeded.
    k.closeRange(3 + cfg.preserveFds, 0xffffffff, CLOSE_RANGE_CLOEXEC);
    for (let fd = 3; fd < 3 + cfg.preserveFds; fd++) k.fcntl(fd, F.SETFD, 0);
    report(k, cfg.readyFd, READY);
  } catch (e) {
    report(k, cfg.readyFd, `error: ${(e as Error).message}`);
    Deno.exit(1);
  }
  const one = new Uint8Array(1);
  if (k.read(cfg.startFd, one) !== 1) Deno.exit(1); // boot went away before starting us
  // Re-armed, not kept: a change of euid/egid (to the app's user, or from boot's nobody to root) clears it.
  k.prctl(PR.SET_PDEATHSIG, cfg.attached ? SIGNALS.KILL : 0);
  try {
    k.execve(path, cfg.process.args!, cfg.process.env ?? []);
  } catch (e) {
    report(k, cfg.readyFd, `error: ${(e as Error).message}`);
    Deno.exit(127);
  }
}
