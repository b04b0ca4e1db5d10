/**
 * posix_spawn through FFI. glibc runs the child on a vfork-style stack with libc code only, so it is safe
 * from a multi-threaded Deno (fork is not). Deno never sees the child, so it never reaps it: the caller
 * decides who waits (boot observes its app with waitid WNOWAIT).
 */
import type { SpawnOptions } from "./kernel.ts";
import { openLibc } from "./libc.ts";
import { cstr, cstrTable } from "./mem.ts";
import { SyscallError } from "./error.ts";

const SYMBOLS = {
  posix_spawn: { parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addclose: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

const SETSIGDEF = 0x4, SETSIGMASK = 0x8, SETSID = 0x80;

let lib: ReturnType<typeof openLibc<typeof SYMBOLS>> | undefined;

function check(what: string, rc: number): void {
  if (rc !== 0) throw new SyscallError("posix_spawn", what, rc);
}

/** Starts `opts.path` with exactly the fds in `opts.fds`, default signal dispositions and an empty mask. */
export function spawn(opts: SpawnOptions): number {
  lib ??= openLibc(SYMBOLS);
  const fa = new Uint8Array(512), attr = new Uint8Array(512);
  check("file_actions_init", lib.posix_spawn_file_actions_init(fa));
  check("spawnattr_init", lib.posix_spawnattr_init(attr));
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
    if (opts.cwd) check(`chdir ${opts.cwd}`, lib.posix_spawn_file_actions_addchdir_np(fa, cstr(opts.cwd)));

    const sigdef = new Uint8Array(128);
    new BigUint64Array(sigdef.buffer)[0] = 0xfffffffcfffffffen; // 1..31 and 34..64
    check("setsigdefault", lib.posix_spawnattr_setsigdefault(attr, sigdef));
    check("setsigmask", lib.posix_spawnattr_setsigmask(attr, new Uint8Array(128)));
    check(
      "setflags",
      lib.posix_spawnattr_setflags(attr, SETSIGDEF | SETSIGMASK | (opts.setsid ? SETSID : 0)),
    );

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
    lib.posix_spawnattr_destroy(attr);
  }
}
