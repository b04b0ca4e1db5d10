/** The `linux.seccomp` part of `runts features` (runtime-spec features.md). */
import { LibseccompUnavailable, openLibseccomp, SCMP_CMP } from "../../ffi/seccomp.ts";
import { archName } from "./profile.ts";
import { SECCOMP_ACTION_NAMES, SECCOMP_ARCH_NAMES, SECCOMP_FLAG_NAMES } from "../specutils/seccomp_names.ts";

/** Every action runts compiles (SCMP_ACT_NOTIFY is refused: runts has no seccomp agent support). */
const ACTIONS = SECCOMP_ACTION_NAMES.filter((a) => a !== "SCMP_ACT_NOTIFY");
const ARCHES = SECCOMP_ARCH_NAMES;
const KNOWN_FLAGS = SECCOMP_FLAG_NAMES;

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
