import assert from "node:assert/strict";
import { linux, O, SyscallError } from "../ffi/mod.ts";
import { fakeKernel } from "../ffi/fake.ts";
import {
  logSpec,
  normalizeSpec,
  readMounts,
  readSpecFromFile,
  SpecError,
  validateSpec,
} from "../src/specutils/specutils.ts";
import {
  CAPABILITIES,
  capMask,
  capNames,
  capNumber,
  lastCap,
  resetLastCapCache,
  supportedMask,
} from "../src/specutils/capabilities.ts";
import { defaultSpec } from "../src/specutils/default_spec.ts";
import { getNS, hasNS, NAMESPACE_FLAGS, newNamespaceFlags } from "../src/specutils/namespaces.ts";
import { absOf, clean, join } from "../src/specutils/path.ts";
import { CLONE } from "../ffi/consts.ts";
import type { Spec } from "../src/specutils/spec.ts";

/** A mutable deep copy of the default spec as plain JSON. */
// deno-lint-ignore no-explicit-any
function base(): Record<string, any> {
  return JSON.parse(JSON.stringify(defaultSpec()));
}

function expectSpecError(spec: unknown, fragment: string): void {
  assert.throws(
    () => validateSpec(spec as Spec),
    (e: unknown) => {
      assert.ok(e instanceof SpecError, `expected SpecError, got ${e}`);
      assert.ok(
        e.message.includes(fragment),
        `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(fragment)}`,
      );
      return true;
    },
  );
}

