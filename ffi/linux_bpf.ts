/**
 * eBPF for cgroup v2 device control: the instruction encoding (struct bpf_insn), the opcodes a device
 * filter needs, and the bpf(2) calls that load such a program and attach it to a cgroup.
 */
import type { BpfCalls, BpfInsn } from "./kernel.ts";
import { sys } from "./libc.ts";
import { addr, cstr } from "./mem.ts";

/** The eBPF opcodes a cgroup device filter uses (class | size/op | source). */
export const BPF_OP = {
  /** dst = *(u32 *)(src + off) */
  LDX_W: 0x61,
  /** dst32 &= imm */
  AND32_K: 0x54,
  /** dst32 >>= imm */
  RSH32_K: 0x74,
  /** dst32 = src32 */
  MOV32_X: 0xbc,
  /** dst = imm */
  MOV64_K: 0xb7,
  /** if dst == imm goto +off */
  JEQ_K: 0x15,
  /** if dst != imm goto +off */
  JNE_K: 0x55,
  EXIT: 0x95,
} as const;

/** struct bpf_cgroup_dev_ctx: access_type = (access << 16) | type, then major, then minor (u32 each). */
export const BPF_DEVCG = {
  OFF_ACCESS_TYPE: 0,
  OFF_MAJOR: 4,
  OFF_MINOR: 8,
  ACC_MKNOD: 1,
  ACC_READ: 2,
  ACC_WRITE: 4,
  DEV_BLOCK: 1,
  DEV_CHAR: 2,
} as const;

/** Encodes instructions as the kernel reads them (8 bytes each, little-endian). */
export function encodeBpf(insns: readonly BpfInsn[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(insns.length * 8);
  const v = new DataView(out.buffer);
  insns.forEach((i, n) => {
    v.setUint8(n * 8, i.code);
    v.setUint8(n * 8 + 1, (i.dst & 0xf) | ((i.src & 0xf) << 4));
    v.setInt16(n * 8 + 2, i.off, true);
    v.setInt32(n * 8 + 4, i.imm, true);
  });
  return out;
}

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const LICENSE = cstr("Apache-2.0");

/** The real bpf(2) calls. */
export const linuxBpf: BpfCalls = {
  bpfLoadDeviceFilter(insns) {
    const prog = encodeBpf(insns);
    // union bpf_attr, BPF_PROG_LOAD: prog_type u32 @0, insn_cnt u32 @4, insns u64 @8, license u64 @16.
    const attr = new Uint8Array(128);
    const v = new DataView(attr.buffer);
    v.setUint32(0, BPF_PROG_TYPE_CGROUP_DEVICE, true);
    v.setUint32(4, insns.length, true);
    v.setBigUint64(8, addr(prog), true);
    v.setBigUint64(16, addr(LICENSE), true);
    return sys(
      "bpf",
      `BPF_PROG_LOAD cgroup device filter (${insns.length} insns)`,
      BPF_PROG_LOAD,
      addr(attr),
      128,
    );
  },
  bpfAttachDeviceFilter(progFd, cgroupFd) {
    // BPF_PROG_ATTACH: target_fd u32 @0, attach_bpf_fd u32 @4, attach_type u32 @8, attach_flags u32 @12.
    // Flags 0: only one program per cgroup, none below it; attaching again replaces the program.
    const attr = new Uint8Array(128);
    const v = new DataView(attr.buffer);
    v.setUint32(0, cgroupFd, true);
    v.setUint32(4, progFd, true);
    v.setUint32(8, BPF_CGROUP_DEVICE, true);
    sys("bpf", `BPF_PROG_ATTACH fd ${progFd} to cgroup fd ${cgroupFd}`, BPF_PROG_ATTACH, addr(attr), 128);
  },
};
