/**
 * boot's own privileges (runsc's cmd/capability.go): applyCaps, callSelfAsNobody and setCapsAndCallSelf.
 * Credentials are changed with raw per-thread syscalls on the main thread, and execve follows at once.
 */
import type { Kernel } from "../../ffi/mod.ts";
import type { LinuxCapabilities } from "../specutils/spec.ts";
import { capMask, lastCap } from "../specutils/capabilities.ts";
import { allCaps, applyCapabilities, switchUser, trimmedToPermitted } from "../credentials/credentials.ts";
import { self } from "../specutils/exe.ts";
import { log } from "../log/log.ts";
import type { FlagSet } from "../flag/flag.ts";

/** The user boot runs as after --setup-root. */
export const NOBODY = 65534;

/**
 * What boot keeps as nobody, because creating and running the container needs it: init inherits these
 * (ambient) and so can enter namespaces, mount, pivot_root, mknod, chown, become the container's user,
 * drop bounding caps and set rlimits; boot itself needs KILL to signal the app and SYS_PTRACE to read
 * the app's /proc/PID/ns links for exec.
 */
export const BOOT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_NET_ADMIN",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_ADMIN",
  "CAP_SYS_RESOURCE",
  "CAP_MKNOD",
  "CAP_AUDIT_WRITE",
  "CAP_SETFCAP",
] as const;

/**
 * The sets `boot --apply-caps` asks for: the app's, with BOOT_CAPS (and CAP_SYS_PTRACE when the platform
 * needs it) added to bounding, effective and permitted. The native loader creates the container itself, so
 * boot keeps BOOT_CAPS on top of the spec's sets (runsc's Sentry needs only the app's).
 */
export function bootCapabilities(app: LinuxCapabilities, ptrace: boolean): LinuxCapabilities {
  const caps = structuredClone(app);
  for (const set of ["bounding", "effective", "permitted"] as const) {
    caps[set] = [...new Set([...caps[set] ?? [], ...BOOT_CAPS])];
    if (ptrace) caps[set] = [...caps[set]!, "CAP_SYS_PTRACE"];
  }
  return caps;
}

/**
 * prepareArgs: the runts arguments of boot's next stage. `all` is this process's runts arguments (global
 * flags, the subcommand, then what `f` parsed); the result keeps the global flags and the subcommand, puts
 * `--attached` right after it when attached (PDEATHSIG does not survive a credential change), then `extra`,
 * then boot's arguments without the flags named in `exclude`. runsc drops every argument that contains an
 * excluded substring, which also drops a container id or path containing one, or leaves a flag's separate
 * value behind as a stray argument; here flags are dropped by name with exactly their own tokens, so the
 * container id always survives the re-exec.
 */
export function prepareArgs(
  all: readonly string[],
  f: FlagSet,
  attached: boolean,
  exclude: readonly string[],
  extra: readonly string[] = [],
): string[] {
  const cut = all.length - f.parsedArgs().length - 1;
  if (cut < 0) throw new Error(`prepareArgs: ${JSON.stringify(all)} does not end with the parsed arguments`);
  return [...all.slice(0, cut + 1), ...(attached ? ["--attached"] : []), ...extra, ...f.argsWithout(exclude)];
}

/**
 * applyCaps: trims every set to what this process has (with a warning per dropped cap), drops the
 * bounding caps not asked for when it holds CAP_SETPCAP, then sets effective/permitted/inheritable and
 * the ambient set (src/credentials/credentials.ts applyCapabilities, the app's applier too).
 */
export function applyCaps(k: Kernel, caps: LinuxCapabilities): void {
  applyCapabilities(k, trimmedToPermitted(k, caps), { lastCap: lastCap(), boundingIfSetpcap: true });
  log.debug(`Capabilities applied: ${JSON.stringify(caps)}`);
}

/** Re-executes runts with `args` (its runts arguments) and an empty environment but for Deno's needs. */
function execSelf(k: Kernel, args: string[]): never {
  const keep = ["DENO_DIR", "HOME", "TMPDIR", "NO_COLOR"];
  const env = keep.flatMap((n) => (Deno.env.get(n) !== undefined ? [`${n}=${Deno.env.get(n)}`] : []));
  log.debug(`Execve ${JSON.stringify(args)} again, bye!`);
  k.execve("/proc/self/exe", [...self().prefix, ...args], env);
}

/**
 * callSelfAsNobody: become 65534 keeping BOOT_CAPS plus the caps the app will hold (as ambient caps), then
 * re-exec. init cannot hand the app a capability it lacks itself once no_new_privs is set.
 */
export function callSelfAsNobody(k: Kernel, args: string[], appCaps: LinuxCapabilities = {}): never {
  const wanted = [
    ...BOOT_CAPS,
    ...appCaps.bounding ?? [],
    ...appCaps.effective ?? [],
    ...appCaps.permitted ?? [],
    ...appCaps.inheritable ?? [],
    ...appCaps.ambient ?? [],
  ];
  const keep = capMask(wanted) & k.capget().permitted;
  const nobody = { uid: NOBODY, gid: NOBODY, additionalGids: [] };
  applyCapabilities(
    k,
    { bounding: allCaps(lastCap()), effective: keep, permitted: keep, inheritable: keep, ambient: keep },
    { lastCap: lastCap(), between: () => switchUser(k, nobody) },
  );
  execSelf(k, args);
}

/** setCapsAndCallSelf: apply the caps, then re-exec. */
export function setCapsAndCallSelf(k: Kernel, args: string[], caps: LinuxCapabilities): never {
  applyCaps(k, caps);
  execSelf(k, args);
}
