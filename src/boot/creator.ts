/**
 * `--attached` (`run` without `-d`): boot dies with its creator. runsc arms SIGKILL as boot's parent-death
 * signal; runts arms SIGPWR and catches it, because a boot killed outright orphans the app: its zombie
 * (which holds the container's pid namespace) would wait for the host's init to reap it, after `delete
 * --force` has returned. Caught, the signal makes boot kill every process of the container and then exit
 * as for any app exit, reaping the app first (Loader.destroy). Until the loader listens (the first
 * stages, and across boot's re-execs) SIGPWR's default action ends boot as SIGKILL did, and init's own
 * parent-death signal (SIGKILL) takes the app with it.
 */
import { Errno, isErrno, type Kernel, SIGNALS } from "../../ffi/mod.ts";
import type { CgroupView } from "../cgroups/view.ts";
import { isFrozen, setFrozen } from "../cgroups/freezer.ts";

/** The parent-death signal of an attached boot (prctl PR_SET_PDEATHSIG). */
export const CREATOR_DEATH_SIGNAL = "SIGPWR";

/** Its number. */
export const CREATOR_DEATH_SIGNO = SIGNALS.PWR;

/** SIGKILLs `pids` (gone ones are skipped) and thaws a frozen container so the signal takes effect. */
export function killMembers(k: Kernel, pids: number[], cgroups: CgroupView | null): void {
  for (const pid of pids) {
    try {
      k.kill(pid, SIGNALS.KILL);
    } catch (e) {
      if (!isErrno(e, Errno.ESRCH)) throw e;
    }
  }
  if (cgroups && isFrozen(cgroups)) setFrozen(cgroups, false);
}
