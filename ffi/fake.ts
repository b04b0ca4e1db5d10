/**
 * A recording fake of the Kernel for unit tests: every call is appended to `calls`, and answers come
 * from `replies` (a value, or a function of the arguments). Unscripted calls return undefined, or throw
 * when `strict` is set.
 */
import type { Kernel } from "./kernel.ts";

/** One recorded call. */
export interface Call {
  name: keyof Kernel;
  args: unknown[];
}

/** A reply: a fixed value, or a function computing one (it may throw a SyscallError). */
export type Reply = unknown | ((...args: unknown[]) => unknown);

/** A Kernel that records calls instead of making them. */
export interface FakeKernel {
  kernel: Kernel;
  calls: Call[];
  replies: Partial<Record<keyof Kernel, Reply>>;
  /** The names of the calls so far, in order. */
  names(): string[];
}

/** Creates a recording fake kernel. */
export function fakeKernel(replies: Partial<Record<keyof Kernel, Reply>> = {}, strict = false): FakeKernel {
  const calls: Call[] = [];
  const kernel = new Proxy({} as Kernel, {
    get(_t, prop) {
      if (typeof prop !== "string") return undefined;
      const name = prop as keyof Kernel;
      return (...args: unknown[]) => {
        calls.push({ name, args });
        if (!(name in replies)) {
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