Deno.test("defaultSpec passes validation, plain and rootless", () => {
  assert.deepEqual(validateSpec(defaultSpec()), []);
  const rootless = defaultSpec({ rootless: true, uid: 1000, gid: 1000 });
  assert.deepEqual(validateSpec(rootless), []);
  assert.equal(hasNS(rootless, "network"), false);
  assert.equal(hasNS(rootless, "user"), true);
  assert.deepEqual(rootless.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.ok(!rootless.mounts?.some((m) => m.destination === "/sys/fs/cgroup"));
  assert.equal(rootless.mounts?.find((m) => m.destination === "/sys")?.type, "none");
  assert.ok(!rootless.mounts?.some((m) => m.options?.some((o) => o.startsWith("gid="))));
  assert.equal(defaultSpec().process?.terminal, false);
  assert.deepEqual(defaultSpec({ args: ["echo", "hi"] }).process?.args, ["echo", "hi"]);
});

// deno-lint-ignore no-explicit-any
type Mutator = (s: Record<string, any>) => void;
const RULES: Array<[string, Mutator, string]> = [
  ["no process", (s) => delete s.process, "Spec.Process must be defined"],
  ["null process", (s) => (s.process = null), "Spec.Process must be defined"],
  ["no args", (s) => delete s.process.args, "Spec.Process.Arg must be defined"],
  ["empty args", (s) => (s.process.args = []), "Spec.Process.Arg must be defined"],
  ["empty argv0", (s) => (s.process.args = [""]), "process.args[0] must not be empty"],
  ["no root", (s) => delete s.root, "Spec.Root must be defined"],
  ["empty root path", (s) => (s.root.path = ""), "Spec.Root.Path must be defined"],
  ["selinux", (s) => (s.process.selinuxLabel = "system_u:system_r:container_t"), "SELinux is not supported"],
  ["bad propagation", (s) => (s.linux.rootfsPropagation = "everywhere"), "linux.rootfsPropagation"],
  [
    "relative destination",
    (s) => (s.mounts[2].destination = "proc"),
    'spec: mounts[2].destination "proc" must be absolute',
  ],
  [
    "idmap option",
    (s) => s.mounts.push({ destination: "/data", type: "bind", source: "/x", options: ["idmap"] }),
    "mounts[7]: idmap without uidMappings and gidMappings of its own needs the container's user namespace maps",
  ],
  [
    "idmap mappings",
    (s) =>
      s.mounts.push({
        destination: "/data",
        type: "bind",
        source: "/x",
        uidMappings: [{ containerID: 0, hostID: 1, size: 1 }],
      }),
    "mounts[7]: uidMappings and gidMappings must be given together",
  ],
  [
    "two propagations",
    (s) => s.mounts.push({ destination: "/data", source: "/x", options: ["rbind", "shared", "rslave"] }),
    "at most one propagation type",
  ],
  [
    "bind without source",
    (s) => s.mounts.push({ destination: "/data", type: "bind" }),
    "mounts[7].source must be defined",
  ],
  [
    "unknown namespace",
    (s) => s.linux.namespaces.push({ type: "pidfd" }),
    'linux.namespaces[6].type "pidfd"',
  ],
  ["duplicate namespace", (s) => s.linux.namespaces.push({ type: "pid" }), 'duplicate namespace type "pid"'],
  ["relative ns path", (s) => (s.linux.namespaces[0].path = "proc/1/ns/pid"), "linux.namespaces[0].path"],
  [
    "masked and read-only paths without a mount namespace (runc refuses too)",
    (s) => (s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== "mount")),
    "linux.maskedPaths: unable to restrict sys entries without a private MNT namespace",
  ],
  [
    "negative uid",
    (s) => (s.process.user.uid = -1),
    "process.user.uid must be an integer between 0 and 4294967295",
  ],
  ["fractional gid", (s) => (s.process.user.gid = 1.5), "process.user.gid"],
  ["string uid", (s) => (s.process.user.uid = "0"), "process.user.uid"],
  ["missing user", (s) => delete s.process.user, "process.user must be defined"],
  ["env without =", (s) => s.process.env.push("FOO"), 'process.env[2] "FOO" must have the form KEY=VALUE'],
  ["env empty key", (s) => s.process.env.push("=x"), "process.env[2]"],
  ["unknown rlimit", (s) => s.process.rlimits.push({ type: "RLIMIT_FOO", hard: 1, soft: 1 }), "RLIMIT_FOO"],
  ["prototype rlimit", (s) => (s.process.rlimits[0].type = "toString"), '"toString" is not a known RLIMIT_*'],
  ["soft > hard", (s) => (s.process.rlimits[0].soft = 2048), "soft limit 2048 exceeds hard limit 1024"],
  [
    "duplicate rlimit",
    (s) => s.process.rlimits.push({ type: "RLIMIT_NOFILE", hard: 1, soft: 1 }),
    "duplicate",
  ],
  ["unknown capability", (s) => s.process.capabilities.ambient = ["CAP_FLY"], 'invalid capability "CAP_FLY"'],
  ["lowercase capability", (s) => s.process.capabilities.bounding.push("cap_kill"), "bounding[3]"],
  [
    "hostname without uts",
    (s) => (s.linux.namespaces = [{ type: "pid" }]),
    "unable to set hostname without a private UTS namespace",
  ],
  ["domainname without uts", (s) => {
    delete s.hostname;
    s.domainname = "example";
    s.linux.namespaces = [];
  }, "unable to set domainname"],
  ["long hostname", (s) => (s.hostname = "h".repeat(65)), "longer than 64 bytes"],
  ["ociVersion 2", (s) => (s.ociVersion = "2.0.0"), 'ociVersion "2.0.0" is not supported'],
  ["no ociVersion", (s) => delete s.ociVersion, "ociVersion must be defined"],
  [
    "unknown container-type",
    (s) => (s.annotations = { "io.kubernetes.cri.container-type": "pod" }),
    "unknown container-type",
  ],
  [
    "container without sandbox id",
    (s) => (s.annotations = { "io.kubernetes.cri-o.ContainerType": "container" }),
    "requires a sandbox ID",
  ],
  ["relative cwd", (s) => (s.process.cwd = "tmp"), 'process.cwd "tmp" must be absolute'],
  ["NUL in arg", (s) => (s.process.args = ["sh\0x"]), "must not contain a NUL byte"],
  [
    "mappings without userns",
    (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }]),
    "requires a user namespace",
  ],
  ["relative masked path", (s) => s.linux.maskedPaths.push("proc/kcore"), "linux.maskedPaths[10]"],
  [
    "bad device type",
    (s) => (s.linux.devices = [{ type: "x", path: "/dev/x", major: 1, minor: 1 }]),
    "linux.devices[0].type",
  ],
  ["bad seccomp action", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_MAYBE" }), "seccomp action"],
  ["seccomp arg index", (s) => (s.linux.seccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{
      names: ["read"],
      action: "SCMP_ACT_ERRNO",
      args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }],
    }],
  }), "index 6 must be in 0..5"],
  ["windows", (s) => (s.windows = {}), "Spec.Windows is not supported"],
  ["hook relative path", (s) => (s.hooks = { poststop: [{ path: "bin/true" }] }), "hooks.poststop[0].path"],
  ["oom score", (s) => (s.process.oomScoreAdj = 1001), "process.oomScoreAdj"],
  ["personality", (s) => (s.linux.personality = { domain: "BSD" }), "linux.personality.domain"],
];

