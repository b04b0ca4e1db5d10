/**
 * Pause points for fault-injection tests (tests/reliability): a way to stop one runts process at an exact
 * stage so a test can SIGKILL it, or another process of the chain, right there.
 *
 * Inert unless both variables are set in the environment of the runts command (boot and init inherit it):
 * `RUNTS_TEST_PAUSE` (comma-separated point names) and `RUNTS_TEST_PAUSE_DIR` (an existing directory). A
 * process reaching a listed point creates `<dir>/<point>.<pid>` and blocks until that file is removed.
 * See docs/reliability.md for the list of points.
 */

/** The stages a test can stop at. */
export type PausePoint =
  /** wrapper (create/run): boot spawned, before waiting for its start-sync byte. */
  | "create-before-sync"
  /** wrapper (create/run): the sync byte arrived, before the create hooks and the "created" record. */
  | "create-after-sync"
  /** wrapper (start/run): status checked, before StartRoot is sent. */
  | "start-before-startroot"
  /** wrapper (delete): the container is killed and boot gone, before the state is removed. */
  | "delete-before-remove"
  /** boot: init is ready, before the start-sync byte is written. */
  | "boot-before-sync"
  /** boot: StartRoot arrived, before the start byte goes to init. */
  | "boot-before-start"
  /** init: at its very start, before any namespace or mount work. */
  | "init-start"
  /** init (a clone child): the container is built and the credentials set, before rlimits and execve. */
  | "init-before-exec";

const POLL_MS = 10;

function wanted(point: PausePoint): string | null {
  const points = Deno.env.get("RUNTS_TEST_PAUSE");
  const dir = Deno.env.get("RUNTS_TEST_PAUSE_DIR");
  return points && dir && points.split(",").includes(point) ? dir : null;
}

/** Blocks at `point` when the environment asks for it (see the module comment); otherwise returns at once. */
export function testPause(point: PausePoint): void {
  const dir = wanted(point);
  if (dir === null) return;
  // The pid as the host sees it: inside a new pid namespace Deno.pid is 1, but /proc is still the host's.
  pauseAt(`${dir}/${point}.${Number(Deno.readLinkSync("/proc/self"))}`);
}

/**
 * For a clone child that is about to change its root: a pause for `point` later on, through the pause
 * directory opened now (`open` returns an O_PATH fd of it, which the caller closes with the returned
 * `close`) and the host pid seen now.
 */
export function laterPause(
  point: PausePoint,
  open: (dir: string) => number,
  close: (fd: number) => void,
): { pause: () => void; close: () => void } {
  const dir = wanted(point);
  if (dir === null) return { pause: () => {}, close: () => {} };
  const fd = open(dir);
  const pid = Number(Deno.readLinkSync("/proc/self"));
  return { pause: () => pauseAt(`/proc/self/fd/${fd}/${point}.${pid}`), close: () => close(fd) };
}

function pauseAt(marker: string): void {
  const pid = marker.slice(marker.lastIndexOf(".") + 1);
  Deno.writeTextFileSync(marker, String(pid));
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      Deno.statSync(marker);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    Atomics.wait(tick, 0, 0, POLL_MS);
  }
}
