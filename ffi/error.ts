import { errnoName } from "./errno.ts";

/**
 * A failed system call: names the call, its key argument and the errno, e.g.
 * `mount /proc on /x/proc: EPERM`. Constants appear by name (ffi/names.ts), never as bare numbers; an
 * argument list written in parentheses follows the call directly: `prctl(PR_CAP_AMBIENT_RAISE,
 * CAP_AUDIT_WRITE): EPERM`.
 */
export class SyscallError extends Error {
  /** The raw errno value. */
  readonly errno: number;
  /** The errno's symbolic name (`ENOENT`). */
  readonly code: string;
  /** The call that failed (`mount`). */
  readonly call: string;

  constructor(call: string, arg: string, errno: number) {
    const code = errnoName(errno);
    super(`${call}${arg && !arg.startsWith("(") ? " " : ""}${arg}: ${code}`);
    this.name = "SyscallError";
    this.errno = errno;
    this.code = code;
    this.call = call;
  }
}

/** True when `e` is a SyscallError carrying `errno`. */
export function isErrno(e: unknown, errno: number): boolean {
  return e instanceof SyscallError && e.errno === errno;
}