for (const [name, mutate, fragment] of RULES) {
  Deno.test(`validateSpec rejects: ${name}`, () => {
    const s = base();
    mutate(s);
    expectSpecError(s, fragment);
  });
}

Deno.test("validateSpec accepts what natively works", () => {
  const s = base();
  s.linux.rootfsPropagation = "rshared";
  s.mounts.push({
    destination: "/data",
    type: "bind",
    source: "/srv",
    options: ["rbind", "rro", "nosuid", "shared"],
  });
  s.mounts.push({ destination: "/x", source: "/srv", options: ["bind", "ro"] });
  s.process.rlimits.push({ type: "RLIMIT_CORE", hard: 18446744073709551615, soft: 0 });
  s.process.capabilities.bounding.push("CAP_CHECKPOINT_RESTORE");
  s.linux.namespaces.push({ type: "time" });
  s.annotations = { "io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "abc" };
  s.process.noNewPrivileges = false;
  s.hostname = null; // a null member reads as absent
  assert.deepEqual(validateSpec(s as Spec), []);
});

Deno.test("validateSpec accepts filesystem options on a bind mount and warns that they are ignored", () => {
  // runtime-tools' `mounts` gives every mount, binds too, "mode=755" and "size=1k"; runc ignores them there.
  const s = base();
  s.mounts.push({ destination: "/data", source: "/x", options: ["nosuid", "mode=755", "size=1k", "rbind"] });
  assert.deepEqual(validateSpec(s as Spec), [
    'mounts[7]: filesystem options "mode=755,size=1k" are ignored on a bind mount',
  ]);
});

Deno.test("validateSpec warns about AppArmor instead of failing", () => {
  const s = base();
  s.process.apparmorProfile = "docker-default";
  const warnings = validateSpec(s as Spec);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /AppArmor/);
});

/** Every value shape a hostile config may put anywhere. */
const HOSTILE: unknown[] = [
  null,
  0,
  -1,
  1.5,
  1e400,
  "",
  "x",
  "/abs",
  true,
  [],
  {},
  [null],
  [1],
  ["x"],
  [{}],
  { a: null },
  { type: 1 },
  { destination: 5 },
  { constructor: 1 },
  "toString",
  "__proto__",
];

/** Every path (as key lists) into an object, to a limited depth. */
function paths(
  v: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(prefix);
  if (prefix.length >= 5) return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      paths(x, [...prefix, k], out);
    }
  }
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  // deno-lint-ignore no-explicit-any
  let cur: any = root;
  for (const k of path.slice(0, -1)) cur = cur[k];
  cur[path[path.length - 1]] = value;
  return root;
}

function assertNoCrash(candidate: unknown, what: string): void {
  try {
    validateSpec(candidate as Spec);
  } catch (e) {
    if (!(e instanceof SpecError)) throw new Error(`${what}: ${e}`, { cause: e });
    return;
  }
  // Accepted: the helpers that consume a validated spec must cope too.
  const spec = candidate as Spec;
  normalizeSpec(spec, "/bundle");
  newNamespaceFlags(spec);
  const caps = spec.process?.capabilities;
  for (const set of [caps?.bounding, caps?.effective, caps?.inheritable, caps?.permitted, caps?.ambient]) {
    capMask(set);
  }
  logSpec(spec, { debug: () => {} });
}

