/**
 * `kill`: a signal to the container's process or to all its processes, through boot; and the kill of last
 * resort (killContainer) that delete and a failed create use: every process killed, boot waited for (and
 * killed if it lingers), the app killed directly if it is still there.
 */
import { SIGNALS } from "../../ffi/consts.ts";
import { log } from "../log/log.ts";
import { methodName, SignalMode } from "../protocol/control.ts";
import { sleepSync } from "../util/sleep.ts";
import { NoReplyError, PendingCall } from "./pending_call.ts";
import { ContainerError } from "./errors.ts";
import { isAlive, readProcStat } from "./proc.ts";
import { BOOT_ANSWER_MS, type Container, modules, STOP_TIMEOUT_MS } from "./container.ts";

/** How long delete waits for the host's init to reap an orphaned zombie of the container's process. */
const ZOMBIE_WAIT_MS = 5_000;

/** Sends `signo` to the container's process, or to all its processes. Created containers accept it. */
export function signalContainer(c: Container, signo: number, all: boolean): void {
  const live = c.liveState();
  if (live.status === "stopped") throw new ContainerError("not-running", "container not running");
  if (live.status === "creating") {
    throw new ContainerError("bad-state", `container ${c.id} is being created`);
  }
  try {
    c.control().signal(c.id, signo, all ? SignalMode.All : SignalMode.Process);
  } catch (e) {
    throw c.notRunningOr(e);
  }
}

/**
 * Kills every process of the container and waits (up to 10 s) for boot to exit; boot itself gets
 * SIGKILL if it lingers. Errors are logged: this is the path of last resort.
 */
export function killContainer(c: Container): void {
  let hung = false;
  if (c.hosted && !c.hosted.released) {
    try {
      c.control().signal(c.id, SIGNALS.KILL, SignalMode.All);
    } catch (e) {
      log.debug(`killing container ${c.id}: ${(e as Error).message}`);
    }
    // Destroying kills what is left of the app; delete() awaits it.
    c.releaseHosted(0).catch((e) => log.warning(`stopping the loader: ${(e as Error).message}`));
  } else {
    hung = killThroughBoot(c);
  }
  reapBootAndApp(c, hung);
}

/** Asks boot to kill every process; true when boot did not answer in time. */
function killThroughBoot(c: Container): boolean {
  let hung = false;
  try {
    // Bounded: a boot that does not answer (stopped, wedged) is killed instead of waited for.
    PendingCall.send(c.k, c.rec.controlAddress, methodName("Signal"), {
      CID: c.id,
      Signo: SIGNALS.KILL,
      PID: 0,
      Mode: SignalMode.All,
    }).finish(BOOT_ANSWER_MS);
  } catch (e) {
    hung = e instanceof NoReplyError;
    log.debug(`killing container ${c.id} through boot: ${(e as Error).message}`);
  }
  return hung;
}

/** After the kill: thaws, waits for boot to go (killing it if it lingers), and kills the app if left. */
function reapBootAndApp(c: Container, hung: boolean): void {
  // Frozen (paused) processes do not die until they are thawed.
  if (c.rec.cgroups) {
    try {
      modules().cgroups.thawCgroups(c.k, c.rec.cgroups);
    } catch (e) {
      log.warning(`thawing container ${c.id}: ${(e as Error).message}`);
    }
  }
  const deadline = hung ? 0 : Date.now() + STOP_TIMEOUT_MS;
  // boot usually goes within a few ms: poll fast first, then every 20 ms.
  for (let ms = 1; c.bootAlive(c.rec) && Date.now() < deadline; ms = Math.min(2 * ms, 20)) {
    sleepSync(ms);
  }
  if (c.bootAlive(c.rec)) {
    try {
      c.k.kill(c.rec.bootPid, SIGNALS.KILL);
    } catch (e) {
      log.debug(`killing boot ${c.rec.bootPid}: ${(e as Error).message}`);
    }
  }
  // The app dies with boot (parent-death signal), unless it undid that itself or exec'd a set-id
  // program: kill it directly if it is still the process we recorded.
  const appAlive = () => isAlive(c.rec.pid, c.rec.pidStartTime);
  if (c.rec.pid > 0 && c.rec.pidStartTime && appAlive()) {
    try {
      c.k.kill(c.rec.pid, SIGNALS.KILL);
    } catch (e) {
      log.debug(`killing the container's process ${c.rec.pid}: ${(e as Error).message}`);
    }
    // With a pid namespace its end takes every other process of the namespace along: wait for it.
    const end = Date.now() + BOOT_ANSWER_MS;
    for (let ms = 1; appAlive() && Date.now() < end; ms = Math.min(2 * ms, 20)) sleepSync(ms);
  }
  awaitOrphanReaped(c);
}

/**
 * A zombie of the container's process whose parent (boot, or the `run` that hosted the loader) was
 * killed goes to the host's init, which may take a second or two to reap it; until then it holds the pid
 * namespace. Waits for that, up to ZOMBIE_WAIT_MS.
 */
export function awaitOrphanReaped(c: Container): void {
  const zombie = () => {
    const st = c.rec.pid > 0 && c.rec.pidStartTime ? readProcStat(c.rec.pid) : null;
    return st !== null && st.startTime === c.rec.pidStartTime && st.state === "Z";
  };
  const end = Date.now() + ZOMBIE_WAIT_MS;
  for (let ms = 1; zombie() && !c.bootAlive(c.rec) && Date.now() < end; ms = Math.min(2 * ms, 50)) {
    sleepSync(ms);
  }
}
