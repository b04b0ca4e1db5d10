/**
 * The process side of init: hostname, sysctls, rlimits, oom score, credentials, capabilities,
 * no_new_privs, and finding the executable inside the new root.
 */
import { type Kernel, PR, RLIMIT } from "../../ffi/mod.ts";
import type { Process, Spec } from "../specutils/spec.ts";
import { capMask } from "../specutils/capabilities.ts";

/** Sets hostname and domainname (the caller has checked for a UTS namespace). */
export function setNames(k: Kernel, spec: Spec): void {
  if (spec.hostname !== undefined && spec.hostname !== "") k.sethostname(spec.hostname);
  if (spec.domainname !== undefined && spec.domainname !== "") k.setdomainname(spec.domainname);
}

/** Writes linux.sysctl through /proc/sys (synchronously: this process has a new root). */
export function applySysctls(sysctl: Record<string, string> | undefined): void {
  for (const [key, value] of Object.entries(sysctl ?? {})) {
    if (!/^[A-Za-z0-9_.\-/]+$/.test(key) || key.includes("..")) {
      throw new Error(`sysctl ${key}: invalid name`);
    }
    const path = "/proc/sys/" + key.replaceAll(".", "/");
    try {
      Deno.writeTextFileSync(path, value);
    } catch (e) {
      throw new Error(`sysctl ${key}=${value}: ${(e as Error).message}`);
    }
  }
}

/** Applies process.rlimits. */
export function applyRlimits(k: Kernel, p: Process): void {
  for (const r of p.rlimits ?? []) {
    const res = RLIMIT[r.type];
    if (res === undefined) throw new Error(`rlimit ${r.type}: unknown type`);
    k.setrlimit(res, BigInt(r.soft), BigInt(r.hard));
  }
}

/** Writes process.oomScoreAdj. */
export function applyOomScoreAdj(p: Process): void {
  if (p.oomScoreAdj === undefined) return;
  try {
    Deno.writeTextFileSync("/proc/self/oom_score_adj", String(p.oomScoreAdj));
  } catch (e) {
    throw new Error(`oomScoreAdj ${p.oomScoreAdj}: ${(e as Error).message}`);
  }
}

/** Switches to the process's uid, gid and groups, then sets the five capability sets and no_new_privs. */
export function applyCredentials(k: Kernel, p: Process, lastCap: number): void {
  const caps = p.capabilities ?? {};
  const bounding = capMask(caps.bounding);
  for (let c = 0; c <= lastCap; c++) {
    if (!(bounding & (1n << BigInt(c)))) k.prctl(PR.CAPBSET_DROP, c);
  }
  k.prctl(PR.SET_KEEPCAPS, 1);
  const user = p.user ?? { uid: 0, gid: 0 };
  k.setgroups(user.additionalGids ?? []);
  k.setresgid(user.gid);
  k.setresuid(user.uid);
  k.prctl(PR.SET_KEEPCAPS, 0);
  // A set can only shrink: caps this host does not grant init (e.g. CAP_SYS_RESOURCE on some VMs) are dropped.
  const have = k.capget().permitted;
  k.capset({
    effective: capMask(caps.effective) & have,
    permitted: capMask(caps.permitted) & have,
    inheritable: capMask(caps.inheritable) & have,
  });
  k.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (const name of caps.ambient ?? []) {
    const bit = capMask([name]);
    const c = bit.toString(2).length - 1;
    k.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, c, 0, 0);
  }
  if (p.noNewPrivileges) k.prctl(PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/** The value of `name` in an env list (last one wins), or undefined. */
export function envValue(env: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (const e of env) if (e.startsWith(name + "=")) v = e.slice(name.length + 1);
  return v;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function isExecutableFile(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Resolves args[0] against the container's PATH, as execvp would (synchronous: the root has changed). */
export function lookPath(file: string, env: readonly string[], cwd: string): string {
  if (file.includes("/")) {
    const abs = file.startsWith("/") ? file : `${cwd.replace(/\/$/, "")}/${file}`;
    if (isExecutableFile(abs)) return abs;
    throw new Error(`exec: ${JSON.stringify(file)}: no such file or directory`);
  }
  for (const dir of (envValue(env, "PATH") ?? DEFAULT_PATH).split(":")) {
    const candidate = `${dir || "."}/${file}`;
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new Error(`exec: ${JSON.stringify(file)}: executable file not found in $PATH`);
}
