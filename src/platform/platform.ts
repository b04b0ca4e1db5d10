/**
 * Platforms (runsc's platform.Lookup). runsc chooses how the sandboxed kernel traps application syscalls
 * (ptrace, KVM, systrap); runts runs the container natively under Linux namespaces, so there is one
 * platform, "native", and it asks nothing special of the process that starts it.
 */

/** What a platform needs from the boot process. */
export interface Requirements {
  /** Boot must keep CAP_SYS_PTRACE (runsc adds it to the bounding, effective and permitted sets). */
  requiresCapSysPtrace: boolean;
  /** Boot must stay in the caller's PID namespace (runsc's ptrace cannot trace across one). */
  requiresCurrentPIDNS: boolean;
}

/** A platform. */
export interface Platform {
  readonly name: string;
  requirements(): Requirements;
}

/** An unknown platform name. */
export class PlatformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlatformError";
  }
}

const native: Platform = Object.freeze({
  name: "native",
  requirements: (): Requirements => ({ requiresCapSysPtrace: false, requiresCurrentPIDNS: false }),
});

const PLATFORMS: ReadonlyMap<string, Platform> = new Map([[native.name, native]]);

/** The names of the known platforms, sorted. */
export function platformNames(): string[] {
  return [...PLATFORMS.keys()].sort();
}

/** The platform called `name`; throws PlatformError `unknown platform "kvm" (known platforms: native)`. */
export function lookup(name: string): Platform {
  const p = PLATFORMS.get(name);
  if (!p) {
    throw new PlatformError(
      `unknown platform ${JSON.stringify(name)} (known platforms: ${platformNames().join(", ")})`,
    );
  }
  return p;
}
