/**
 * posix_spawn through FFI. glibc runs the child on a vfork-style stack with libc code only, so it is safe
 * from a multi-threaded Deno (fork is not). Deno never sees the child, so it never reaps it: the caller
 * decides who waits (boot observes its app with waitid WNOWAIT).
 */
import type { SpawnOptions } from "./kernel.ts";
import { openLibc } from "./libc.ts";
import { cstr, cstrTable } from "./mem.ts";
import { SyscallError } from "./error.ts";

// Each declared symbol costs about 0.2-0.3 ms when a process first spawns, so posix_spawnattr_t, whose
// layout <spawn.h> publishes, is filled in here rather than through its five setter functions, and chdir
// (rarely used) has a set of its own.
const SYMBOLS = {
  posix_spawn: { parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addclose: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
} as const;

const CHDIR_SYMBOLS = {
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

const SETSIGDEF = 0x4, SETSIGMASK = 0x8, SETSID = 0x80;

/** posix_spawnattr_t: short __flags; pid_t __pgrp; sigset_t __sd, __ss; sched_param; int __policy, __pad[16]. */
const ATTR_SIZE = 336, ATTR_SIGDEFAULT = 8, ATTR_SIGMASK = 136;

let lib: ReturnType<typeof openLibc<typeof SYMBOLS>> | undefined;
let chdirLib: ReturnType<typeof openLibc<typeof CHDIR_SYMBOLS>> | undefined;

/** What posix_spawnattr_init, setsigdefault (1..31 and 34..64), setsigmask (empty) and setflags do. */
function spawnAttr(setsid: boolean): Uint8Array {
  const attr = new Uint8Array(ATTR_SIZE);
  const view = new DataView(attr.buffer);
  view.setInt16(0, SETSIGDEF | SETSIGMASK | (setsid ? SETSID : 0), true);
  view.setBigUint64(ATTR_SIGDEFAULT, 0xfffffffe7fffffffn, true);
  view.setBigUint64(ATTR_SIGMASK, 0n, true);
  return attr;
}

function check(what: string, rc: number): void {
  if (rc !== 0) throw new SyscallError("posix_spawn", what, rc);
}

/** Starts `opts.path` with exactly the fds in `opts.fds`, default signal dispositions and an empty mask. */
export function spawn(opts: SpawnOptions): number {
  lib ??= openLibc(SYMBOLS);
  const fa = new Uint8Array(512), attr = spawnAttr(opts.setsid === true);
  check("file_actions_init", lib.posix_spawn_file_actions_init(fa));
  try {
    // Move every source above all sources and targets first, so no dup2 clobbers a later source and
    // each target is a fresh, non-CLOEXEC copy; then close everything else.
    const entries = [...opts.fds.entries()];
    let base = 3;
    for (const [child, parent] of entries) base = Math.max(base, child + 1, parent + 1);
    entries.forEach(([, parent], i) =>
      check(`dup2 ${parent}`, lib!.posix_spawn_file_actions_adddup2(fa, parent, base + i))
    );
    entries.forEach(([child], i) =>
      check(`dup2 to ${child}`, lib!.posix_spawn_file_actions_adddup2(fa, base + i, child))
    );
    const maxChild = entries.reduce((m, [child]) => Math.max(m, child), -1);
    for (let fd = 0; fd <= maxChild; fd++) {
      if (!opts.fds.has(fd)) check(`close ${fd}`, lib.posix_spawn_file_actions_addclose(fa, fd));
    }
    check("closefrom", lib.posix_spawn_file_actions_addclosefrom_np(fa, maxChild + 1));
    if (opts.cwd) {
      chdirLib ??= openLibc(CHDIR_SYMBOLS);
      check(`chdir ${opts.cwd}`, chdirLib.posix_spawn_file_actions_addchdir_np(fa, cstr(opts.cwd)));
    }

    const argv = cstrTable(opts.argv), env = cstrTable(opts.env);
    const pid = new Int32Array(1);
    const rc = lib.posix_spawn(
      new Uint8Array(pid.buffer),
      cstr(opts.path),
      fa,
      attr,
      new Uint8Array(argv.table.buffer),
      new Uint8Array(env.table.buffer),
    );
    if (rc !== 0) throw new SyscallError("posix_spawn", opts.path, rc);
    return pid[0];
  } finally {
    lib.posix_spawn_file_actions_destroy(fa);
  }
}
