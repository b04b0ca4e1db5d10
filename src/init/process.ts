/**
 * The process side of init: hostname, sysctls, rlimits, oom score, personality, the working directory,
 * and finding the executable inside the new root (credentials: src/credentials/credentials.ts).
 */
import { Errno, errnoText, type Kernel, O, PER, RLIMIT, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { LinuxPersonality, Process, Spec } from "../specutils/spec.ts";
import { isSysctlName, type SysctlNamespace, sysctlNamespace, sysctlPath } from "../specutils/sysctl.ts";
import { openInRoot } from "./paths.ts";
import { readAll } from "../specutils/read_all.ts";

/** Sets hostname and domainname (the caller has checked for a UTS namespace). */
export function setNames(k: Kernel, spec: Spec): void {
  if (spec.hostname !== undefined && spec.hostname !== "") k.sethostname(spec.hostname);
  if (spec.domainname !== undefined && spec.domainname !== "") k.setdomainname(spec.domainname);
}

const NS_FILES: Record<SysctlNamespace, string> = { ipc: "ipc", network: "net", uts: "uts" };

/** The identity (device:inode) of this thread's ipc, network and uts namespaces. */
export function namespaceIds(k: Kernel): Record<SysctlNamespace, string> {
  const id = (f: string) => {
    const fd = k.open(`/proc/thread-self/ns/${f}`, O.PATH | O.CLOEXEC);
    try {
      return k.fileId(fd);
    } finally {
      k.close(fd);
    }
  };
  return { ipc: id(NS_FILES.ipc), network: id(NS_FILES.network), uts: id(NS_FILES.uts) };
}

/** The sysctl namespaces this thread now has of its own: those that differ from `before` (boot's). */
export function ownNamespaces(k: Kernel, before: Record<SysctlNamespace, string>): Set<SysctlNamespace> {
  const now = namespaceIds(k);
  return new Set((Object.keys(before) as SysctlNamespace[]).filter((t) => before[t] !== now[t]));
}

/**
 * Writes linux.sysctl through the container's /proc/sys (found inside the root at `rootFd`), allowing only
 * keys of a namespace in `own`: a net.* key in a container that shares boot's network namespace (say with
 * --network=host, or a joined host namespace) would change the host.
 */
export function applySysctls(
  k: Kernel,
  rootFd: number,
  sysctl: Record<string, string> | undefined,
  own: ReadonlySet<SysctlNamespace>,
): void {
  for (const [key, value] of Object.entries(sysctl ?? {})) {
    if (!isSysctlName(key)) throw new Error(`sysctl ${JSON.stringify(key)}: invalid name`);
    const ns = sysctlNamespace(key);
    if (ns === null) throw new Error(`sysctl ${key}: not allowed (it is not namespaced)`);
    if (!own.has(ns)) {
      throw new Error(`sysctl ${key}: not allowed, the container has no ${ns} namespace of its own`);
    }
    let fd: number;
    try {
      fd = openInRoot(k, rootFd, sysctlPath(key), O.WRONLY);
    } catch (e) {
      throw new Error(`sysctl ${key}=${value}: ${(e as Error).message}`);
    }
    try {
      k.write(fd, new TextEncoder().encode(value));
    } catch (e) {
      throw new Error(`sysctl ${key}=${value}: ${(e as Error).message}`);
    } finally {
      k.close(fd);
    }
  }
}

/** Sets linux.personality (the execution domain; the runtime-spec defines no flags). */
export function applyPersonality(k: Kernel, p: LinuxPersonality | undefined): void {
  if (!p) return;
  if (p.flags?.length) throw new Error(`personality flags ${p.flags.join(", ")}: not supported`);
  if (p.domain === "LINUX") k.personality(PER.LINUX);
  else if (p.domain === "LINUX32") k.personality(PER.LINUX32);
  else throw new Error(`personality domain ${JSON.stringify(p.domain)}: not LINUX or LINUX32`);
}

/**
 * Makes `cwd` the working directory, resolved inside the current root (openat2 RESOLVE_IN_ROOT, no magic
 * links): a cwd of /proc/self/fd/N can never land on a directory outside the container (CVE-2024-21626).
 */
export function enterCwd(k: Kernel, cwd: string): void {
  const root = k.open("/", O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    const dir = openInRoot(k, root, cwd, O.PATH | O.DIRECTORY);
    try {
      k.fchdir(dir);
    } finally {
      k.close(dir);
    }
  } catch (e) {
    throw new Error(`process.cwd ${JSON.stringify(cwd)}: ${(e as Error).message}`);
  } finally {
    k.close(root);
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
export function applyOomScoreAdj(k: Kernel, p: Process): void {
  if (p.oomScoreAdj === undefined) return;
  try {
    const fd = k.open("/proc/self/oom_score_adj", O.WRONLY | O.CLOEXEC);
    try {
      k.write(fd, new TextEncoder().encode(String(p.oomScoreAdj)));
    } finally {
      k.close(fd);
    }
  } catch (e) {
    throw new Error(`oomScoreAdj ${p.oomScoreAdj}: ${(e as Error).message}`);
  }
}

/** The value of `name` in an env list (last one wins), or undefined. */
export function envValue(env: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (const e of env) if (e.startsWith(name + "=")) v = e.slice(name.length + 1);
  return v;
}

/** /etc/passwd files bigger than this are refused. */
const MAX_PASSWD_BYTES = 16 << 20;

/**
 * The home directory the container's /etc/passwd gives `uid` (the first entry with that uid), or null when
 * there is no such entry or no regular /etc/passwd. Read inside the current root (init's root is the
 * container's by now), without following a symlink or magic link out of it.
 */
export function passwdHome(k: Kernel, uid: number): string | null {
  const root = k.open("/", O.PATH | O.DIRECTORY | O.CLOEXEC);
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at /etc/passwd must not block init.
    fd = openInRoot(k, root, "/etc/passwd", O.RDONLY | O.NONBLOCK);
  } catch (e) {
    // As runc: a passwd file that cannot be opened counts as one without the entry.
    if (e instanceof SyscallError) return null;
    throw e;
  } finally {
    k.close(root);
  }
  let text: string;
  try {
    if ((k.fstatMode(fd) & S_IF.FMT) !== S_IF.REG) return null;
    text = new TextDecoder().decode(readAll(k, fd, MAX_PASSWD_BYTES));
  } catch (e) {
    throw new Error(`reading the container's /etc/passwd: ${(e as Error).message}`);
  } finally {
    k.close(fd);
  }
  for (const raw of text.split("\n")) {
    // name:password:uid:gid:gecos:home:shell, trimmed as a line (runc's parser), fields as they are.
    const f = raw.trim().split(":");
    if (f.length > 2 && /^[0-9]+$/.test(f[2]) && Number(f[2]) === uid) return f[5] ?? "";
  }
  return null;
}

/**
 * The app's environment: `env`, plus HOME when it has none or an empty one (runc's rule), taken from the
 * container's /etc/passwd entry for `uid`, else "/".
 */
export function withHome(k: Kernel, env: readonly string[], uid: number): string[] {
  if (envValue(env, "HOME")) return [...env];
  const home = `HOME=${passwdHome(k, uid) ?? "/"}`;
  // An empty HOME is replaced where it stood; duplicates go.
  const out: string[] = [];
  let placed = false;
  for (const e of env) {
    if (!e.startsWith("HOME=")) out.push(e);
    else if (!placed) {
      out.push(home);
      placed = true;
    }
  }
  if (!placed) out.push(home);
  return out;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Why `path` cannot be run, as Go's exec.LookPath words it (`stat /x: no such file or directory`, or
 * `permission denied` for a directory or a file without an execute bit); null when it can.
 */
function notExecutable(k: Kernel, path: string): string | null {
  let fd: number;
  try {
    fd = k.open(path, O.PATH | O.CLOEXEC);
  } catch (e) {
    if (e instanceof SyscallError) return `stat ${path}: ${errnoText(e.errno)}`;
    throw e;
  }
  try {
    const mode = k.fstatMode(fd);
    return (mode & S_IF.FMT) !== S_IF.DIR && (mode & 0o111) !== 0 ? null : errnoText(Errno.EACCES);
  } finally {
    k.close(fd);
  }
}

/**
 * Resolves args[0] against the container's PATH, as execvp would (synchronous: the root has changed). The
 * errors are runc's (Go's exec.LookPath): engines tell "not found" (exit 127) from "permission denied"
 * (126) by these words.
 */
export function lookPath(k: Kernel, file: string, env: readonly string[], cwd: string): string {
  if (file.includes("/")) {
    const abs = file.startsWith("/") ? file : `${cwd.replace(/\/$/, "")}/${file}`;
    const why = notExecutable(k, abs);
    if (why === null) return abs;
    throw new Error(`exec: ${JSON.stringify(file)}: ${why.replace(abs, file)}`);
  }
  for (const dir of (envValue(env, "PATH") ?? DEFAULT_PATH).split(":")) {
    const candidate = `${dir || "."}/${file}`;
    if (notExecutable(k, candidate) === null) return candidate;
  }
  throw new Error(`exec: ${JSON.stringify(file)}: executable file not found in $PATH`);
}

/**
 * What init reports, and exits with, when the last steps before the app fail. An execve failure gets
 * runc's text (`exec /x: exec format error`) and the shell's codes: 127 when the file (or its interpreter)
 * is missing, 126 when it cannot be run. Anything else keeps its message and 127.
 */
export function execFailure(path: string, e: unknown): { message: string; code: number } {
  if (!(e instanceof SyscallError) || e.call !== "execve") {
    return { message: e instanceof Error ? e.message : String(e), code: 127 };
  }
  return {
    message: `exec ${path}: ${errnoText(e.errno)}`,
    code: e.errno === Errno.ENOENT ? 127 : 126,
  };
}
