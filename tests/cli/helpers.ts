/** Running bin/runts from tests: each call through sh with stdio redirected to files (see runts()). */
import { makeBundle } from "../util/rootfs.ts";
import type { Spec } from "../../src/specutils/spec.ts";

/** The launcher under test. */
export const RUNTS = new URL("../../bin/runts", import.meta.url).pathname;

/** What one invocation produced. */
export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of runts(). */
export interface RunOptions {
  /** Text fed on stdin (default: /dev/null). */
  stdin?: string;
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Extra shell redirections for the runts process, e.g. "3<file". */
  redirect?: string;
  /** Another runtime with the same command line to run instead (runc, as the reference). */
  binary?: string;
}

/**
 * Runs `runts --root <root> args...` (or `opts.binary`'s). Its stdout/stderr go to files, not pipes: a container started by
 * `create` inherits them and may outlive the command, which would keep a pipe open.
 */
export async function runts(root: string, args: string[], opts: RunOptions = {}): Promise<Result> {
  const dir = Deno.makeTempDirSync({ prefix: "runts-cli-io-" });
  try {
    let stdin = "/dev/null";
    if (opts.stdin !== undefined) {
      stdin = `${dir}/in`;
      Deno.writeTextFileSync(stdin, opts.stdin);
    }
    const script = `exec "$0" "$@" <"$IN" >"$OUT" 2>"$ERR" ${opts.redirect ?? ""}`;
    const out = await new Deno.Command("/bin/sh", {
      args: ["-c", script, opts.binary ?? RUNTS, "--root", root, ...args],
      env: { IN: stdin, OUT: `${dir}/out`, ERR: `${dir}/err`, ...opts.env },
      cwd: opts.cwd,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return {
      code: out.code,
      stdout: Deno.readTextFileSync(`${dir}/out`),
      stderr: Deno.readTextFileSync(`${dir}/err`),
    };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** runts() that must exit 0; returns stdout. */
export async function ok(root: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await runts(root, args, opts);
  if (r.code !== 0) throw new Error(`runts ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The state document of `id`. */
export async function state(
  root: string,
  id: string,
): Promise<{ status: string; pid: number; id: string; bundle: string }> {
  return JSON.parse(await ok(root, ["state", id]));
}

/** Polls `pred` every 50 ms until it is true or `timeoutMs` passes (then throws `what`). */
export async function waitFor(
  pred: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A state root and bundles that clean themselves up. */
export class Fixture {
  readonly root = Deno.makeTempDirSync({ prefix: "runts-cli-root-" });
  readonly #bundles: Array<() => void> = [];

  /** A busybox bundle running `args`. */
  bundle(args: string[], mutate?: (spec: Spec) => void): string {
    const b = makeBundle({ args, mutate });
    this.#bundles.push(b.cleanup);
    return b.dir;
  }

  /** Force-deletes every container left under the root, then removes everything. */
  async cleanup(): Promise<void> {
    const ids = [...Deno.readDirSync(this.root)].filter((e) => e.isDirectory).map((e) => e.name);
    for (const id of ids) await runts(this.root, ["delete", "--force", id]);
    Deno.removeSync(this.root, { recursive: true });
    for (const c of this.#bundles) c();
  }
}
