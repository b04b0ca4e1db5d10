/**
 * Device access rules: the spec's `linux.resources.devices`, then an allow rule for every node in
 * `linux.devices`, then the devices every container gets (runc's allowed list). On v1 they are written
 * in order to devices.allow / devices.deny; on v2 they become one eBPF program attached to the cgroup,
 * with the same meaning: a rule for all devices with all access resets the default, and among the
 * other rules the last one that matches decides.
 */
import { BPF_DEVCG, BPF_OP, type BpfInsn } from "../../ffi/mod.ts";
import type { LinuxDevice, LinuxDeviceCgroup } from "../specutils/spec.ts";

/** A normalised device rule. */
export interface DeviceRule {
  allow: boolean;
  /** "a" (all), "c" or "b". */
  type: "a" | "c" | "b";
  /** -1 for any. */
  major: number;
  /** -1 for any. */
  minor: number;
  /** Some of "r", "w", "m". */
  access: string;
}

/** What every container may use: mknod of anything, and the default /dev nodes plus pts and tun. */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: true, type: "c", major: -1, minor: -1, access: "m" },
  { allow: true, type: "b", major: -1, minor: -1, access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }, // null
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" }, // zero
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" }, // full
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" }, // random
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" }, // urandom
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" }, // tty
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" }, // console
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" }, // ptmx
  { allow: true, type: "c", major: 136, minor: -1, access: "rwm" }, // pts/*
  { allow: true, type: "c", major: 10, minor: 200, access: "rwm" }, // net/tun
];

function normalize(d: LinuxDeviceCgroup): DeviceRule {
  const type = d.type ?? "a";
  if (type !== "a" && type !== "c" && type !== "b") {
    throw new Error(`device rule type ${JSON.stringify(type)}`);
  }
  const access = d.access ?? "rwm";
  if (!/^[rwm]*$/.test(access)) throw new Error(`device rule access ${JSON.stringify(access)}`);
  return { allow: d.allow, type, major: d.major ?? -1, minor: d.minor ?? -1, access };
}

/**
 * The full rule list for a container, or null when the spec sets no device rules (the cgroup is left
 * as it is: everything its parent allows).
 */
export function deviceRules(
  resources: readonly LinuxDeviceCgroup[] | undefined,
  nodes: readonly LinuxDevice[] | undefined,
): DeviceRule[] | null {
  if (!resources?.length) return null;
  const rules = resources.map(normalize);
  for (const n of nodes ?? []) {
    if (n.type !== "c" && n.type !== "b" && n.type !== "u") continue;
    rules.push({
      allow: true,
      type: n.type === "b" ? "b" : "c",
      major: n.major ?? 0,
      minor: n.minor ?? 0,
      access: "rwm",
    });
  }
  rules.push(...DEFAULT_DEVICE_RULES);
  return rules;
}

/** True for the rule that covers every device with every access. */
function isAll(r: DeviceRule): boolean {
  return r.type === "a" && r.major < 0 && r.minor < 0 && ["r", "w", "m"].every((c) => r.access.includes(c));
}

/** A rule in the devices.allow / devices.deny syntax ("c 1:3 rwm", "a"). */
export function v1RuleLine(r: DeviceRule): string {
  if (isAll(r)) return "a";
  const n = (v: number) => (v < 0 ? "*" : String(v));
  return `${r.type} ${n(r.major)}:${n(r.minor)} ${r.access || "rwm"}`;
}

function accessBits(access: string): number {
  let bits = 0;
  if (access.includes("m")) bits |= BPF_DEVCG.ACC_MKNOD;
  if (access.includes("r")) bits |= BPF_DEVCG.ACC_READ;
  if (access.includes("w")) bits |= BPF_DEVCG.ACC_WRITE;
  return bits;
}

const ALL_ACCESS = BPF_DEVCG.ACC_MKNOD | BPF_DEVCG.ACC_READ | BPF_DEVCG.ACC_WRITE;

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({
  code,
  dst,
  src,
  off,
  imm,
});

/**
 * The eBPF device filter for `rules`. Registers: r2 = device type, r3 = requested access, r4 = major,
 * r5 = minor. An allow rule matches when every requested access is allowed; a deny rule when any is
 * denied. The program returns 1 to allow, 0 to deny.
 */
