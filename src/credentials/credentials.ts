/**
 * Credentials, for boot and for the app alike: the one capability applier (boot's --apply-caps and
 * --setup-root re-execs, src/boot/capability.ts; the app's sets, init's applyCredentials) and the raw
 * per-thread user switch. Raw syscalls only (glibc's setuid would signal every thread of boot), on the
 * calling thread, synchronously.
 */
import type { CapSets, Kernel } from "../../ffi/mod.ts";
import type { LinuxCapabilities, Process, User } from "../specutils/spec.ts";
import { capMask, capNames, raisableAmbient } from "../specutils/capabilities.ts";
import { log } from "../log/log.ts";

/** The five capability sets a process is to hold, as masks. */
export interface CapabilityMasks extends CapSets {
  bounding: bigint;
  ambient: bigint;
}

/** The spec's capabilities as masks (an absent set is empty). */
export function capabilityMasks(caps: LinuxCapabilities = {}): CapabilityMasks {
  return {
    bounding: capMask(caps.bounding),
    effective: capMask(caps.effective),
    permitted: capMask(caps.permitted),
    inheritable: capMask(caps.inheritable),
    ambient: capMask(caps.ambient),
  };
}

/** Every capability up to `lastCap`. */
export function allCaps(lastCap: number): bigint {
  return (1n << BigInt(lastCap + 1)) - 1n;
}

/** How applyCapabilities runs. */
export interface ApplyOptions {
  /** The highest capability number of the running kernel. */
  lastCap: number;
  /**
   * Drop bounding caps only when CAP_SETPCAP is effective (boot's rule: it may run without it); otherwise
   * they are always dropped, and a refusal is an error (the app's).
   */
  boundingIfSetpcap?: boolean;
  /**
   * Runs after the bounding set is dropped (which needs CAP_SETPCAP) and before the sets are set (which
   * must come after a uid change): the app's user switch.
   */
  between?: () => void;
  /** Caps kept in effective and permitted on top of `want`'s, when the process has them (init's last steps). */
  hold?: bigint;
}

const CAP_SETPCAP = 1n << 8n;

/**
 * The one capability applier. In this order: drops every bounding cap not in `want.bounding`; runs
 * `between`; sets effective, permitted and inheritable to `want`'s, each masked by what the process then
 * has in permitted (a set can only shrink; caps a host does not grant are left out), plus `hold`; empties
 * the ambient set and raises each cap of `want.ambient` that is now both permitted and inheritable
 * (raisableAmbient). Returns the three sets it set, without `hold`.
 */
export function applyCapabilities(k: Kernel, want: CapabilityMasks, opts: ApplyOptions): CapSets {
  const bounding = !opts.boundingIfSetpcap || (k.capget().effective & CAP_SETPCAP) !== 0n;
  if (bounding) {
    for (let c = 0; c <= opts.lastCap; c++) if (!(want.bounding & (1n << BigInt(c)))) k.dropBoundingCap(c);
  }
  opts.between?.();
  const have = k.capget().permitted;
  const sets = {
    effective: want.effective & have,
    permitted: want.permitted & have,
    inheritable: want.inheritable & have,
  };
  const held = (opts.hold ?? 0n) & have;
  k.capset({ ...sets, effective: sets.effective | held, permitted: sets.permitted | held });
  k.clearAmbientCaps();
  // Against the sets asked for, not the held caps: dropping those later would clear them again.
  const ambient = raisableAmbient(want.ambient, sets, log.debug);
  for (let c = 0; c <= opts.lastCap; c++) if (ambient & (1n << BigInt(c))) k.raiseAmbientCap(c);
  return sets;
}

/**
 * `caps` trimmed to what this process has in permitted, with a warning for each cap dropped (boot's
 * --apply-caps: it asks for the app's sets plus its own, and runs with whatever the caller gave it).
 */
export function trimmedToPermitted(k: Kernel, caps: LinuxCapabilities): CapabilityMasks {
  const have = k.capget().permitted;
  const want = capabilityMasks(caps);
  for (
    const n of capNames(
      (want.bounding | want.effective | want.permitted | want.inheritable | want.ambient) & ~have,
    )
  ) {
    log.warning(`Capability "${n}" is not permitted, dropping it.`);
  }
  return {
    bounding: want.bounding & have,
    effective: want.effective & have,
    permitted: want.permitted & have,
    inheritable: want.inheritable & have,
    ambient: want.ambient & have,
  };
}

/**
 * Switches the calling thread to `user`'s gid, groups and uid with raw syscalls, keeping the permitted set
 * across the uid change (PR_SET_KEEPCAPS around it). `groups` false: setgroups(2) is denied (a user
 * namespace whose setgroups file says "deny"), so the groups stay as they are (none), and asking for
 * additional gids is an error.
 */
export function switchUser(
  k: Kernel,
  user: Pick<User, "uid" | "gid" | "additionalGids">,
  groups = true,
): void {
  k.setKeepCaps(true);
  if (groups) k.setgroups(user.additionalGids ?? []);
  else if (user.additionalGids?.length) {
    throw new Error("process.user.additionalGids: setgroups is denied in this user namespace");
  }
  k.setresgid(user.gid);
  k.setresuid(user.uid);
  k.setKeepCaps(false);
}

/**
 * The app's credentials: its uid, gid and groups, exactly the spec's five capability sets (bounding first,
 * while init still has CAP_SETPCAP), then no_new_privs. `hold` (a cap mask) stays in the effective and
 * permitted sets on top of the process's, when init has it, for init's last steps; returns the process's
 * exact sets, to drop to once those are done. `groups` false: see switchUser.
 */
export function applyCredentials(k: Kernel, p: Process, lastCap: number, hold = 0n, groups = true): CapSets {
  const user = p.user ?? { uid: 0, gid: 0 };
  const sets = applyCapabilities(k, capabilityMasks(p.capabilities), {
    lastCap,
    hold,
    between: () => switchUser(k, user, groups),
  });
  if (p.noNewPrivileges) k.setNoNewPrivs();
  return sets;
}
