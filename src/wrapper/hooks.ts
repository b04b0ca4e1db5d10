/**
 * OCI lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks"): each hook is executed by the
 * wrapper with exactly its args and env, the container state JSON on stdin, and its timeout.
 *
 * Deviation: createContainer and startContainer hooks should run inside the container's namespaces;
 * runts runs them from the wrapper, in the runtime namespaces, like the other hooks (at the point of the
 * lifecycle where the spec places them).
 */
import type { Kernel } from "../../ffi/kernel.ts";
import { CLD, EPOLL, O, P, SIGNALS, W } from "../../ffi/consts.ts";
import { Errno } from "../../ffi/errno.ts";
import { isErrno } from "../../ffi/error.ts";
import type { Hook, Hooks } from "../specutils/spec.ts";
import type { Status } from "./state_file.ts";

/** The hook stages, in lifecycle order. */
export type HookStage = keyof Hooks;

/** The state document a hook reads on stdin. */
export interface HookState {
  ociVersion: string;
  id: string;
  status: Status;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** A hook that failed or timed out; the message names the stage, the path and the reason. */
export class HookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HookError";
  }
}

const MFD_CLOEXEC = 1;
const MAX_OUTPUT = 4096;

/** Runs the hooks of `stage` one after the other; throws HookError at the first failure. */
export async function runHooks(
  k: Kernel,
  stage: HookStage,
  hooks: Hooks | undefined,
  state: HookState,
): Promise<void> {
  const json = JSON.stringify(state);
  for (const hook of hooks?.[stage] ?? []) await runHook(k, stage, hook, json);
}

/**
 * Runs the hooks of `stage`, reporting failures to `warn` instead of throwing (poststart and poststop:
 * the spec says a failure is logged and the lifecycle goes on).
 */
export async function runHooksBestEffort(
  k: Kernel,
  stage: HookStage,
  hooks: Hooks | undefined,
  state: HookState,
  warn: (msg: string) => void,
): Promise<void> {
  const json = JSON.stringify(state);
  for (const hook of hooks?.[stage] ?? []) {
    try {
      await runHook(k, stage, hook, json);
    } catch (e) {
      warn((e as Error).message);
    }
  }
}

/** Runs one hook with `stateJSON` on stdin. */
export async function runHook(k: Kernel, stage: HookStage, hook: Hook, stateJSON: string): Promise<void> {
  const what = `${stage} hook ${hook.path}`;
  if (!hook.path.startsWith("/")) throw new HookError(`${what}: path must be absolute`);
  const out = k.memfdCreate("runts-hook-output", MFD_CLOEXEC);
  try {
    const [inR, inW] = k.pipe2(O.CLOEXEC);
    let pid: number;
    try {
      pid = k.spawn({
        path: hook.path,
        argv: hook.args && hook.args.length > 0 ? hook.args : [hook.path],
        env: hook.env ?? [],
        fds: new Map([[0, inR], [1, out], [2, out]]),
      });
    } catch (e) {
      k.close(inW);
      throw new HookError(`${what}: ${(e as Error).message}`);
    } finally {
      k.close(inR);
    }
    // The hook's timeout covers reading its stdin too: a hook that never reads a large state must not
    // block us before the timer runs.
    const started = Date.now();
    const deadline = hook.timeout && hook.timeout > 0 ? started + hook.timeout * 1000 : undefined;
    if (!feedStdin(k, inW, stateJSON, deadline)) {
      k.kill(pid, SIGNALS.KILL);
      await k.waitidBlocking(P.PID, pid, W.EXITED);
      throw new HookError(`${what}: hook ran past specified timeout of ${hook.timeout} sec`);
    }
    const left = deadline === undefined ? undefined : Math.max(0.001, (deadline - Date.now()) / 1000);
    const { info, timedOut } = await waitWithTimeout(k, pid, left);
    if (timedOut) throw new HookError(`${what}: hook ran past specified timeout of ${hook.timeout} sec`);
    if (info.code === CLD.EXITED && info.status === 0) return;
    const reason = info.code === CLD.EXITED
      ? `exit status ${info.status}`
      : `killed by signal ${info.status}`;
    const output = readBack(k, out);
    throw new HookError(`${what} failed: ${reason}${output ? `, output: ${output}` : ""}`);
  } finally {
    k.close(out);
  }
}

/**
 * Writes the state to the hook's stdin and closes it; a hook that exits without reading it is fine.
 * Returns false when `deadline` (ms since the epoch) passed before the hook took it all.
 */
function feedStdin(k: Kernel, fd: number, text: string, deadline: number | undefined): boolean {
  const data = new TextEncoder().encode(text);
  try {
    k.setNonblocking(fd);
    let off = 0;
    while (off < data.length) {
      try {
        off += k.write(fd, data.subarray(off));
      } catch (e) {
        if (!isErrno(e, Errno.EAGAIN)) throw e;
        const left = deadline === undefined ? 60_000 : deadline - Date.now();
        if (left <= 0) return false;
        k.pollOne(fd, EPOLL.OUT, left);
      }
    }
    return true;
  } catch (e) {
    if (!isErrno(e, Errno.EPIPE)) throw e;
    return true;
  } finally {
    k.close(fd);
  }
}

async function waitWithTimeout(k: Kernel, pid: number, timeoutSec: number | undefined) {
  let timedOut = false;
  const timer = timeoutSec && timeoutSec > 0
    ? setTimeout(() => {
      timedOut = true;
      try {
        k.kill(pid, SIGNALS.KILL);
      } catch {
        // it exited in the meantime
      }
    }, timeoutSec * 1000)
    : undefined;
  try {
    const info = await k.waitidBlocking(P.PID, pid, W.EXITED);
    if (!info) throw new HookError(`waiting for hook pid ${pid}: no status`);
    return { info, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

function readBack(k: Kernel, fd: number): string {
  k.lseek(fd, 0, 0);
  const buf = new Uint8Array(MAX_OUTPUT);
  let n = 0;
  while (n < buf.length) {
    const r = k.read(fd, buf.subarray(n));
    if (r === 0) break;
    n += r;
  }
  return new TextDecoder().decode(buf.subarray(0, n)).trim();
}
