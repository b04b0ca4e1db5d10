/** The public face of ffi/: the Kernel interface, its real and fake implementations, errors and constants. */
export type { CapSets, Kernel, PeerCred, Received, SpawnOptions, WaitInfo } from "./kernel.ts";
export { linux } from "./linux.ts";
export { isErrno, SyscallError } from "./error.ts";
export { Errno, errnoName } from "./errno.ts";
export * from "./consts.ts";
