/**
 * Acts as an engine's subreaper (conmon, containerd-shim): becomes a child subreaper, runs `runts create`
 * and `start`, then reaps every orphan until the container's process (from the pid file) is reaped,
 * and prints a JSON report. Usage: subreaper_helper.ts ROOT BUNDLE ID
 */
import { linux, P, PR, W } from "../../ffi/mod.ts";
import { RUNTS } from "./helpers.ts";

const [root, bundle, id] = Deno.args;
const k = linux;
k.prctl(PR.SET_CHILD_SUBREAPER, 1);
const env = Object.entries(Deno.env.toObject()).map(([n, v]) => `${n}=${v}`);
const devNull = k.open("/dev/null", 2);
const pidFile = `${root}/../${id}-${Deno.pid}.pid`;
const P_ALL = 0;

function runts(args: string[]): number {
  const pid = k.spawn({
    path: RUNTS,
    argv: [RUNTS, "--root", root, ...args],
    env,
    fds: new Map([[0, devNull], [1, devNull], [2, 2]]),
  });
  const info = k.waitid(P.PID, pid, W.EXITED)!;
  return info.code === 1 ? info.status : 128 + info.status;
}

const createCode = runts(["create", "--bundle", bundle, "--pid-file", pidFile, id]);
const pidText = Deno.readTextFileSync(pidFile);
Deno.removeSync(pidFile);
const st = new Deno.Command(RUNTS, { args: ["--root", root, "state", id], stdout: "piped" }).outputSync();
const statePid = JSON.parse(new TextDecoder().decode(st.stdout)).pid;
const startCode = runts(["start", id]);
const app = Number(pidText);
const reaped: number[] = [];
let appExitCode = -1;
const deadline = Date.now() + 20_000;
while (Date.now() < deadline) {
  const info = k.waitid(P_ALL, 0, W.EXITED);
  if (!info) continue;
  reaped.push(info.pid);
  if (info.pid === app) {
    appExitCode = info.code === 1 ? info.status : 128 + info.status;
    break;
  }
}
console.log(JSON.stringify({ createCode, startCode, pidFile: pidText, statePid, appExitCode, reaped }));
