import { errnoName } from "./errno.ts";

/**
 * A failed system call: names the call, its key argument and the errno, e.g.
 * `mount /proc on /x/proc: EPERM`.
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
    super(arg ? `${call} ${arg}: ${code}` : `${call}: ${code}`);
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
