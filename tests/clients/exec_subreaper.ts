/**
 * Plays the engine's exec supervisor (podman's per-exec conmon, the containerd shim): becomes a child
 * subreaper, runs `runts exec --detach --pid-file F ID CMD...`, then reaps orphans until the process named
 * in F is reaped, and prints a JSON report. Usage: exec_subreaper.ts ROOT ID CMD...
 */
import { linux, P, PR, W } from "../../ffi/mod.ts";
import { RUNTS } from "./engines.ts";

const [root, id, ...cmd] = Deno.args;
const k = linux;
k.prctl(PR.SET_CHILD_SUBREAPER, 1);
const env = Object.entries(Deno.env.toObject()).map(([n, v]) => `${n}=${v}`);
const devNull = k.open("/dev/null", 2);
const pidFile = `${root}.exec-${Deno.pid}.pid`;
const P_ALL = 0;
const codeOf = (info: { code: number; status: number }) => info.code === 1 ? info.status : 128 + info.status;

const exec = k.spawn({
  path: RUNTS,
  argv: [RUNTS, "--root", root, "exec", "--detach", "--pid-file", pidFile, id, ...cmd],
  env,
  fds: new Map([[0, devNull], [1, devNull], [2, 2]]),
});
const execCode = codeOf(k.waitid(P.PID, exec, W.EXITED)!);
const pidText = Deno.readTextFileSync(pidFile);
Deno.removeSync(pidFile);
const pid = Number(pidText);
const reaped: number[] = [];
let exitCode = -1;
const deadline = Date.now() + 20_000;
while (Date.now() < deadline) {
  const info = k.waitid(P_ALL, 0, W.EXITED);
  if (!info) continue;
  reaped.push(info.pid);
  if (info.pid === pid) {
    exitCode = codeOf(info);
    break;
  }
}
console.log(JSON.stringify({ execCode, pidFile: pidText, exitCode, reaped }));
