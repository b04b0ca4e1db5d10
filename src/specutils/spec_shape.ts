/**
 * The structural pass of spec validation (src/specutils/validate.ts): every field runts knows, with the
 * JSON type the runtime-spec gives it, so that nothing later trips over `null`, a number where a string
 * belongs, and so on. The first mismatch is thrown as a SpecError naming the field.
 */
import { SpecError } from "./errors.ts";

type Kind = "string" | "bool" | "int" | "uint" | "uint32" | "uint16";
/** The JSON type a field must have. */
export type Schema =
  | Kind
  | { object: Record<string, Schema> }
  | { array: Schema }
  | { map: Schema }
  | { required: Schema };

const obj = (object: Record<string, Schema>): Schema => ({ object });
/** An array of `array`. */
export const arr = (array: Schema): Schema => ({ array });
const map = (m: Schema): Schema => ({ map: m });
/** A field that must be present (and not null). */
const req = (required: Schema): Schema => ({ required });

const STRINGS = arr("string");
const IDMAP = obj({ containerID: req("uint32"), hostID: req("uint32"), size: req("uint32") });
const HOOK = obj({ path: req("string"), args: STRINGS, env: STRINGS, timeout: "int" });
/** One mounts[] entry. */
export const MOUNT = obj({
  destination: req("string"),
  type: "string",
  source: "string",
  options: STRINGS,
  uidMappings: arr(IDMAP),
  gidMappings: arr(IDMAP),
});
const PROCESS = obj({
  terminal: "bool",
  consoleSize: obj({ height: req("uint"), width: req("uint") }),
  user: req(obj({
    uid: req("uint32"),
    gid: req("uint32"),
    umask: "uint32",
    additionalGids: arr("uint32"),
    username: "string",
  })),
  args: STRINGS,
  commandLine: "string",
  env: STRINGS,
  cwd: req("string"),
  capabilities: obj({
    bounding: STRINGS,
    effective: STRINGS,
    inheritable: STRINGS,
    permitted: STRINGS,
    ambient: STRINGS,
  }),
  rlimits: arr(obj({ type: req("string"), hard: req("uint"), soft: req("uint") })),
  noNewPrivileges: "bool",
  apparmorProfile: "string",
  oomScoreAdj: "int",
  scheduler: obj({
    policy: req("string"),
    nice: "int",
    priority: "int",
    flags: STRINGS,
    runtime: "uint",
    deadline: "uint",
    period: "uint",
  }),
  selinuxLabel: "string",
  ioPriority: obj({ class: req("string"), priority: req("int") }),
  execCPUAffinity: obj({ initial: "string", final: "string" }),
});
const THROTTLE = obj({ major: req("int"), minor: req("int"), rate: req("uint") });
const RESOURCES = obj({
  devices: arr(obj({ allow: req("bool"), type: "string", major: "int", minor: "int", access: "string" })),
  memory: obj({
    limit: "int",
    reservation: "int",
    swap: "int",
    kernel: "int",
    kernelTCP: "int",
    swappiness: "uint",
    disableOOMKiller: "bool",
    useHierarchy: "bool",
    checkBeforeUpdate: "bool",
  }),
  cpu: obj({
    shares: "uint",
    quota: "int",
    burst: "uint",
    period: "uint",
    realtimeRuntime: "int",
    realtimePeriod: "uint",
    cpus: "string",
    mems: "string",
    idle: "int",
  }),
  pids: obj({ limit: req("int") }),
  blockIO: obj({
    weight: "uint16",
    leafWeight: "uint16",
    weightDevice: arr(obj({ major: req("int"), minor: req("int"), weight: "uint16", leafWeight: "uint16" })),
    throttleReadBpsDevice: arr(THROTTLE),
    throttleWriteBpsDevice: arr(THROTTLE),
    throttleReadIOPSDevice: arr(THROTTLE),
    throttleWriteIOPSDevice: arr(THROTTLE),
  }),
  hugepageLimits: arr(obj({ pageSize: req("string"), limit: req("uint") })),
  network: obj({ classID: "uint32", priorities: arr(obj({ name: req("string"), priority: req("uint32") })) }),
  rdma: map(obj({ hcaHandles: "uint32", hcaObjects: "uint32" })),
  unified: map("string"),
});
const SECCOMP = obj({
  defaultAction: req("string"),
  defaultErrnoRet: "uint32",
  architectures: STRINGS,
  flags: STRINGS,
  listenerPath: "string",
  listenerMetadata: "string",
  syscalls: arr(obj({
    names: req(STRINGS),
    action: req("string"),
    errnoRet: "uint32",
    args: arr(obj({ index: req("uint"), value: req("uint"), valueTwo: "uint", op: req("string") })),
  })),
});
const LINUX = obj({
  uidMappings: arr(IDMAP),
  gidMappings: arr(IDMAP),
  timeOffsets: map(obj({ secs: "int", nanosecs: "uint32" })),
  sysctl: map("string"),
  resources: RESOURCES,
  cgroupsPath: "string",
  namespaces: arr(obj({ type: req("string"), path: "string" })),
  devices: arr(obj({
    type: req("string"),
    path: req("string"),
    major: "int",
    minor: "int",
    fileMode: "uint32",
    uid: "uint32",
    gid: "uint32",
  })),
  seccomp: SECCOMP,
  rootfsPropagation: "string",
  maskedPaths: STRINGS,
  readonlyPaths: STRINGS,
  mountLabel: "string",
  intelRdt: obj({
    closID: "string",
    schemata: "string",
    l3CacheSchema: "string",
    memBwSchema: "string",
    enableCMT: "bool",
    enableMBM: "bool",
  }),
  personality: obj({ domain: req("string"), flags: STRINGS }),
});
/** The hook stages, in lifecycle order. */
export const HOOK_STAGES = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
];
/** The whole configuration. */
export const SPEC = obj({
  ociVersion: req("string"),
  process: PROCESS,
  root: obj({ path: "string", readonly: "bool" }),
  hostname: "string",
  domainname: "string",
  mounts: arr(MOUNT),
  hooks: obj(Object.fromEntries(HOOK_STAGES.map((s) => [s, arr(HOOK)]))),
  annotations: map("string"),
  linux: LINUX,
});

