/** Running bin/runts from tests: each call through sh with stdio redirected to files (see runts()). */
import { makeBundle } from "../util/rootfs.ts";
import type { Spec } from "../../src/specutils/spec.ts";

/** The launcher under test. */
export const RUNTS = new URL("../../bin/runts", import.meta.url).pathname;

/** The reference runtime tests compare with. */
export const RUNC = "/usr/sbin/runc";

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
  /**
   * The controlling terminal: "pty" runs the command under script(1), so /dev/tty is a pty even though
   * stdio are files; "none" runs it in a new session without one. Default: the test's own.
   */
  tty?: "pty" | "none";
  /** Another runtime with the same command line to run instead (runc, as the reference). */
  binary?: string;
}

function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Runs `runts --root <root> args...` (or `opts.binary`'s). Its stdout/stderr go to files, not pipes: a container started by
 * `create` inherits them and may outlive the command, which would keep a pipe open.
 */
export function runts(root: string, args: string[], opts: RunOptions = {}): Promise<Result> {
  return runRuntime(opts.binary ?? RUNTS, root, args, opts);
}

/** runts() for runc, the reference: `runc --root <root> args...`. */
export function runc(root: string, args: string[], opts: RunOptions = {}): Promise<Result> {
  return runRuntime(RUNC, root, args, opts);
}

/** runts() for the runtime at `bin`. */
export async function runRuntime(
  bin: string,
  root: string,
  args: string[],
  opts: RunOptions = {},
): Promise<Result> {
  const dir = Deno.makeTempDirSync({ prefix: "runts-cli-io-" });
  try {
    let stdin = "/dev/null";
    if (opts.stdin !== undefined) {
      stdin = `${dir}/in`;
      Deno.writeTextFileSync(stdin, opts.stdin);
    }
    const script = `exec "$0" "$@" <"$IN" >"$OUT" 2>"$ERR" ${opts.redirect ?? ""}`;
    let argv = ["/bin/sh", "-c", script, bin, "--root", root, ...args];
    if (opts.tty === "pty") argv = ["script", "-qec", argv.map(shQuote).join(" "), "/dev/null"];
    if (opts.tty === "none") argv = ["setsid", "--wait", ...argv];
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      // script(1) runs its command with $SHELL.
      env: {
        IN: stdin,
        OUT: `${dir}/out`,
        ERR: `${dir}/err`,
        ...(opts.tty ? { SHELL: "/bin/sh" } : {}),
        ...opts.env,
      },
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
