/**
 * What the security tests share: a private copy of the test rootfs (attacks plant files in it), a
 * "toolbox" that bind-mounts the host's /usr read-only so the container can run perl (Debian's perl-base
 * is essential) and strace for raw syscalls, and small runners around bin/runts.
 */
import { Fixture, type Result, type RunOptions, runts } from "../cli/helpers.ts";
import { cachedRootfs, exists } from "../util/rootfs.ts";
import { type SyscallName, syscallNumber } from "../../ffi/arch.ts";
import type { Mount, Spec } from "../../src/specutils/spec.ts";

export { Fixture, runts };
export type { Result };

const SHARED_ROOTFS = Deno.realPathSync(cachedRootfs());

/** The host's perl, which the toolbox exposes at the same path. */
export const PERL = "/usr/bin/perl";

/** True when the host has perl under /usr (tests that need raw syscalls in the container skip otherwise). */
export const HAVE_PERL = exists(PERL);

/** The syscall number of `name` here, for perl's syscall(). */
export function nr(name: SyscallName): number {
  return syscallNumber(name);
}

/** A writable copy of the test rootfs that a test may plant files in. */
export class PrivateRootfs {
  readonly dir: string;

  constructor() {
    this.dir = Deno.makeTempDirSync({ prefix: "runts-sec-rootfs-" });
    const r = new Deno.Command("cp", { args: ["-a", `${cachedRootfs()}/.`, this.dir] }).outputSync();
    if (!r.success) throw new Error(`cp -a rootfs: ${new TextDecoder().decode(r.stderr)}`);
    Deno.chmodSync(this.dir, 0o755);
  }

  /** Removes the copy. */
  cleanup(): void {
    Deno.removeSync(this.dir, { recursive: true });
  }
}

/**
 * Makes the host's /usr (and /lib, /lib64) available read-only in `spec`'s container, so that PERL and
 * /usr/bin/strace run there. /lib and /lib64 become symlinks in `rootfs` when they are symlinks on the host
 * (merged /usr), bind mounts otherwise.
 */
export function addToolbox(spec: Spec, rootfs: PrivateRootfs): void {
  const mounts: Mount[] = [{ destination: "/usr", type: "bind", source: "/usr", options: ["rbind", "ro"] }];
  for (const d of ["/lib", "/lib64"]) {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(d);
    } catch {
      continue;
    }
    if (st.isSymlink) {
      try {
        Deno.symlinkSync(Deno.readLinkSync(d), rootfs.dir + d);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    } else {
      mounts.push({ destination: d, type: "bind", source: d, options: ["rbind", "ro"] });
    }
  }
  spec.mounts = [...spec.mounts ?? [], ...mounts];
}

/** argv running a perl one-liner. */
export function perl(script: string): string[] {
  return [PERL, "-e", script];
}

/** Runs `runts run` on a bundle with `args` (and spec changes) in `fx`; returns the result. */
export async function run(
  fx: Fixture,
  args: string[],
  mutate?: (spec: Spec) => void,
  extra: string[] = [],
  globalFlags: string[] = [],
  opts: RunOptions = {},
): Promise<Result> {
  const bundle = fx.bundle(args, (s) => {
    mutate?.(s);
    // Containers on the shared test rootfs write to a tmpfs, never into the rootfs other tests use.
    if (s.root?.path === SHARED_ROOTFS && !(s.mounts ?? []).some((m) => m.destination === "/tmp")) {
      s.mounts = [...s.mounts ?? [], {
        destination: "/tmp",
        type: "tmpfs",
        source: "tmpfs",
        options: ["mode=1777"],
      }];
    }
  });
  const id = `sec-${crypto.randomUUID().slice(0, 8)}`;
  // runts() puts --root first; global flags go before the subcommand all the same.
  return await runts(fx.root, [...globalFlags, "run", ...extra, "--bundle", bundle, id], opts);
}

/** Throws with the whole result when `r` did not exit with `code`. */
export function expectCode(r: Result, code: number, what: string): void {
  if (r.code !== code) {
    throw new Error(`${what}: exit ${r.code}, wanted ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** runc, the reference the attack tests compare with (skipped where it is not installed). */
export const RUNC = "/usr/sbin/runc";

/** Runs `runc run` on `bundle` with a private state root; returns the result. */
export async function runc(bundle: string): Promise<Result> {
  const root = Deno.makeTempDirSync({ prefix: "runts-sec-runc-" });
  try {
    const out = await new Deno.Command(RUNC, {
      args: ["--root", root, "run", "--bundle", bundle, `sec-runc-${crypto.randomUUID().slice(0, 8)}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
}
