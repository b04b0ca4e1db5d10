/**
 * Spec validation. Two passes: a structural pass checks that every field runts knows has the JSON type the
 * runtime-spec gives it (src/specutils/spec_shape.ts), then a semantic pass applies runsc's ValidateSpec rules plus the runc-style checks runts adds. The first
 * problem found is thrown as a SpecError whose message names the field.
 */
import {
  SECCOMP_ACTION_NAMES,
  SECCOMP_ARCH_NAMES,
  SECCOMP_FLAG_NAMES,
  SECCOMP_OP_NAMES,
} from "./seccomp_names.ts";
import { IOPRIO_CLASS, RLIMIT, SCHED_FLAG, SCHED_POLICY } from "../../ffi/mod.ts";
import { isCapability } from "./capabilities.ts";
import { SpecError } from "./errors.ts";
import { isBindMount, isBindMountOption, isPropagationOption, PROPAGATION_OPTIONS } from "./mount_options.ts";
import { isNamespaceType } from "./namespaces.ts";
import { isSysctlName, sysctlNamespace } from "./sysctl.ts";
import { isAbs } from "./path.ts";
import { mountIdMap, validateMountIdMap, validateUserNamespace } from "./idmap.ts";
import type { Hook, Linux, LinuxSeccomp, Mount, Process, Spec } from "./spec.ts";
import { arr, checkShape, describe, fail, HOOK_STAGES, isObject, MOUNT, quote, SPEC } from "./spec_shape.ts";

// ---------------------------------------------------------------------------------------------------
// Semantic pass (runs only on structurally valid input, so plain property access is safe; null members
// are treated like absent ones, hence `?.`, `??` and truthiness rather than `!== undefined`).

const SCHED_POLICIES = new Set(Object.keys(SCHED_POLICY));
const SCHED_FLAGS = new Set(Object.keys(SCHED_FLAG));
const IOPRIO_CLASSES = new Set(Object.keys(IOPRIO_CLASS));
const SECCOMP_ACTIONS = new Set(SECCOMP_ACTION_NAMES);
const SECCOMP_OPS = new Set(SECCOMP_OP_NAMES);
const SECCOMP_FLAGS = new Set(SECCOMP_FLAG_NAMES);
const SECCOMP_ARCHES = new Set(SECCOMP_ARCH_NAMES);
const DEVICE_TYPES = new Set(["c", "b", "u", "p"]);
const CGROUP_DEVICE_TYPES = new Set(["a", "b", "c"]);
const TIME_CLOCKS = new Set(["monotonic", "boottime"]);
const PERSONALITY_DOMAINS = new Set(["LINUX", "LINUX32"]);
const CRI_CONTAINER_TYPE = ["io.kubernetes.cri.container-type", "io.kubernetes.cri-o.ContainerType"];
const CRI_SANDBOX_ID = ["io.kubernetes.cri.sandbox-id", "io.kubernetes.cri-o.SandboxID"];
/** HOST_NAME_MAX: sethostname(2)/setdomainname(2) reject longer names. */
const HOST_NAME_MAX = 64;
/** NGROUPS_MAX: setgroups(2) rejects more groups. */
const NGROUPS_MAX = 65536;

const utf8Length = (s: string) => new TextEncoder().encode(s).length;

function requireAbsolute(p: string, path: string): void {
  if (!isAbs(p)) fail(`${path} ${quote(p)} must be absolute`);
}

function isCpuList(s: string): boolean {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(s)) return false;
  return s.split(",").every((r) => {
    const [lo, hi] = r.split("-").map(Number);
    return hi === undefined || lo <= hi;
  });
}

/**
 * Validates a spec. Throws a SpecError naming the first bad field; returns warnings about settings that
 * runts accepts but ignores. Safe on any JSON value, whatever its shape.
 */