Deno.test("hostile shapes anywhere never throw anything but SpecError", () => {
  const spec = JSON.parse(JSON.stringify(defaultSpec()));
  spec.linux.seccomp = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{
      names: ["read"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }],
    }],
  };
  spec.linux.devices = [{ type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o666 }];
  spec.linux.resources.memory = { limit: 1 };
  spec.linux.resources.blockIO = { throttleReadBpsDevice: [{ major: 1, minor: 1, rate: 1 }] };
  spec.hooks = { prestart: [{ path: "/bin/true", args: ["true"], timeout: 1 }] };
  spec.annotations = { a: "b" };
  spec.linux.timeOffsets = { monotonic: { secs: 1 } };
  spec.process.scheduler = { policy: "SCHED_OTHER" };
  spec.process.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 4 };
  spec.process.user.additionalGids = [1];
  // The extended spec itself is acceptable but for the missing time namespace; add it.
  spec.linux.namespaces.push({ type: "time" });
  assert.deepEqual(validateSpec(spec), []);
  let cases = 0;
  for (const path of paths(spec)) {
    for (const value of HOSTILE) {
      const candidate = setAt(JSON.parse(JSON.stringify(spec)), path, value);
      assertNoCrash(candidate, `${path.join(".")} = ${JSON.stringify(value)}`);
      cases++;
    }
  }
  assert.ok(cases > 2000, `only ${cases} cases`);
});

Deno.test("huge arrays and deep nesting are handled", () => {
  const s = base();
  s.process.env = Array.from({ length: 200_000 }, (_, i) => `V${i}=${i}`);
  s.mounts = Array.from(
    { length: 20_000 },
    (_, i) => ({ destination: `/m${i}`, type: "tmpfs", source: "tmpfs" }),
  );
  assert.deepEqual(validateSpec(s as Spec), []);
  s.process.env.push(42);
  expectSpecError(s, "process.env[200000] must be a string, got 42");
  let deep: unknown = "x";
  for (let i = 0; i < 5000; i++) deep = { a: deep };
  const t = base();
  t.annotations = deep;
  expectSpecError(t, 'annotations["a"] must be a string, got an object');
});

/** Writes `text` to a temp file and opens it read-only with the real kernel. */
function openTemp(text: string): { fd: number; path: string } {
  const path = Deno.makeTempFileSync({ suffix: ".json" });
  Deno.writeTextFileSync(path, text);
  return { fd: linux.open(path, O.RDONLY | O.CLOEXEC), path };
}

Deno.test("readSpecFromFile seeks to 0, validates and makes paths absolute", () => {
  const spec = defaultSpec();
  spec.mounts!.push({ destination: "/data", type: "bind", source: "data/../shared", options: ["rbind"] });
  spec.mounts!.push({ destination: "/abs", source: "/srv", options: ["bind"] });
  const { fd, path } = openTemp(JSON.stringify(spec));
  try {
    linux.read(fd, new Uint8Array(100)); // move the offset, as a previous stage would have
    for (let round = 0; round < 2; round++) {
      const got = readSpecFromFile(linux, "/run/bundle/", fd);
      assert.equal(got.root?.path, "/run/bundle/rootfs");
      assert.equal(got.mounts?.find((m) => m.destination === "/data")?.source, "/run/bundle/shared");
      assert.equal(got.mounts?.find((m) => m.destination === "/abs")?.source, "/srv");
      assert.equal(got.mounts?.find((m) => m.destination === "/proc")?.source, "proc");
      assert.deepEqual(got.process?.args, ["sh"]);
    }
  } finally {
    linux.close(fd);
    Deno.removeSync(path);
  }
});

Deno.test("readSpecFromFile drops null members and reports warnings", () => {
  const raw = base();
  raw.hostname = null;
  raw.process.apparmorProfile = "unconfined";
  const { fd, path } = openTemp(JSON.stringify(raw));
  try {
    const warnings: string[] = [];
    const got = readSpecFromFile(linux, "/b", fd, (w) => warnings.push(w));
    assert.equal("hostname" in got, false);
    assert.equal(warnings.length, 1);
  } finally {
    linux.close(fd);
    Deno.removeSync(path);
  }
});

