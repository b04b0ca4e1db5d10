/**
 * Generates the bad-input corpus: malformed and hostile config.json files and mount lists, each with a
 * fragment of the error it must produce. The corpus test (corpus_test.ts) feeds every case to `runts create`
 * and to `runts boot` and checks the error, the exit code and that nothing is left behind.
 *
 * Run it to see the corpus on disk:  deno run -A tests/security/make_corpus.ts <dir> [rootfs]
 * (one directory per case: config.json, mounts.json when the case has a mount list, expect.txt).
 */
import { defaultSpec } from "../../src/specutils/default_spec.ts";
import type { LinuxIDMapping, Spec } from "../../src/specutils/spec.ts";

/** One case. */
export interface CorpusCase {
  /** Short, unique, file-name-safe. */
  name: string;
  /** The config.json text. */
  config: string;
  /** A mount list (boot's --mounts-fd text); absent: the spec's mounts are used. */
  mounts?: string;
  /** A regular expression the error output must match (on every path that runs the case). */
  expect: string;
  /**
   * True when the case fails only inside init (after boot has spawned it), so cleanup is really tested; false
   * when validation refuses it first.
   */
  late?: boolean;
}

/** JSON-able anything, for mutations that write values of the wrong type on purpose. */
type Json = unknown;
type Mutation = (s: Record<string, Json> & Spec) => void;

const NUL = "\u0000";

function base(rootfs: string): Spec {
  const s = defaultSpec({ args: ["true"] });
  s.root = { path: rootfs, readonly: true };
  return s;
}

/** Sets `path` (dot-separated, numeric parts index arrays) in `obj` to `value`, creating objects on the way. */
function setPath(obj: Record<string, Json>, path: string, value: Json): void {
  const parts = path.split(".");
  let cur = obj as Record<string, Json>;
  for (const p of parts.slice(0, -1)) {
    if (cur[p] === undefined || cur[p] === null || typeof cur[p] !== "object") cur[p] = {};
    cur = cur[p] as Record<string, Json>;
  }
  cur[parts[parts.length - 1]] = value;
}

/** Malformed JSON text: the document itself is broken. */
const MALFORMED: Array<[string, string]> = [
  ["empty-file", ""],
  ["whitespace-only", "  \n\t "],
  ["truncated-object", '{"ociVersion": "1.0.0", "process": {'],
  ["trailing-comma", '{"ociVersion": "1.0.0",}'],
  ["single-quotes", "{'ociVersion': '1.0.0'}"],
  ["bare-word", "ociVersion"],
  ["nan-literal", '{"ociVersion": NaN}'],
  ["array-top-level", "[]"],
  ["null-top-level", "null"],
  ["number-top-level", "42"],
  ["string-top-level", '"config"'],
  ["binary-garbage", "\u0000\u0001\u0002\u00ff\u00fe{"],
  ["utf16-bom-garbage", "\ufeff\ufeff{"],
  ["deep-nesting", "[".repeat(20000) + "]".repeat(20000)],
  ["comment", '// a comment\n{"ociVersion": "1.0.0"}'],
];