export function validateSpec(spec: Spec): string[] {
  const warnings: string[] = [];
  const raw: unknown = spec;
  if (!isObject(raw)) fail(`the configuration must be a JSON object, got ${describe(raw)}`);
  checkShape(raw, SPEC, "");
  if (!spec.ociVersion.startsWith("1.")) {
    fail(`ociVersion ${quote(spec.ociVersion)} is not supported (runts implements runtime-spec 1.x)`);
  }
  if (raw.solaris != null) throw new SpecError("Spec.Solaris is not supported");
  if (raw.windows != null) throw new SpecError("Spec.Windows is not supported");

  if (!spec.process) throw new SpecError("Spec.Process must be defined");
  validateProcess(spec.process, warnings);
  if (!spec.root) throw new SpecError("Spec.Root must be defined");
  if (!spec.root.path) throw new SpecError("Spec.Root.Path must be defined");

  const hasUts = (spec.linux?.namespaces ?? []).some((ns) => ns.type === "uts");
  for (const key of ["hostname", "domainname"] as const) {
    const name = spec[key];
    if (!name) continue;
    if (!hasUts) throw new SpecError(`unable to set ${key} without a private UTS namespace`);
    if (utf8Length(name) > HOST_NAME_MAX) fail(`${key} ${quote(name)} is longer than ${HOST_NAME_MAX} bytes`);
  }

  (spec.mounts ?? []).forEach((m, i) => {
    validateMount(m, `mounts[${i}]`, warnings);
    mountIdMap(m, spec.linux, `mounts[${i}]`);
  });
  for (const stage of HOOK_STAGES) {
    const hooks = (spec.hooks as Record<string, Hook[] | undefined> | undefined)?.[stage] ?? [];
    hooks.forEach((h, i) => validateHook(h, `hooks.${stage}[${i}]`));
  }
  validateAnnotations(spec.annotations ?? {});
  if (spec.linux) validateLinux(spec.linux, spec.process, warnings);
  return warnings;
}

function validateProcess(p: Process, warnings: string[]): void {
  if (!p.args || p.args.length === 0) throw new SpecError("Spec.Process.Arg must be defined");
  if (p.args[0] === "") fail("process.args[0] must not be empty");
  if (!p.cwd) fail("process.cwd must not be empty");
  requireAbsolute(p.cwd, "process.cwd");
  if (p.selinuxLabel) {
    throw new SpecError(`SELinux is not supported: process.selinuxLabel ${quote(p.selinuxLabel)}`);
  }
  if (p.apparmorProfile) {
    warnings.push(
      `AppArmor is not supported: process.apparmorProfile ${quote(p.apparmorProfile)} is ignored`,
    );
  }
  const groups = p.user.additionalGids?.length ?? 0;
  if (groups > NGROUPS_MAX) {
    fail(`process.user.additionalGids has ${groups} entries, at most ${NGROUPS_MAX} allowed`);
  }
  (p.env ?? []).forEach((e, i) => {
    if (e.indexOf("=") <= 0) fail(`process.env[${i}] ${quote(e)} must have the form KEY=VALUE`);
  });
  const caps = p.capabilities ?? {};
  for (const set of ["bounding", "effective", "inheritable", "permitted", "ambient"] as const) {
    (caps[set] ?? []).forEach((name, i) => {
      if (!isCapability(name)) fail(`process.capabilities.${set}[${i}]: invalid capability ${quote(name)}`);
    });
  }
  const seen = new Set<string>();
  (p.rlimits ?? []).forEach((r, i) => {
    const at = `process.rlimits[${i}]`;
    if (!Object.hasOwn(RLIMIT, r.type)) fail(`${at}.type ${quote(r.type)} is not a known RLIMIT_* resource`);
    if (seen.has(r.type)) fail(`${at}: duplicate rlimit type ${quote(r.type)}`);
    seen.add(r.type);
    if (r.soft > r.hard) fail(`${at} (${r.type}): soft limit ${r.soft} exceeds hard limit ${r.hard}`);
  });
  if (p.oomScoreAdj != null && (p.oomScoreAdj < -1000 || p.oomScoreAdj > 1000)) {
    fail(`process.oomScoreAdj ${p.oomScoreAdj} must be between -1000 and 1000`);
  }
  if (p.scheduler) {
    const s = p.scheduler;
    if (!SCHED_POLICIES.has(s.policy)) {
      fail(`process.scheduler.policy ${quote(s.policy)} is not a known policy`);
    }
    if (s.nice != null && (s.nice < -20 || s.nice > 19)) {
      fail(`process.scheduler.nice ${s.nice} must be in -20..19`);
    }
    (s.flags ?? []).forEach((f, i) => {
      if (!SCHED_FLAGS.has(f)) fail(`process.scheduler.flags[${i}] ${quote(f)} is not a known flag`);
    });
  }
  if (p.ioPriority) {
    const io = p.ioPriority;
    if (!IOPRIO_CLASSES.has(io.class)) {
      fail(`process.ioPriority.class ${quote(io.class)} is not a known class`);
    }
    if (io.priority < 0 || io.priority > 7) {
      fail(`process.ioPriority.priority ${io.priority} must be in 0..7`);
    }
  }
  for (const k of ["initial", "final"] as const) {
    const list = p.execCPUAffinity?.[k];
    if (list && !isCpuList(list)) {
      fail(`process.execCPUAffinity.${k} ${quote(list)} is not a cpu list like "0-3,7"`);
    }
  }
}