export function deviceFilter(rules: readonly DeviceRule[]): BpfInsn[] {
  let fallback = true;
  let list: DeviceRule[] = [];
  for (const r of rules) {
    if (isAll(r)) {
      fallback = r.allow;
      list = [];
    } else {
      list.push(r);
    }
  }
  const prog: BpfInsn[] = [
    insn(BPF_OP.LDX_W, 2, 1, BPF_DEVCG.OFF_ACCESS_TYPE, 0),
    insn(BPF_OP.AND32_K, 2, 0, 0, 0xffff),
    insn(BPF_OP.LDX_W, 3, 1, BPF_DEVCG.OFF_ACCESS_TYPE, 0),
    insn(BPF_OP.RSH32_K, 3, 0, 0, 16),
    insn(BPF_OP.LDX_W, 4, 1, BPF_DEVCG.OFF_MAJOR, 0),
    insn(BPF_OP.LDX_W, 5, 1, BPF_DEVCG.OFF_MINOR, 0),
  ];
  // Last rule first: the first match in the program is the last one in the list.
  for (const r of [...list].reverse()) {
    // Each check jumps past the rest of the block when the rule does not apply; offsets are patched
    // once the block's length is known.
    const block: BpfInsn[] = [];
    const skips: number[] = [];
    const skipIf = (i: BpfInsn) => {
      skips.push(block.length);
      block.push(i);
    };
    if (r.type !== "a") {
      skipIf(insn(BPF_OP.JNE_K, 2, 0, 0, r.type === "c" ? BPF_DEVCG.DEV_CHAR : BPF_DEVCG.DEV_BLOCK));
    }
    const bits = accessBits(r.access);
    if (r.allow && bits !== ALL_ACCESS) {
      block.push(insn(BPF_OP.MOV32_X, 1, 3, 0, 0));
      block.push(insn(BPF_OP.AND32_K, 1, 0, 0, ~bits & ALL_ACCESS));
      skipIf(insn(BPF_OP.JNE_K, 1, 0, 0, 0));
    } else if (!r.allow) {
      block.push(insn(BPF_OP.MOV32_X, 1, 3, 0, 0));
      block.push(insn(BPF_OP.AND32_K, 1, 0, 0, bits));
      skipIf(insn(BPF_OP.JEQ_K, 1, 0, 0, 0));
    }
    if (r.major >= 0) skipIf(insn(BPF_OP.JNE_K, 4, 0, 0, r.major));
    if (r.minor >= 0) skipIf(insn(BPF_OP.JNE_K, 5, 0, 0, r.minor));
    block.push(insn(BPF_OP.MOV64_K, 0, 0, 0, r.allow ? 1 : 0));
    block.push(insn(BPF_OP.EXIT, 0, 0, 0, 0));
    for (const at of skips) block[at] = { ...block[at], off: block.length - at - 1 };
    prog.push(...block);
  }
  prog.push(insn(BPF_OP.MOV64_K, 0, 0, 0, fallback ? 1 : 0), insn(BPF_OP.EXIT, 0, 0, 0, 0));
  return prog;
}

/**
 * Evaluates `rules` for one access the way the filter does (for tests and for checking a program):
 * true when `access` ("r", "w", "m" or a mix) to the device is allowed.
 */
export function allows(
  rules: readonly DeviceRule[],
  type: "c" | "b",
  major: number,
  minor: number,
  access: string,
): boolean {
  let allowed = true;
  let list: DeviceRule[] = [];
  for (const r of rules) {
    if (isAll(r)) {
      allowed = r.allow;
      list = [];
    } else {
      list.push(r);
    }
  }
  const want = accessBits(access);
  for (const r of [...list].reverse()) {
    if (r.type !== "a" && r.type !== type) continue;
    if (r.major >= 0 && r.major !== major) continue;
    if (r.minor >= 0 && r.minor !== minor) continue;
    const bits = accessBits(r.access);
    if (r.allow ? (want & ~bits) === 0 : (want & bits) !== 0) return r.allow;
  }
  return allowed;
}
