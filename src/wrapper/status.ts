/**
 * The live status of a container: the recorded status, corrected by what is true now (runsc's
 * Container.Load adjustments). Boot gone, or its control socket refusing, means "stopped"; a create
 * whose creator died without finishing also counts as stopped.
 */
import type { BootState } from "../protocol/control.ts";
import type { ContainerRecord, Status } from "./state_file.ts";

/** The status and pid a command should act on. */
export interface LiveState {
  status: Status;
  /** Host pid of the container's process; 0 when stopped. */
  pid: number;
  /** The raw wait status when boot reported the process as exited. */
  exitStatus: number | null;
}

/** The observations status resolution needs (real ones in Container; fakes in tests). */
export interface StatusProbe {
  /** Whether a create still holds the container's lock. */
  createInProgress(): boolean;
  /** Whether boot (pid and start time from the record) still runs. */
  bootAlive(rec: ContainerRecord): boolean;
  /** boot's State answer; null when its controller cannot be reached; throws on a remote error. */
  bootState(rec: ContainerRecord): BootState | null;
  /** The wait status boot left behind when the app exited (see StateDir.readExitStatus); null: none. */
  recordedExit?(): number | null;
}

/** Derives the live state of `rec`. */
export function resolveLiveState(rec: ContainerRecord, probe: StatusProbe): LiveState {
  const stopped = (): LiveState => ({
    status: "stopped",
    pid: 0,
    exitStatus: probe.recordedExit?.() ?? null,
  });
  switch (rec.status) {
    case "stopped":
      return stopped();
    case "creating":
      return probe.createInProgress() ? { status: "creating", pid: rec.pid, exitStatus: null } : stopped();
  }
  if (!probe.bootAlive(rec)) return stopped();
  let st: BootState | null;
  try {
    st = probe.bootState(rec);
  } catch {
    // boot answered but State failed (an older boot, say): trust the record.
    return { status: rec.status, pid: rec.pid, exitStatus: null };
  }
  if (!st) return stopped();
  if (st.status === "stopped") return { status: "stopped", pid: 0, exitStatus: st.exitStatus ?? null };
  const pid = st.pid > 0 ? st.pid : rec.pid;
  if (st.status === "created") return { status: "created", pid, exitStatus: null };
  return { status: rec.status === "paused" ? "paused" : "running", pid, exitStatus: null };
}