/** Fields set to values of the wrong type (the structural pass must name the field). */
const WRONG_TYPES: Array<[string, string, Json, string]> = [
  ["ociversion-number", "ociVersion", 1, "ociVersion must be a string"],
  ["process-string", "process", "sh", "process must be an object"],
  ["process-array", "process", [], "process must be an object"],
  ["args-string", "process.args", "sh -c true", "process.args must be an array"],
  ["args-number-item", "process.args", [1], "process.args\\[0\\] must be a string"],
  ["args-null-item", "process.args", [null], "process.args\\[0\\] must be a string"],
  ["uid-negative", "process.user.uid", -1, "process.user.uid must be an integer"],
  ["uid-fraction", "process.user.uid", 1.5, "process.user.uid must be an integer"],
  ["uid-string", "process.user.uid", "0", "process.user.uid must be an integer"],
  ["uid-too-big", "process.user.uid", 4294967296, "process.user.uid must be an integer"],
  ["gid-missing", "process.user", { uid: 0 }, "process.user.gid must be defined"],
  ["cwd-number", "process.cwd", 5, "process.cwd must be a string"],
  ["env-string", "process.env", "A=B", "process.env must be an array"],
  ["terminal-string", "process.terminal", "yes", "process.terminal must be a boolean"],
  [
    "caps-string",
    "process.capabilities.bounding",
    "CAP_KILL",
    "process.capabilities.bounding must be an array",
  ],
  ["rlimit-type-number", "process.rlimits", [{ type: 7, soft: 1, hard: 1 }], "process.rlimits\\[0\\].type"],
  [
    "rlimit-negative",
    "process.rlimits",
    [{ type: "RLIMIT_NOFILE", soft: -1, hard: 1 }],
    "rlimits\\[0\\].soft",
  ],
  ["oom-fraction", "process.oomScoreAdj", 0.5, "process.oomScoreAdj must be an integer"],
  ["root-string", "root", "/", "root must be an object"],
  ["root-path-number", "root.path", 1, "root.path must be a string"],
  ["mounts-object", "mounts", {}, "mounts must be an array"],
  ["mount-destination-number", "mounts", [{ destination: 1 }], "mounts\\[0\\].destination must be a string"],
  ["mount-options-string", "mounts", [{ destination: "/x", options: "ro" }], "mounts\\[0\\].options"],
  ["namespace-type-number", "linux.namespaces", [{ type: 1 }], "linux.namespaces\\[0\\].type"],
  ["sysctl-array", "linux.sysctl", [], "linux.sysctl must be an object"],
  [
    "sysctl-value-number",
    "linux.sysctl",
    { "net.ipv4.ip_forward": 1 },
    'linux.sysctl\\["net.ipv4.ip_forward"\\]',
  ],
  [
    "seccomp-syscalls-object",
    "linux.seccomp",
    { defaultAction: "SCMP_ACT_ALLOW", syscalls: {} },
    "syscalls must",
  ],
  ["seccomp-arg-value-string", "linux.seccomp", {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{
      names: ["read"],
      action: "SCMP_ACT_ERRNO",
      args: [{ index: 0, value: "1", op: "SCMP_CMP_EQ" }],
    }],
  }, "args\\[0\\].value"],
  ["hooks-array", "hooks", [], "hooks must be an object"],
  ["annotation-number", "annotations", { a: 1 }, 'annotations\\["a"\\] must be a string'],
  ["devices-object", "linux.devices", { path: "/dev/x" }, "linux.devices must be an array"],
  ["personality-string", "linux.personality", "LINUX", "linux.personality must be an object"],
];

const rule = (names: string[], action: string, extra: Record<string, Json> = {}) => ({
  names,
  action,
  ...extra,
});
const profile = (extra: Record<string, Json>) => ({ defaultAction: "SCMP_ACT_ALLOW", ...extra });
const withNsPath = (type: string, path: string): Mutation => (s) => {
  s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === type ? { type: n.type, path } : n));
};
const dropNs = (type: string): Mutation => (s) => {
  s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== type);
};

const range = (containerID: number, hostID: number, size: number) => ({ containerID, hostID, size });
const userns = (uids: LinuxIDMapping[], gids: LinuxIDMapping[] = uids): Mutation => (s) => {
  s.linux!.namespaces!.push({ type: "user" });
  s.linux!.uidMappings = uids;
  s.linux!.gidMappings = gids;
};

const idmapped = (source: string, options: string[]) => ({
  destination: "/x",
  type: "bind",
  source,
  options,
  uidMappings: [range(0, 100000, 10)],
  gidMappings: [range(0, 100000, 10)],
});

