/**
 * Which linux.sysctl keys a container may set: only those that live in a namespace the container has of
 * its own, so that a write can never reach the host's kernel settings. Shared by spec validation (the
 * namespaces the spec asks for) and init (the namespaces it actually entered).
 */

/** A namespace type, as the runtime-spec names it, that holds sysctls. */
export type SysctlNamespace = "ipc" | "network" | "uts";

/**
 * The namespace the sysctl `key` belongs to, or null when it is not namespaced (so never allowed):
 * `net.*` → network; `kernel.shm*`, `kernel.msg*`, `kernel.sem*` and `fs.mqueue.*` → ipc;
 * `kernel.hostname` and `kernel.domainname` → uts. Keys may use dots or slashes.
 */
export function sysctlNamespace(key: string): SysctlNamespace | null {
  const k = key.includes("/") ? key.replaceAll("/", ".") : key;
  if (k.startsWith("net.")) return "network";
  if (/^kernel\.(shm|msg|sem)/.test(k) || k.startsWith("fs.mqueue.")) return "ipc";
  if (k === "kernel.hostname" || k === "kernel.domainname") return "uts";
  return null;
}

/** True when `key` is a well-formed sysctl name: letters, digits, `_ - .` and `/`, no empty or `..` part. */
export function isSysctlName(key: string): boolean {
  if (!/^[A-Za-z0-9_.\-/]+$/.test(key)) return false;
  const parts = key.includes("/") ? key.split("/") : key.split(".");
  return parts.every((p) => p !== "" && p !== "." && p !== "..");
}

/** The file under /proc/sys for `key` (dots become slashes unless the key already uses slashes). */
export function sysctlPath(key: string): string {
  return "/proc/sys/" + (key.includes("/") ? key : key.replaceAll(".", "/"));
}