/** A fake kernel serving `bytes` from a file offset that lseek resets. */
function servingKernel(bytes: Uint8Array) {
  let offset = 0;
  return fakeKernel({
    lseek: (_fd: unknown, off: unknown) => (offset = off as number),
    read: (_fd: unknown, buf: unknown) => {
      const b = buf as Uint8Array;
      const n = Math.min(b.length, bytes.length - offset, 1000); // short reads on purpose
      b.set(bytes.subarray(offset, offset + n));
      offset += n;
      return n;
    },
  });
}

Deno.test("readSpecFromFile with a fake kernel: lseek first, short reads, parse errors quote the bytes", () => {
  const good = new TextEncoder().encode(JSON.stringify(defaultSpec()));
  const fk = servingKernel(good);
  const spec = readSpecFromFile(fk.kernel, "/b", 7);
  assert.deepEqual(fk.calls[0], { name: "lseek", args: [7, 0, 0] });
  assert.equal(spec.root?.path, "/b/rootfs");

  const bad = new TextEncoder().encode("{ not json " + "x".repeat(10_000));
  assert.throws(() => readSpecFromFile(servingKernel(bad).kernel, "/b", 3), (e: unknown) => {
    assert.ok(e instanceof SpecError);
    assert.match(e.message, /^error unmarshaling spec: /);
    assert.ok(e.message.includes("JSON bytes:\n{ not json xxx"));
    assert.ok(e.message.length < 4096 + 300, `message is ${e.message.length} characters`);
    return true;
  });

  const failing = fakeKernel({
    lseek: () => {
      throw new SyscallError("lseek", "fd 3", 29);
    },
  });
  assert.throws(() => readSpecFromFile(failing.kernel, "/b", 3), /error reading spec: lseek fd 3: ESPIPE/);
  assert.throws(
    () => readSpecFromFile(servingKernel(new TextEncoder().encode("[1,2]")).kernel, "/b", 3),
    /the configuration must be a JSON object, got an array/,
  );
  assert.throws(
    () => readSpecFromFile(servingKernel(new TextEncoder().encode("null")).kernel, "/b", 3),
    /got null/,
  );
  const deep = new TextEncoder().encode("[".repeat(1_000_000) + "]".repeat(1_000_000));
  assert.throws(() => readSpecFromFile(servingKernel(deep).kernel, "/b", 3), SpecError);
});

