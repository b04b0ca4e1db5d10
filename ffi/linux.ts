/** The real kernel: the Kernel interface backed by libc through Deno.dlopen. */
import type { Kernel, RawKernel } from "./kernel.ts";
import { linuxFs } from "./linux_fs.ts";
import { linuxProc } from "./linux_proc.ts";
import { linuxEpoll, linuxSocket } from "./linux_socket.ts";
import { linuxBpf } from "./linux_bpf.ts";
import { linuxFiles } from "./linux_files.ts";
import { semanticCalls } from "./semantic.ts";

const raw: RawKernel = {
  ...linuxFs,
  ...linuxFiles,
  ...linuxProc,
  ...linuxSocket,
  ...linuxEpoll,
  ...linuxBpf,
};

/** The Kernel that talks to Linux. */
export const linux: Kernel = { ...raw, ...semanticCalls(raw) };