/** Well-formed documents with hostile or impossible settings. */
const HOSTILE: Array<[string, Mutation, string, boolean?]> = [
  ["oci-version-2", (s) => (s.ociVersion = "2.0.0"), 'ociVersion "2.0.0" is not supported'],
  ["no-process", (s) => delete s.process, "Process must be defined"],
  ["empty-args", (s) => (s.process!.args = []), "Process.Arg must be defined"],
  ["empty-arg0", (s) => (s.process!.args = [""]), "args\\[0\\] must not be empty"],
  ["nul-in-arg", (s) => (s.process!.args = ["sh", `-c${NUL}rm -rf /`]), "must not contain a NUL byte"],
  ["nul-in-env", (s) => s.process!.env!.push(`X=1${NUL}LD_PRELOAD=/evil.so`), "must not contain a NUL byte"],
  ["relative-cwd", (s) => (s.process!.cwd = "tmp"), 'process.cwd "tmp" must be absolute'],
  ["empty-cwd", (s) => (s.process!.cwd = ""), "process.cwd must not be empty"],
  ["env-without-equals", (s) => s.process!.env!.push("JUSTANAME"), "must have the form KEY=VALUE"],
  [
    "unknown-capability",
    (s) => s.process!.capabilities!.bounding!.push("CAP_EVERYTHING"),
    "invalid capability",
  ],
  ["unknown-rlimit", (s) => (s.process!.rlimits = [{ type: "RLIMIT_ALL", soft: 1, hard: 1 }]), "RLIMIT_ALL"],
  [
    "duplicate-rlimit",
    (s) => s.process!.rlimits!.push({ type: "RLIMIT_NOFILE", soft: 1, hard: 1 }),
    "duplicate rlimit",
  ],
  [
    "rlimit-soft-above-hard",
    (s) => (s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 9, hard: 1 }]),
    "exceeds hard",
  ],
  ["oom-below-range", (s) => (s.process!.oomScoreAdj = -1001), "oomScoreAdj -1001"],
  ["oom-above-range", (s) => (s.process!.oomScoreAdj = 1001), "oomScoreAdj 1001"],
  [
    "selinux-label",
    (s) => (s.process!.selinuxLabel = "system_u:system_r:spc_t:s0"),
    "SELinux is not supported",
  ],
  [
    "too-many-groups",
    (s) => (s.process!.user.additionalGids = Array(65537).fill(1)),
    "additionalGids has 65537",
  ],
  ["hostname-without-uts", (s) => {
    dropNs("uts")(s);
    s.hostname = "evil";
  }, "without a private UTS namespace"],
  ["hostname-too-long", (s) => (s.hostname = "h".repeat(65)), "longer than 64 bytes"],
  ["nul-in-hostname", (s) => (s.hostname = `a${NUL}b`), "must not contain a NUL byte"],
  ["no-root", (s) => delete s.root, "Root must be defined"],
  ["empty-root-path", (s) => (s.root = { path: "" }), "Root.Path must be defined"],
  ["missing-root", (s) => (s.root = { path: "/nonexistent/runts-corpus-root" }), "runts-corpus-root"],
  ["root-is-a-file", (s) => (s.root = { path: "/etc/hostname" }), "hostname.*(ENOTDIR|not a directory)"],
  ["windows-section", (s) => (s.windows = {}), "Spec.Windows is not supported"],
  ["solaris-section", (s) => (s.solaris = {}), "Spec.Solaris is not supported"],
  [
    "relative-mount-destination",
    (s) => s.mounts!.push({ destination: "mnt", type: "tmpfs" }),
    "must be absolute",
  ],
  [
    "empty-mount-destination",
    (s) => s.mounts!.push({ destination: "", type: "tmpfs" }),
    "destination must not be empty",
  ],
  [
    "bind-without-source",
    (s) => s.mounts!.push({ destination: "/x", type: "bind" }),
    "source must be defined",
  ],
  [
    "two-propagations",
    (s) => s.mounts!.push({ destination: "/x", type: "tmpfs", options: ["shared", "private"] }),
    "at most one propagation",
  ],
  [
    "idmap-without-userns",
    (s) => s.mounts!.push({ destination: "/x", type: "bind", source: "/tmp", options: ["idmap"] }),
    "idmap without uidMappings and gidMappings of its own needs the container's user namespace maps",
  ],
  [
    "idmap-uid-only",
    (s) => s.mounts!.push({ ...idmapped("/tmp", ["idmap"]), gidMappings: undefined }),
    "uidMappings and gidMappings must be given together",
  ],
  [
    "idmap-and-ridmap",
    (s) => s.mounts!.push(idmapped("/tmp", ["rbind", "idmap", "ridmap"])),
    "at most one of idmap",
  ],
  [
    "idmap-not-bind",
    (s) => s.mounts!.push({ ...idmapped("tmpfs", ["idmap"]), type: "tmpfs" }),
    "idmapped mounts are supported for bind mounts only",
  ],
  [
    "idmap-overlap",
    (s) =>
      s.mounts!.push({ ...idmapped("/tmp", ["idmap"]), gidMappings: [range(0, 1, 10), range(5, 100, 1)] }),
    "gidMappings\\[1\\] overlaps",
  ],
  [
    "idmap-size-0",
    (s) => s.mounts!.push({ ...idmapped("/tmp", []), uidMappings: [range(0, 1, 0)] }),
    "size must be at least 1",
  ],
  [
    "idmap-unsupported-fs",
    (s) => s.mounts!.push(idmapped("/proc/sys", ["bind", "idmap"])),
    "idmapping /proc/sys: mount_setattr.*EINVAL",
    true,
  ],
  [
    "bind-missing-source",
    (s) => s.mounts!.push({ destination: "/x", type: "bind", source: "/nonexistent/runts-corpus-src" }),
    "runts-corpus-src",
  ],
  // Destinations that exist in the rootfs: a case must not leave directories in the shared test rootfs.
  [
    "unknown-fstype",
    (s) => s.mounts!.push({ destination: "/tmp", type: "runtsnosuchfs", source: "none" }),
    "mount /tmp: .*ENODEV",
    true,
  ],
  [
    "mount-on-magic-link",
    (s) => s.mounts!.push({ destination: "/proc/self/fd/1", type: "tmpfs", source: "tmpfs" }),
    "mount /proc/self/fd/1: .*(ELOOP|ENOENT)",
    true,
  ],
  [
    "mount-over-a-file-as-dir",
    (s) => s.mounts!.push({ destination: "/etc/hostname/x", type: "tmpfs", source: "tmpfs" }),
    "mount /etc/hostname/x: .*ENOTDIR",
    true,
  ],
  [
    "unknown-namespace",
    (s) => s.linux!.namespaces!.push({ type: "mnt" as "mount" }),
    "is not a namespace type",
  ],
  ["duplicate-namespace", (s) => s.linux!.namespaces!.push({ type: "ipc" }), "duplicate namespace type"],
  ["relative-namespace-path", withNsPath("network", "proc/1/ns/net"), "must be absolute"],
  ["missing-namespace-path", withNsPath("ipc", "/proc/999999999/ns/ipc"), "999999999", true],
  ["userns-without-maps", (s) => s.linux!.namespaces!.push({ type: "user" }), "needs linux.uidMappings and"],
  ["userns-only-uid-map", userns([range(0, 100000, 65536)], []), "got no gidMappings"],
  ["userns-empty-map", userns([], [range(0, 100000, 65536)]), "got no uidMappings"],
  ["userns-size-0", userns([range(0, 100000, 0)]), "uidMappings\\[0\\].size must be at least 1"],
  [
    "userns-overlap-container",
    userns([range(0, 100000, 1000), range(500, 300000, 1000)]),
    "uidMappings\\[1\\] overlaps linux.uidMappings\\[0\\] on the container side",
  ],
  [
    "userns-overlap-host",
    userns([range(0, 100000, 1000), range(5000, 100500, 10)]),
    "overlaps linux.uidMappings\\[0\\] on the host side",
  ],
  ["userns-wraps", userns([range(0, 4294967000, 1000)]), "goes past the highest id"],
  [
    "userns-too-many-ranges",
    userns(Array.from({ length: 341 }, (_, i) => range(i, 100000 + i, 1))),
    "at most 340",
  ],
  ["userns-root-unmapped", userns([range(1, 100001, 65535)]), "must map container uid 0"],
  [
    "userns-user-unmapped",
    (s) => {
      userns([range(0, 100000, 1000)])(s);
      s.process!.user = { uid: 5000, gid: 0 };
    },
    "process.user.uid 5000 is not mapped",
  ],
  [
    "userns-group-unmapped",
    (s) => {
      userns([range(0, 100000, 1000)])(s);
      s.process!.user = { uid: 0, gid: 0, additionalGids: [7000] };
    },
    "gid 7000 is not mapped",
  ],
  [
    "userns-late-mount-failure",
    (s) => {
      userns([range(0, 100000, 65536)])(s);
      s.mounts!.push({ destination: "/tmp", type: "runtsnosuchfs", source: "none" });
    },
    "mount /tmp: .*ENODEV",
    true,
  ],
  [
    "userns-path-not-userns",
    (s) => s.linux!.namespaces!.push({ type: "user", path: "/proc/self/ns/net" }),
    "setns.*EINVAL",
    true,
  ],
  [
    "timens-join-with-offsets",
    (s) => {
      s.linux!.namespaces!.push({ type: "time", path: "/proc/1/ns/time" });
      s.linux!.timeOffsets = { boottime: { secs: 1 } };
    },
    "joining a time namespace by path is not supported",
  ],
  [
    "mappings-without-userns",
    (s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }]),
    "requires a user namespace",
  ],
  [
    "time-offsets-without-timens",
    (s) => (s.linux!.timeOffsets = { monotonic: { secs: 1 } }),
    "requires a time namespace",
  ],
  ["sysctl-core-pattern", (s) => (s.linux!.sysctl = { "kernel.core_pattern": "|/tmp/pwn" }), "not allowed"],
  ["sysctl-modprobe", (s) => (s.linux!.sysctl = { "kernel.modprobe": "/tmp/pwn" }), "not allowed"],
  ["sysctl-vm", (s) => (s.linux!.sysctl = { "vm.drop_caches": "3" }), "not allowed"],
  ["sysctl-climb", (s) => (s.linux!.sysctl = { "net/../../kernel/core_pattern": "x" }), "not a sysctl name"],
  ["sysctl-net-without-netns", (s) => {
    dropNs("network")(s);
    s.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
  }, "without a network namespace"],
  ["sysctl-ipc-without-ipcns", (s) => {
    dropNs("ipc")(s);
    s.linux!.sysctl = { "kernel.msgmax": "1" };
  }, "without a ipc namespace"],
  ["sysctl-empty-key", (s) => (s.linux!.sysctl = { "": "1" }), "empty key"],
  [
    "device-bad-type",
    (s) => (s.linux!.devices = [{ path: "/dev/x", type: "z", major: 1, minor: 1 }]),
    "must be one of c, b, u, p",
  ],
  [
    "device-relative-path",
    (s) => (s.linux!.devices = [{ path: "dev/x", type: "c", major: 1, minor: 3 }]),
    "must be absolute",
  ],
  [
    "device-without-numbers",
    (s) => (s.linux!.devices = [{ path: "/dev/x", type: "c" }]),
    "major and minor must be defined",
  ],
  [
    "cgroup-device-bad-access",
    (s) => (s.linux!.resources = { devices: [{ allow: true, access: "rwx" }] }),
    "may only contain r, w and m",
  ],
  [
    "seccomp-unknown-action",
    (s) => (s.linux!.seccomp = { defaultAction: "SCMP_ACT_MAYBE" }),
    "not a known seccomp action",
  ],
  [
    "seccomp-notify",
    (
      s,
    ) => (s.linux!.seccomp = profile({
      listenerPath: "/run/agent.sock",
      syscalls: [rule(["mkdir"], "SCMP_ACT_NOTIFY")],
    })),
    "NOTIFY is not supported",
  ],
  [
    "seccomp-unknown-arch",
    (s) => (s.linux!.seccomp = profile({ architectures: ["SCMP_ARCH_PDP11"] })),
    "not a known architecture",
  ],
  [
    "seccomp-arch-libseccomp-lacks",
    (s) => (s.linux!.seccomp = profile({ architectures: ["SCMP_ARCH_LOONGARCH64"] })),
    "not supported by libseccomp",
    true,
  ],
  [
    "seccomp-unknown-flag",
    (s) => (s.linux!.seccomp = profile({ flags: ["SECCOMP_FILTER_FLAG_YOLO"] })),
    "not a known seccomp flag",
  ],
  [
    "seccomp-bad-op",
    (
      s,
    ) => (s.linux!.seccomp = profile({
      syscalls: [rule(["read"], "SCMP_ACT_ERRNO", { args: [{ index: 0, value: 1, op: "SCMP_CMP_APPROX" }] })],
    })),
    "not a known operator",
  ],
  [
    "seccomp-arg-index-6",
    (
      s,
    ) => (s.linux!.seccomp = profile({
      syscalls: [rule(["read"], "SCMP_ACT_ERRNO", { args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }] })],
    })),
    "must be in 0..5",
  ],
  [
    "seccomp-arg-above-u64",
    (
      s,
    ) => (s.linux!.seccomp = profile({
      syscalls: [
        rule(["read"], "SCMP_ACT_ERRNO", { args: [{ index: 0, value: 2 ** 65, op: "SCMP_CMP_EQ" }] }),
      ],
    })),
    "does not fit in 64 bits",
  ],
  [
    "seccomp-errno-on-allow",
    (s) => (s.linux!.seccomp = profile({ syscalls: [rule(["read"], "SCMP_ACT_ALLOW", { errnoRet: 1 })] })),
    "only meaningful with SCMP_ACT_ERRNO",
  ],
  [
    "seccomp-errno-too-big",
    (
      s,
    ) => (s.linux!.seccomp = profile({ syscalls: [rule(["read"], "SCMP_ACT_ERRNO", { errnoRet: 70000 })] })),
    "must be at most 4095",
  ],
  [
    "seccomp-default-errno-on-allow",
    (s) => (s.linux!.seccomp = profile({ defaultErrnoRet: 1 })),
    "defaultErrnoRet is only meaningful",
  ],
  [
    "seccomp-empty-names",
    (s) => (s.linux!.seccomp = profile({ syscalls: [rule([], "SCMP_ACT_ERRNO")] })),
    "names must not be empty",
  ],
  [
    "seccomp-empty-name",
    (s) => (s.linux!.seccomp = profile({ syscalls: [rule([""], "SCMP_ACT_ERRNO")] })),
    "must not be empty",
  ],
  [
    "seccomp-no-default",
    (s) => ((s.linux as Record<string, Json>).seccomp = { syscalls: [] }),
    "defaultAction must be defined",
  ],
  ["personality-bsd", (s) => (s.linux!.personality = { domain: "BSD" }), "must be LINUX or LINUX32"],
  [
    "personality-flags",
    (s) => (s.linux!.personality = { domain: "LINUX", flags: ["READ_IMPLIES_EXEC"] }),
    "no flags are supported",
  ],
  [
    "bad-rootfs-propagation",
    (s) => (s.linux!.rootfsPropagation = "everywhere"),
    'rootfsPropagation "everywhere"',
  ],
  ["relative-masked-path", (s) => s.linux!.maskedPaths!.push("proc/kcore"), "linux.maskedPaths\\[10\\]"],
  ["relative-readonly-path", (s) => s.linux!.readonlyPaths!.push("proc"), "linux.readonlyPaths\\[5\\]"],
  ["relative-hook", (s) => (s.hooks = { prestart: [{ path: "bin/true" }] }), "hooks.prestart\\[0\\].path"],
  [
    "hook-zero-timeout",
    (s) => (s.hooks = { poststart: [{ path: "/bin/true", timeout: 0 }] }),
    "timeout 0 must be positive",
  ],
  [
    "cri-container-without-sandbox",
    (s) => (s.annotations = { "io.kubernetes.cri.container-type": "container" }),
    "requires a sandbox ID",
  ],
  [
    "cwd-escape-through-fd",
    (s) => (s.process!.cwd = "/proc/self/fd/6"),
    'process.cwd "/proc/self/fd/6"',
    true,
  ],
  [
    "missing-executable",
    (s) => (s.process!.args = ["/no/such/runts-corpus-binary"]),
    "runts-corpus-binary",
    true,
  ],
  ["terminal-without-console", (s) => (s.process!.terminal = true), "console socket|not a terminal", true],
];

