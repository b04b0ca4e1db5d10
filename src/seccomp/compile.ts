/**
 * linux.seccomp → a classic BPF program, compiled by libseccomp (ffi/seccomp.ts), and its installation.
 *
 * Compiling happens early in init, while the host's libseccomp.so.2 is still reachable (before namespaces
 * and pivot_root); installing is the last thing init does, after the start byte and right before execve
 * (src/init/init.ts). Where libseccomp.so.2 is missing, a spec with linux.seccomp fails to create with an
 * error that says so: runts never starts a container without the filter it asked for.
 */
import type { Kernel } from "../../ffi/mod.ts";
import {
  type ArgCmp,
  type Libseccomp,
  openLibseccomp,
  SCMP_CMP,
  type ScmpFilter,
} from "../../ffi/seccomp.ts";
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall } from "../specutils/spec.ts";
import { actionValue, archName, defaultActionValue, filterFlags, SeccompError } from "./profile.ts";

/** A compiled filter, ready for seccomp(2). */
export interface CompiledFilter {
  /** sock_filter instructions, 8 bytes each. */
  program: Uint8Array<ArrayBuffer>;
  /** SECCOMP_FILTER_FLAG bits. */
  flags: number;
  /** Syscall names no architecture knows (skipped, as runc and crun do: profiles list names across arches). */
  skipped: string[];
  /** The libseccomp version that compiled it. */
  compiler: string;
}

const U64_MAX = 0xffffffffffffffffn;

function operand(v: number | undefined, where: string): bigint {
  if (v === undefined) return 0n;
  if (!Number.isInteger(v) || v < 0) throw new SeccompError(`${where} ${v} is not an unsigned integer`);
  const b = BigInt(v);
  if (b > U64_MAX) throw new SeccompError(`${where} ${v} does not fit in 64 bits`);
  return b;
}

/** The libseccomp comparisons of one rule's args. */
export function argComparisons(args: readonly LinuxSeccompArg[], where: string): ArgCmp[] {
  return args.map((a, i) => {
    const at = `${where}.args[${i}]`;
    const op = SCMP_CMP[a.op];
    if (op === undefined) throw new SeccompError(`${at}.op ${JSON.stringify(a.op)} is not a known operator`);
    if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
      throw new SeccompError(`${at}.index ${a.index} must be in 0..5`);
    }
    // For SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the value the masked argument must equal.
    return { arg: a.index, op, a: operand(a.value, `${at}.value`), b: operand(a.valueTwo, `${at}.valueTwo`) };
  });
}

/**
 * The condition sets to add for one rule: all comparisons ANDed in one rule, unless an argument index is
 * compared more than once, which libseccomp refuses in a single rule; then each comparison becomes a rule
 * of its own (ORed), as runc and crun do.
 */
export function conditionSets(cmps: readonly ArgCmp[]): ArgCmp[][] {
  const seen = new Set<number>();
  const repeated = cmps.some((c) => seen.size === seen.add(c.arg).size);
  return repeated ? cmps.map((c) => [c]) : [[...cmps]];
}

function addRule(
  lib: Libseccomp,
  f: ScmpFilter,
  rule: LinuxSyscall,
  i: number,
  def: number,
  skipped: string[],
) {
  const where = `syscalls[${i}]`;
  const action = actionValue(rule.action, rule.errnoRet, `${where}.action`);
  // libseccomp refuses a rule whose action is the default one; such a rule changes nothing anyway.
  if (action === def) return;
  const sets = conditionSets(argComparisons(rule.args ?? [], where));
  for (const name of rule.names) {
    const nr = lib.resolveSyscall(name);
    if (nr === null) {
      if (!skipped.includes(name)) skipped.push(name);
      continue;
    }
    for (const set of sets) f.addRule(action, nr, set, `${name} (${rule.action}) in ${where}`);
  }
}

/**
 * Compiles `profile` with the libseccomp that `open` returns (by default the host's libseccomp.so.2).
 * Every failure, a missing library included, is a SeccompError naming the field or the call.
 */
export function compileSeccomp(
  profile: LinuxSeccomp,
  open: () => Libseccomp = () => openLibseccomp(),
): CompiledFilter {
  const flags = filterFlags(profile.flags);
  const def = defaultActionValue(profile);
  const skipped: string[] = [];
  let lib: Libseccomp;
  let f: ScmpFilter;
  try {
    lib = open();
    f = lib.newFilter(def);
  } catch (e) {
    throw new SeccompError((e as Error).message);
  }
  try {
    (profile.architectures ?? []).forEach((a, i) => {
      const token = lib.resolveArch(archName(a));
      if (token === null) {
        throw new SeccompError(
          `architectures[${i}] ${JSON.stringify(a)} is not supported by libseccomp ${lib.version}`,
        );
      }
      f.addArch(token);
    });
    (profile.syscalls ?? []).forEach((rule, i) => addRule(lib, f, rule, i, def, skipped));
    return { program: f.exportBpf(), flags, skipped, compiler: `libseccomp ${lib.version}` };
  } catch (e) {
    if (e instanceof SeccompError) throw e;
    throw new SeccompError((e as Error).message);
  } finally {
    f.release();
  }
}

/**
 * Loads the filter on the calling thread (init's main thread). The kernel requires no_new_privs or
 * CAP_SYS_ADMIN in the effective set; init arranges one of them (see src/init/init.ts).
 */
export function installFilter(k: Kernel, filter: CompiledFilter): void {
  try {
    k.seccompLoad(filter.program, filter.flags);
  } catch (e) {
    throw new SeccompError(`loading the filter: ${(e as Error).message}`);
  }
}