/**
 * Validates one mount (structure and semantics); `path` names it in messages, e.g. `mounts[2]`. Rules:
 * absolute destination; idmapped mounts as idmap.ts says; at most one propagation option; a bind mount
 * (type "bind" or a bind/rbind option) needs a source. Filesystem options on a bind mount (`mode=755`,
 * `size=1k`) are accepted and ignored, as runc does (mount(2) ignores the data of MS_BIND); `warnings` gets
 * a line.
 */
/** Options of a bind mount that are not mount(8) flags but are not ignored either. */
const BIND_EXTRAS = new Set(["rro", "idmap", "ridmap"]);

export function validateMount(m: Mount, path: string, warnings?: string[]): void {
  checkShape(m, MOUNT, path);
  if (!m.destination) fail(`${path}.destination must not be empty`);
  requireAbsolute(m.destination, `${path}.destination`);
  const options = m.options ?? [];
  const bind = isBindMount(m);
  validateMountIdMap(m, path, bind);
  let propagation: string | undefined;
  const ignored: string[] = [];
  options.forEach((o) => {
    if (isPropagationOption(o)) {
      if (propagation !== undefined) {
        fail(
          `${path}.options: at most one propagation type may be given, got ${quote(propagation)} and ${
            quote(o)
          }`,
        );
      }
      propagation = o;
    }
    if (bind && !isBindMountOption(o) && !BIND_EXTRAS.has(o)) ignored.push(o);
  });
  if (bind && !m.source) fail(`${path}.source must be defined for a bind mount`);
  if (ignored.length) {
    warnings?.push(`${path}: filesystem options ${quote(ignored.join(","))} are ignored on a bind mount`);
  }
}

function validateHook(h: Hook, path: string): void {
  requireAbsolute(h.path, `${path}.path`);
  if (h.timeout != null && h.timeout <= 0) fail(`${path}.timeout ${h.timeout} must be positive`);
}

function validateAnnotations(annotations: Record<string, string>): void {
  for (const key of CRI_CONTAINER_TYPE) {
    if (!Object.hasOwn(annotations, key)) continue;
    const type = annotations[key];
    if (type === "sandbox") continue;
    if (type !== "container") fail(`annotation ${key}: unknown container-type ${quote(type)}`);
    if (!CRI_SANDBOX_ID.some((id) => Object.hasOwn(annotations, id) && annotations[id] !== "")) {
      fail(`annotation ${key}=container requires a sandbox ID annotation (${CRI_SANDBOX_ID.join(" or ")})`);
    }
  }
}