/** Broken mount lists (boot's --mounts-fd), with a valid spec around them. */
const MOUNT_LISTS: Array<[string, string, string]> = [
  ["mounts-truncated", "[{", "mount"],
  ["mounts-object", "{}", "array"],
  ["mounts-string", '"/etc"', "array"],
  ["mounts-number-item", "[1]", "mounts\\[0\\] must be an object"],
  ["mounts-destination-number", '[{"destination": 1}]', "mounts\\[0\\].destination must be a string"],
  ["mounts-relative", '[{"destination": "x", "type": "tmpfs"}]', "must be absolute"],
  ["mounts-bind-no-source", '[{"destination": "/x", "type": "bind"}]', "source must be defined"],
  [
    "mounts-idmap",
    '[{"destination": "/x", "type": "tmpfs", "options": ["ridmap"]}]',
    "idmapped mounts are supported for bind mounts only",
  ],
  [
    "mounts-options-object",
    '[{"destination": "/x", "options": {}}]',
    "mounts\\[0\\].options must be an array",
  ],
  ["mounts-nul", '[{"destination": "/x\\u0000/../../etc", "type": "tmpfs"}]', "must not contain a NUL byte"],
  ["mounts-garbage", "\u0000\u0001", "mount"],
  [
    "mounts-two-propagations",
    '[{"destination": "/x", "type": "tmpfs", "options": ["rshared", "rslave"]}]',
    "propagation",
  ],
];

