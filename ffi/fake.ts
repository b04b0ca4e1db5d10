/**
 * A recording fake of the Kernel for unit tests: every call is appended to `calls`, and answers come
 * from `replies` (a value, or a function of the arguments). Unscripted calls return undefined, or throw
 * when `strict` is set. A call by meaning (ffi/semantic.ts) that is not scripted itself runs over the
 * fake's raw calls: both it and the raw calls it makes are recorded (those with `via` naming it).
 */
import type { Kernel, SemanticCalls } from "./kernel.ts";
import { isSemantic, SEMANTIC } from "./semantic.ts";

/** One recorded call. */
export interface Call {
  name: keyof Kernel;
  args: unknown[];
  /** For a raw call made by a call by meaning: that call's name. */
  via?: keyof SemanticCalls;
}

/** The calls of a fake, in order, with typed views. */
export interface Recording extends Array<Call> {
  /** The arguments of every call of `name`, in order, typed as the Kernel declares them. */
  of<N extends keyof Kernel>(name: N): Parameters<Kernel[N]>[];
}

/** A reply: a fixed value, or a function computing one (it may throw a SyscallError). */
export type Reply = unknown | ((...args: unknown[]) => unknown);

/** A Kernel that records calls instead of making them. */
export interface FakeKernel {
  kernel: Kernel;
  calls: Recording;
  replies: Partial<Record<keyof Kernel, Reply>>;
  /** The names of the calls so far, in order. */
  names(): string[];
}

/** An empty recording. */
export function recording(): Recording {
  const calls: Call[] = [];
  return Object.assign(calls, {
    of<N extends keyof Kernel>(name: N): Parameters<Kernel[N]>[] {
      return calls.filter((c) => c.name === name).map((c) => c.args as Parameters<Kernel[N]>);
    },
  });
}

/** Creates a recording fake kernel. */
export function fakeKernel(replies: Partial<Record<keyof Kernel, Reply>> = {}, strict = false): FakeKernel {
  const calls = recording();
  let via: keyof SemanticCalls | undefined;
  const kernel: Kernel = new Proxy({} as Kernel, {
    get(_t, prop) {
      if (typeof prop !== "string") return undefined;
      const name = prop as keyof Kernel;
      return (...args: unknown[]) => {
        calls.push(via ? { name, args, via } : { name, args });
        if (!(name in replies)) {
          if (isSemantic(name) && via === undefined) {
            via = name;
            try {
              return (SEMANTIC[name] as (k: Kernel, ...a: unknown[]) => unknown)(kernel, ...args);
            } finally {
              via = undefined;
            }
          }
          if (strict) throw new Error(`fake kernel: unscripted call ${name}`);
          return undefined;
        }
        const r = replies[name];
        return typeof r === "function" ? (r as (...a: unknown[]) => unknown)(...args) : r;
      };
    },
  });
  return { kernel, calls, replies, names: () => calls.map((c) => c.name) };
}
