/** Readable names for the flags and values an explain plan prints. */
import { CLONE, MS, PR, RLIMIT, SIGNALS } from "../../ffi/mod.ts";
import { capNames } from "../specutils/capabilities.ts";

/** The names of the bits set in `value`, per `table` (unknown bits as hex). */
function bits(value: number, table: ReadonlyArray<[string, number]>): string[] {
  const out: string[] = [];
  let left = value;
  for (const [name, bit] of table) {
    if ((value & bit) === bit && bit !== 0) {
      out.push(name);
      left &= ~bit;
    }
  }
  if (left) out.push(`0x${left.toString(16)}`);
  return out;
}

const MOUNT_FLAGS: Array<[string, number]> = [
  ["ro", MS.RDONLY],
  ["nosuid", MS.NOSUID],
  ["nodev", MS.NODEV],
  ["noexec", MS.NOEXEC],
  ["sync", MS.SYNCHRONOUS],
  ["remount", MS.REMOUNT],
  ["mand", MS.MANDLOCK],
  ["dirsync", MS.DIRSYNC],
  ["nosymfollow", MS.NOSYMFOLLOW],
  ["noatime", MS.NOATIME],
  ["nodiratime", MS.NODIRATIME],
  ["bind", MS.BIND],
  ["move", MS.MOVE],
  ["rec", MS.REC],
  ["silent", MS.SILENT],
  ["unbindable", MS.UNBINDABLE],
  ["private", MS.PRIVATE],
  ["slave", MS.SLAVE],
  ["shared", MS.SHARED],
  ["relatime", MS.RELATIME],
  ["strictatime", MS.STRICTATIME],
  ["lazytime", MS.LAZYTIME],
];

/** mount(8)-style names of mount(2) flags: ["nosuid", "strictatime"]. */
export function mountFlagNames(flags: number): string[] {
  return bits(flags, MOUNT_FLAGS);
}

/** The per-mount flags a mount table shows (ro, nosuid, nodev, noexec, atime bits). */
export const PER_MOUNT = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME |
  MS.RELATIME | MS.STRICTATIME | MS.NOSYMFOLLOW;

const CLONE_FLAGS: Array<[string, number]> = Object.entries(CLONE).map(([k, v]) => [`CLONE_${k}`, v]);

/** CLONE_* names joined with "|". */
export function cloneFlagNames(flags: number): string {
  return bits(flags, CLONE_FLAGS).join("|") || "0";
}

/** The namespace kind of one CLONE_NEW* flag ("mount", "uts", ...). */
export const NAMESPACE_OF: Record<number, string> = {
  [CLONE.NEWNS]: "mnt",
  [CLONE.NEWUTS]: "uts",
  [CLONE.NEWIPC]: "ipc",
  [CLONE.NEWNET]: "net",
  [CLONE.NEWPID]: "pid",
  [CLONE.NEWUSER]: "user",
  [CLONE.NEWCGROUP]: "cgroup",
  [CLONE.NEWTIME]: "time",
};

/** Capability names joined with ",", or "(none)". */
export function capList(mask: bigint): string {
  const names = capNames(mask);
  return names.length ? names.join(",") : "(none)";
}

/** A signal's name ("SIGKILL"), or its number. */
export function signalName(n: number): string {
  const name = Object.entries(SIGNALS).find(([, v]) => v === n)?.[0];
  return name ? `SIG${name}` : String(n);
}

const PR_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(PR).filter(([k]) => !k.startsWith("CAP_AMBIENT_")).map(([k, v]) => [v, `PR_${k}`]),
);

/** A prctl option's name. */
export function prctlName(option: number): string {
  return PR_NAMES[option] ?? `prctl ${option}`;
}

/** An rlimit resource's name. */
export function rlimitName(res: number): string {
  return Object.entries(RLIMIT).find(([, v]) => v === res)?.[0] ?? `resource ${res}`;
}

/** An rlimit value: "unlimited" for RLIM_INFINITY. */
export function rlimitValue(v: bigint): string {
  return v === 0xffffffffffffffffn ? "unlimited" : String(v);
}

/** A mode as 4 octal digits. */
export function octal(mode: number): string {
  return "0" + (mode & 0o7777).toString(8).padStart(3, "0");
}

/** Text for a value written to a file: quoted, newlines shown. */
export function quoted(value: string): string {
  return JSON.stringify(value.length > 200 ? value.slice(0, 200) + "…" : value);
}