type JsonObject = Record<string, unknown>;

/** A JSON object (not null, not an array). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A short, safe description of a JSON value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${quote(v)}`;
  return String(v);
}

/** JSON-quotes `s`, cut to 200 characters. */
export function quote(s: string): string {
  return JSON.stringify(s.length > 200 ? s.slice(0, 200) + "…" : s);
}

/** Throws the SpecError for `message`. */
export function fail(message: string): never {
  throw new SpecError(`spec: ${message}`);
}

function field(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

const KIND_TEXT: Record<Kind, string> = {
  string: "a string",
  bool: "a boolean",
  int: "an integer",
  uint: "a non-negative integer",
  uint32: "an integer between 0 and 4294967295",
  uint16: "an integer between 0 and 65535",
};

function kindMatches(v: unknown, kind: Kind): boolean {
  switch (kind) {
    case "string":
      return typeof v === "string";
    case "bool":
      return typeof v === "boolean";
    case "int":
      return Number.isInteger(v);
    case "uint":
      return Number.isInteger(v) && (v as number) >= 0;
    case "uint32":
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
    case "uint16":
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff;
  }
}

/** Checks that `v` has the JSON types `s` gives it, throwing the first mismatch with its path. */
export function checkShape(v: unknown, s: Schema, path: string): void {
  if (typeof s === "string") {
    if (!kindMatches(v, s)) fail(`${path} must be ${KIND_TEXT[s]}, got ${describe(v)}`);
    // Strings end up as C strings (paths, argv, env...), where a NUL would silently cut them short.
    if (typeof v === "string" && v.includes("\0")) fail(`${path} must not contain a NUL byte`);
    return;
  }
  if ("required" in s) return checkShape(v, s.required, path);
  if ("array" in s) {
    if (!Array.isArray(v)) fail(`${path} must be an array, got ${describe(v)}`);
    for (let i = 0; i < v.length; i++) checkShape(v[i], s.array, `${path}[${i}]`);
    return;
  }
  if (!isObject(v)) fail(`${path === "" ? "the configuration" : path} must be an object, got ${describe(v)}`);
  if ("map" in s) {
    for (const [k, x] of Object.entries(v)) checkShape(x, s.map, `${path}[${quote(k)}]`);
    return;
  }
  for (const [k, fs] of Object.entries(s.object)) {
    const x = Object.hasOwn(v, k) ? v[k] : undefined;
    if (x === undefined || x === null) {
      if (typeof fs === "object" && "required" in fs) fail(`${field(path, k)} must be defined`);
      continue;
    }
    checkShape(x, fs, field(path, k));
  }
}