/** The whole corpus for a spec whose root is `rootfs`. */
export function makeCorpus(rootfs: string): CorpusCase[] {
  const cases: CorpusCase[] = [];
  for (const [name, text] of MALFORMED) {
    cases.push({ name: `json-${name}`, config: text, expect: "spec|JSON|json" });
  }
  for (const [name, path, value, expect] of WRONG_TYPES) {
    const s = base(rootfs) as Record<string, Json> & Spec;
    setPath(s, path, value);
    cases.push({ name: `type-${name}`, config: JSON.stringify(s), expect });
  }
  for (const [name, mutate, expect, late] of HOSTILE) {
    const s = base(rootfs) as Record<string, Json> & Spec;
    mutate(s);
    cases.push({ name: `spec-${name}`, config: JSON.stringify(s), expect, late: late ?? false });
  }
  for (const [name, text, expect] of MOUNT_LISTS) {
    cases.push({ name, config: JSON.stringify(base(rootfs)), mounts: text, expect });
  }
  return cases;
}

if (import.meta.main) {
  const [dir, rootfs = "/var/lib/runts-corpus-rootfs"] = Deno.args;
  if (!dir) {
    console.error("usage: make_corpus.ts <dir> [rootfs]");
    Deno.exit(2);
  }
  const cases = makeCorpus(rootfs);
  cases.forEach((c, i) => {
    const d = `${dir}/${String(i).padStart(3, "0")}-${c.name}`;
    Deno.mkdirSync(d, { recursive: true });
    Deno.writeTextFileSync(`${d}/config.json`, c.config);
    if (c.mounts !== undefined) Deno.writeTextFileSync(`${d}/mounts.json`, c.mounts);
    Deno.writeTextFileSync(`${d}/expect.txt`, c.expect + "\n");
  });
  console.log(`${cases.length} cases in ${dir}`);
}
