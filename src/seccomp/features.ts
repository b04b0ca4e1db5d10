/** The `linux.seccomp` part of `runts features` (runtime-spec features.md). */
import { LibseccompUnavailable, openLibseccomp, SCMP_CMP } from "../../ffi/seccomp.ts";
import { archName } from "./profile.ts";

/** Every action runts compiles (SCMP_ACT_NOTIFY is refused: runts has no seccomp agent support). */
const ACTIONS = [
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_LOG",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_TRAP",
];

const ARCHES = [
  "X86",
  "X86_64",
  "X32",
  "ARM",
  "AARCH64",
  "MIPS",
  "MIPS64",
  "MIPS64N32",
  "MIPSEL",
  "MIPSEL64",
  "MIPSEL64N32",
  "PPC",
  "PPC64",
  "PPC64LE",
  "RISCV64",
  "S390",
  "S390X",
  "PARISC",
  "PARISC64",
  "LOONGARCH64",
  "M68K",
  "SH",
  "SHEB",
].map((a) => `SCMP_ARCH_${a}`);

const KNOWN_FLAGS = [
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/** What runts can do with linux.seccomp here: nothing without libseccomp. */
export function seccompFeatures(): Record<string, unknown> {
  let lib;
  try {
    lib = openLibseccomp();
  } catch (e) {
    if (e instanceof LibseccompUnavailable) return { enabled: false };
    throw e;
  }
  return {
    enabled: true,
    actions: ACTIONS,
    operators: Object.keys(SCMP_CMP),
    archs: ARCHES.filter((a) => lib.resolveArch(archName(a)) !== null),
    knownFlags: KNOWN_FLAGS,
    // TSYNC holds by construction (profile.ts); WAIT_KILLABLE_RECV would need NOTIFY.
    supportedFlags: KNOWN_FLAGS.slice(0, 3),
  };
}