Deno.test("readMounts: errors and validation", () => {
  const enc = (v: string) => servingKernel(new TextEncoder().encode(v)).kernel;
  const mounts = [{ destination: "/data", type: "bind", source: "/srv", options: ["rbind"] }];
  assert.deepEqual(readMounts(enc(JSON.stringify(mounts)), 4), mounts);
  assert.deepEqual(readMounts(enc("null"), 4), []);
  assert.deepEqual(readMounts(enc("[]"), 4), []);
  const ebadf = fakeKernel({
    read: () => {
      throw new SyscallError("read", "fd -1", 9);
    },
  });
  assert.throws(() => readMounts(ebadf.kernel, -1), /^SpecError: error reading mounts: read fd -1: EBADF$/);
  assert.throws(
    () => readMounts(enc("[{"), 4),
    /^SpecError: error unmarshaling mounts: .*\nJSON bytes:\n\[\{/s,
  );
  assert.throws(
    () => readMounts(enc('{"a":1}'), 4),
    /error unmarshaling mounts: expected a JSON array, got an object/,
  );
  assert.throws(
    () => readMounts(enc('[{"destination":"rel"}]'), 4),
    /mounts\[0\]\.destination "rel" must be absolute/,
  );
  assert.throws(() => readMounts(enc("[null]"), 4), /mounts\[0\] must be an object, got null/);
  assert.throws(() => readMounts(enc('[{"type":"tmpfs"}]'), 4), /mounts\[0\]\.destination must be defined/);
});

Deno.test("logSpec trims the bulky fields and respects debugEnabled", () => {
  const spec = defaultSpec();
  spec.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW" };
  const lines: string[] = [];
  const log = { debug: (m: string) => lines.push(m) };
  logSpec(spec, log, false);
  assert.equal(lines.length, 0);
  logSpec(spec, log);
  assert.equal(lines.length, 1);
  assert.ok(lines[0].startsWith('Spec:\n{\n  "ociVersion": "1.2.0"'));
  for (const gone of ["capabilities", "seccomp", "maskedPaths", "readonlyPaths", '"devices"']) {
    assert.ok(!lines[0].includes(gone), `${gone} was logged`);
  }
  assert.ok(lines[0].includes('"hostname": "runts"'));
  assert.ok(
    spec.process?.capabilities && spec.linux?.seccomp && spec.linux.resources?.devices,
    "spec mutated",
  );
});

Deno.test("capability table", () => {
  assert.equal(CAPABILITIES.length, 41);
  assert.equal(capNumber("CAP_CHOWN"), 0);
  assert.equal(capNumber("CAP_SYS_ADMIN"), 21);
  assert.equal(capNumber("CAP_AUDIT_READ"), 37);
  assert.equal(capNumber("CAP_CHECKPOINT_RESTORE"), 40);
  assert.throws(
    () => capNumber("CAP_NOPE"),
    (e: unknown) => e instanceof SpecError && e.message === 'invalid capability "CAP_NOPE"',
  );
  assert.throws(() => capNumber("constructor"), SpecError);
  assert.equal(capMask(undefined), 0n);
  assert.equal(capMask(["CAP_KILL", "CAP_NET_BIND_SERVICE"]), (1n << 5n) | (1n << 10n));
  assert.deepEqual(capNames(capMask(["CAP_BPF", "CAP_CHOWN"])), ["CAP_CHOWN", "CAP_BPF"]);
  assert.deepEqual(capNames(1n << 45n), ["cap_45"]);
  assert.deepEqual(capNames((1n << 41n) - 1n), [...CAPABILITIES]);
});

Deno.test("lastCap and supportedMask", () => {
  resetLastCapCache();
  const real = lastCap();
  assert.ok(real >= 37 && real <= 63);
  assert.equal(supportedMask(), (1n << BigInt(real + 1)) - 1n);
  resetLastCapCache();
  const fk = fakeKernel({
    open: 9,
    read: (_fd: unknown, buf: unknown) => {
      (buf as Uint8Array).set(new TextEncoder().encode("38\n"));
      return 3;
    },
  });
  assert.equal(lastCap(fk.kernel), 38);
  assert.deepEqual(fk.names(), ["open", "read", "close"]);
  assert.equal(supportedMask(), (1n << 39n) - 1n); // cached
  resetLastCapCache();
});

Deno.test("namespaces", () => {
  const spec = defaultSpec();
  assert.equal(getNS(spec, "pid")?.type, "pid");
  assert.equal(getNS(spec, "user"), undefined);
  assert.equal(hasNS(spec, "uts"), true);
  spec.linux!.namespaces!.find((n) => n.type === "network")!.path = "/var/run/netns/x";
  assert.equal(
    newNamespaceFlags(spec),
    CLONE.NEWPID | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS | CLONE.NEWCGROUP,
  );
  assert.equal(NAMESPACE_FLAGS.time, CLONE.NEWTIME);
});

Deno.test("path helpers follow Go filepath", () => {
  const cases: Array<[string, string]> = [
    ["", "."],
    ["/", "/"],
    ["a/b/../c", "a/c"],
    ["/../x", "/x"],
    ["../../x", "../../x"],
    ["a//b/./", "a/b"],
    ["a/..", "."],
  ];
  for (const [input, want] of cases) assert.equal(clean(input), want, input);
  assert.equal(join("/b", "rootfs"), "/b/rootfs");
  assert.equal(join("", ""), "");
  assert.equal(join("/b/", "../x"), "/x");
  assert.equal(absOf("/b", "/abs"), "/abs");
  assert.equal(absOf("/b", "r/./s"), "/b/r/s");
});