function validateLinux(l: Linux, process: Process, warnings: string[]): void {
  const types = new Set<string>();
  (l.namespaces ?? []).forEach((ns, i) => {
    const at = `linux.namespaces[${i}]`;
    if (!isNamespaceType(ns.type)) {
      fail(
        `${at}.type ${
          quote(ns.type)
        } is not a namespace type (pid, network, mount, ipc, uts, user, cgroup, time)`,
      );
    }
    if (types.has(ns.type)) fail(`${at}: duplicate namespace type ${quote(ns.type)}`);
    types.add(ns.type);
    if (ns.path) requireAbsolute(ns.path, `${at}.path`);
    if (ns.type === "time" && ns.path) {
      fail(
        `${at}: joining a time namespace by path is not supported by runts (the kernel lets only a process ` +
          "alone in its address space enter one, and init shares boot's until execve); a new one is",
      );
    }
  });
  validateUserNamespace(l, process);
  for (const [clock, off] of Object.entries(l.timeOffsets ?? {})) {
    if (!TIME_CLOCKS.has(clock)) {
      fail(`linux.timeOffsets: unknown clock ${quote(clock)} (monotonic or boottime)`);
    }
    if ((off.nanosecs ?? 0) >= 1e9) {
      fail(`linux.timeOffsets[${quote(clock)}].nanosecs must be below 1000000000`);
    }
    if (!types.has("time")) fail("linux.timeOffsets requires a time namespace");
  }
  for (const key of Object.keys(l.sysctl ?? {})) {
    if (key === "") fail("linux.sysctl: empty key");
    const at = `linux.sysctl[${quote(key)}]`;
    if (!isSysctlName(key)) fail(`${at}: not a sysctl name`);
    const ns = sysctlNamespace(key);
    if (ns === null) {
      fail(
        `${at}: not allowed: only namespaced sysctls may be set (net.* with a network namespace; ` +
          "kernel.shm*, kernel.msg*, kernel.sem* and fs.mqueue.* with an ipc namespace; kernel.hostname " +
          "and kernel.domainname with a uts namespace)",
      );
    }
    if (!types.has(ns)) fail(`${at}: not allowed without a ${ns} namespace`);
  }
  (l.devices ?? []).forEach((d, i) => {
    const at = `linux.devices[${i}]`;
    if (!DEVICE_TYPES.has(d.type)) fail(`${at}.type ${quote(d.type)} must be one of c, b, u, p`);
    requireAbsolute(d.path, `${at}.path`);
    if (d.type !== "p" && (d.major == null || d.minor == null)) {
      fail(`${at}: major and minor must be defined`);
    }
  });
  (l.resources?.devices ?? []).forEach((d, i) => {
    const at = `linux.resources.devices[${i}]`;
    if (d.type && !CGROUP_DEVICE_TYPES.has(d.type)) {
      fail(`${at}.type ${quote(d.type)} must be one of a, b, c`);
    }
    if (d.access && !/^[rwm]+$/.test(d.access)) {
      fail(`${at}.access ${quote(d.access)} may only contain r, w and m`);
    }
  });
  if (l.seccomp) validateSeccomp(l.seccomp);
  if (l.rootfsPropagation && !PROPAGATION_OPTIONS.has(l.rootfsPropagation)) {
    fail(
      `linux.rootfsPropagation ${quote(l.rootfsPropagation)} must be one of ${
        [...PROPAGATION_OPTIONS].join(", ")
      }`,
    );
  }
  for (const k of ["maskedPaths", "readonlyPaths"] as const) {
    (l[k] ?? []).forEach((p, i) => requireAbsolute(p, `linux.${k}[${i}]`));
    // runc refuses these too: without a mount entry the container's mounts are the runtime's.
    if (l[k]?.length && !types.has("mount")) {
      fail(
        `linux.${k}: unable to restrict sys entries without a private MNT namespace (add a mount namespace)`,
      );
    }
  }
  if (l.mountLabel) {
    warnings.push(`SELinux is not supported: linux.mountLabel ${quote(l.mountLabel)} is ignored`);
  }
  if (l.intelRdt) warnings.push("Intel RDT is not supported: linux.intelRdt is ignored");
  if (l.personality && !PERSONALITY_DOMAINS.has(l.personality.domain)) {
    fail(`linux.personality.domain ${quote(l.personality.domain)} must be LINUX or LINUX32`);
  }
  if (l.personality?.flags?.length) {
    fail(`linux.personality.flags ${quote(l.personality.flags.join(","))}: no flags are supported`);
  }
}

