/** The real kernel: the Kernel interface backed by libc through Deno.dlopen. */
import type { Kernel } from "./kernel.ts";
import { linuxFs } from "./linux_fs.ts";
import { linuxProc } from "./linux_proc.ts";
import { linuxEpoll, linuxSocket } from "./linux_socket.ts";
import { linuxBpf } from "./linux_bpf.ts";

/** The Kernel that talks to Linux. */
export const linux: Kernel = { ...linuxFs, ...linuxProc, ...linuxSocket, ...linuxEpoll, ...linuxBpf };
