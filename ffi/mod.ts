/** The public face of ffi/: the Kernel interface, its real and fake implementations, errors and constants. */
export type {
  BpfInsn,
  CapSets,
  ChildStart,
  DirEntry,
  ExecTarget,
  IdMaps,
  Kernel,
  PeerCred,
  Received,
  SchedAttr,
  SpawnOptions,
  WaitInfo,
} from "./kernel.ts";
export { linux } from "./linux.ts";
export { isErrno, SyscallError } from "./error.ts";
export { Errno, errnoName, errnoText } from "./errno.ts";
export * from "./consts.ts";
export { BPF_DEVCG, BPF_OP, encodeBpf } from "./linux_bpf.ts";
export { cloneChildSupported } from "./clone_child.ts";