/** The largest errno a seccomp ERRNO action carries (the kernel caps it at MAX_ERRNO). */
const MAX_ERRNO = 4095;
const U64_MAX = 0xffffffffffffffffn;

function validateSeccomp(s: LinuxSeccomp): void {
  const action = (a: string, at: string) => {
    if (!SECCOMP_ACTIONS.has(a)) fail(`${at} ${quote(a)} is not a known seccomp action`);
    if (a === "SCMP_ACT_NOTIFY") {
      fail(`${at}: SCMP_ACT_NOTIFY is not supported by runts (no seccomp agent support)`);
    }
  };
  const errnoRet = (ret: number | undefined, a: string, at: string) => {
    if (ret == null) return;
    if (a !== "SCMP_ACT_ERRNO" && a !== "SCMP_ACT_TRACE") {
      fail(`${at} is only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${a}`);
    }
    if (ret > MAX_ERRNO) fail(`${at} ${ret} must be at most ${MAX_ERRNO}`);
  };
  action(s.defaultAction, "linux.seccomp.defaultAction");
  errnoRet(s.defaultErrnoRet, s.defaultAction, "linux.seccomp.defaultErrnoRet");
  (s.architectures ?? []).forEach((a, i) => {
    if (!SECCOMP_ARCHES.has(a)) {
      fail(`linux.seccomp.architectures[${i}] ${quote(a)} is not a known architecture`);
    }
  });
  (s.flags ?? []).forEach((f, i) => {
    if (!SECCOMP_FLAGS.has(f)) fail(`linux.seccomp.flags[${i}] ${quote(f)} is not a known seccomp flag`);
  });
  if (s.listenerPath) requireAbsolute(s.listenerPath, "linux.seccomp.listenerPath");
  (s.syscalls ?? []).forEach((rule, i) => {
    const at = `linux.seccomp.syscalls[${i}]`;
    if (rule.names.length === 0) fail(`${at}.names must not be empty`);
    rule.names.forEach((n, j) => {
      if (n === "") fail(`${at}.names[${j}] must not be empty`);
    });
    action(rule.action, `${at}.action`);
    errnoRet(rule.errnoRet, rule.action, `${at}.errnoRet`);
    (rule.args ?? []).forEach((a, j) => {
      if (a.index > 5) fail(`${at}.args[${j}].index ${a.index} must be in 0..5`);
      if (!SECCOMP_OPS.has(a.op)) fail(`${at}.args[${j}].op ${quote(a.op)} is not a known operator`);
      for (const k of ["value", "valueTwo"] as const) {
        const v = a[k];
        if (v != null && BigInt(v) > U64_MAX) fail(`${at}.args[${j}].${k} ${v} does not fit in 64 bits`);
      }
    });
  });
}

/** Checks that `v` is an array of valid mounts (readMounts' input); `path` prefixes messages. */
export function validateMounts(v: unknown, path = "mounts"): Mount[] {
  checkShape(v, arr(MOUNT), path);
  const mounts = v as Mount[];
  mounts.forEach((m, i) => validateMount(m, `${path}[${i}]`));
  return mounts;
}
