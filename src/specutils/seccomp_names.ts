/** The names linux.seccomp may use (runtime-spec config-linux.md), shared by validation and `features`. */

/** Every seccomp action name. */
export const SECCOMP_ACTION_NAMES: readonly string[] = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
];

/** Every argument comparison operator. */
export const SECCOMP_OP_NAMES: readonly string[] = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];

/** Every filter flag. */
export const SECCOMP_FLAG_NAMES: readonly string[] = [
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/** Every architecture name. */
export const SECCOMP_ARCH_NAMES: readonly string[] = [
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
  "S390",
  "S390X",
  "PARISC",
  "PARISC64",
  "RISCV64",
  "LOONGARCH64",
  "M68K",
  "SH",
  "SHEB",
].map((a) => `SCMP_ARCH_${a}`);
