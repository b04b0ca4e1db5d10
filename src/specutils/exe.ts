/**
 * How runts re-invokes itself (runsc's specutils.ExePath): the executable and the arguments that come
 * before the runts arguments. Under `deno run` that is `deno run -A … main.ts`; compiled, it is the binary
 * alone. Both are read from /proc/self/cmdline, so the V8 and permission flags survive a re-exec.
 */

/** The parts of a self-invocation. */
export interface SelfInvocation {
  /** Absolute path of the executable to exec (the deno or compiled runts binary). */
  path: string;
  /** argv[0] and the launcher arguments before the runts arguments. */
  prefix: string[];
  /** The runts arguments of this process (global flags, subcommand, its flags and arguments). */
  args: string[];
}

/** Splits a cmdline into launcher prefix and runts arguments, given how many runts arguments there are. */
export function splitCmdline(cmdline: string[], runtsArgCount: number): { prefix: string[]; args: string[] } {
  const cut = cmdline.length - runtsArgCount;
  return { prefix: cmdline.slice(0, cut), args: cmdline.slice(cut) };
}

let cached: SelfInvocation | undefined;

/** This process's self-invocation. */
export function self(): SelfInvocation {
  if (cached) return cached;
  const raw = Deno.readFileSync("/proc/self/cmdline");
  const parts = new TextDecoder().decode(raw).split("\0");
  if (parts.at(-1) === "") parts.pop();
  const { prefix, args } = splitCmdline(parts, Deno.args.length);
  cached = { path: Deno.execPath(), prefix, args };
  return cached;
}

/** argv for running runts again with `args`. */
export function selfArgv(args: readonly string[]): string[] {
  return [...self().prefix, ...args];
}
