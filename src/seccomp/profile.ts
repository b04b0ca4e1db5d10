/**
 * The runtime-spec's names for seccomp actions, architectures and flags, turned into what the kernel and
 * libseccomp take. Pure: no library, no kernel.
 */
import { SECCOMP_FILTER_FLAG, SECCOMP_RET } from "../../ffi/mod.ts";
import type { LinuxSeccomp } from "../specutils/spec.ts";

/** The errno of SCMP_ACT_ERRNO and SCMP_ACT_TRACE when the profile names none (runc's choice). */
export const DEFAULT_ERRNO = 1; // EPERM

/** An unsupported seccomp feature (NOTIFY) or an impossible setting: the container must not start. */
export class SeccompError extends Error {
  constructor(message: string) {
    super(`linux.seccomp: ${message}`);
    this.name = "SeccompError";
  }
}

/**
 * The SECCOMP_RET value of an action. `errnoRet` is the data of ERRNO and TRACE (EPERM when absent);
 * `where` names the field in messages.
 */
export function actionValue(name: string, errnoRet: number | undefined, where: string): number {
  const data = (errnoRet ?? DEFAULT_ERRNO) & SECCOMP_RET.DATA;
  switch (name) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SECCOMP_RET.KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SECCOMP_RET.KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SECCOMP_RET.TRAP;
    case "SCMP_ACT_ERRNO":
      return (SECCOMP_RET.ERRNO | data) >>> 0;
    case "SCMP_ACT_TRACE":
      return (SECCOMP_RET.TRACE | data) >>> 0;
    case "SCMP_ACT_LOG":
      return SECCOMP_RET.LOG;
    case "SCMP_ACT_ALLOW":
      return SECCOMP_RET.ALLOW;
    case "SCMP_ACT_NOTIFY":
      throw new SeccompError(
        `${where}: SCMP_ACT_NOTIFY is not supported by runts (it would hand the filter's listener fd to ` +
          "a seccomp agent at listenerPath); use SCMP_ACT_ERRNO or SCMP_ACT_TRACE instead",
      );
    default:
      throw new SeccompError(`${where}: unknown action ${JSON.stringify(name)}`);
  }
}

/** libseccomp's name for a runtime-spec architecture: SCMP_ARCH_X86_64 → "x86_64". */
export function archName(specArch: string): string {
  return specArch.replace(/^SCMP_ARCH_/, "").toLowerCase();
}

/**
 * The seccomp(2) flags for `flags`. SECCOMP_FILTER_FLAG_TSYNC is honoured by construction, not passed: the
 * filter is loaded on init's only remaining thread of interest right before execve, and the process that
 * execve leaves behind has that one thread, so every thread of the app has the filter. Passing TSYNC
 * would also filter Deno's helper threads in init for the last microseconds before execve, where a strict
 * profile could kill init. WAIT_KILLABLE_RECV only concerns a NOTIFY listener, which runts refuses.
 */
export function filterFlags(flags: readonly string[] | undefined): number {
  let out = 0;
  for (const f of flags ?? []) {
    switch (f) {
      case "SECCOMP_FILTER_FLAG_LOG":
        out |= SECCOMP_FILTER_FLAG.LOG;
        break;
      case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
        out |= SECCOMP_FILTER_FLAG.SPEC_ALLOW;
        break;
      case "SECCOMP_FILTER_FLAG_TSYNC":
      case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV":
        break;
      default:
        throw new SeccompError(`flags: unknown flag ${JSON.stringify(f)}`);
    }
  }
  return out;
}

/** The default action of a profile as a SECCOMP_RET value. */
export function defaultActionValue(p: LinuxSeccomp): number {
  return actionValue(p.defaultAction, p.defaultErrnoRet, "defaultAction");
}
