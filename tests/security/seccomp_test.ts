/**
 * seccomp: linux.seccomp compiled by libseccomp, loaded by init last, right before execve. Unit tests for
 * the compiler, then attacks inside real containers: an engine-shaped default profile, uname → EPERM, a
 * filter on mkdir's mode, every comparison operator, every action, and a profile that would kill init if
 * it were installed any earlier.
 */
import assert from "node:assert/strict";
import { addToolbox, expectCode, Fixture, HAVE_PERL, nr, perl, pool, PrivateRootfs, run } from "./helpers.ts";
import { ok, runts } from "../cli/helpers.ts";
import { dockerShapedProfile } from "./profiles.ts";
import { compileSeccomp, conditionSets, installFilter } from "../../src/seccomp/compile.ts";
import { actionValue, filterFlags } from "../../src/seccomp/profile.ts";
import { type Prepared, seal } from "../../src/init/init.ts";
import { openLibseccomp, SCMP_CMP } from "../../ffi/seccomp.ts";
import { fakeKernel } from "../../ffi/fake.ts";
import { SECCOMP_FILTER_FLAG, SECCOMP_RET } from "../../ffi/mod.ts";
import type { LinuxSeccomp, Spec } from "../../src/specutils/spec.ts";

const SIGSYS_EXIT = 128 + 31;

/** The 32-bit `k` operands of a BPF program. */
function constants(program: Uint8Array): Set<number> {
  const v = new DataView(program.buffer, program.byteOffset, program.byteLength);
  const out = new Set<number>();
  for (let i = 0; i < program.length; i += 8) out.add(v.getUint32(i + 4, true));
  return out;
}

Deno.test("seccomp compile: actions, errnoRet, flags and OR-ed conditions on a repeated argument", () => {
  assert.equal(actionValue("SCMP_ACT_ERRNO", undefined, "x"), SECCOMP_RET.ERRNO | 1);
  assert.equal(actionValue("SCMP_ACT_ERRNO", 13, "x"), SECCOMP_RET.ERRNO | 13);
  assert.equal(actionValue("SCMP_ACT_TRACE", 7, "x"), SECCOMP_RET.TRACE | 7);
  assert.equal(actionValue("SCMP_ACT_KILL", undefined, "x"), SECCOMP_RET.KILL_THREAD);
  assert.equal(actionValue("SCMP_ACT_KILL_PROCESS", undefined, "x"), SECCOMP_RET.KILL_PROCESS);
  assert.throws(
    () => actionValue("SCMP_ACT_NOTIFY", undefined, "syscalls[0].action"),
    /NOTIFY is not supported/,
  );
  assert.equal(
    filterFlags(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]),
    SECCOMP_FILTER_FLAG.LOG | SECCOMP_FILTER_FLAG.SPEC_ALLOW,
    "TSYNC is met by loading right before execve, never passed (see profile.ts)",
  );
  const a = { arg: 1, op: SCMP_CMP.SCMP_CMP_EQ, a: 1n, b: 0n };
  const b = { arg: 2, op: SCMP_CMP.SCMP_CMP_EQ, a: 2n, b: 0n };
  assert.deepEqual(conditionSets([a, b]), [[a, b]], "different arguments: one rule, ANDed");
  assert.deepEqual(
    conditionSets([a, { ...a, a: 5n }]),
    [[a], [{ ...a, a: 5n }]],
    "same argument: ORed rules",
  );
});

Deno.test("seccomp compile: architectures, unknown names, unsupported arches and a missing libseccomp", () => {
  const lib = openLibseccomp();
  assert.match(lib.version, /^2\.\d+\.\d+$/);
  const profile: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: [
      "SCMP_ARCH_X86_64",
      "SCMP_ARCH_X86",
      "SCMP_ARCH_X32",
      "SCMP_ARCH_AARCH64",
      "SCMP_ARCH_ARM",
    ],
    flags: ["SECCOMP_FILTER_FLAG_LOG"],
    syscalls: [{ names: ["uname", "no_such_syscall"], action: "SCMP_ACT_ERRNO" }],
  };
  const f = compileSeccomp(profile);
  assert.equal(f.program.length % 8, 0);
  assert.deepEqual(f.skipped, ["no_such_syscall"]);
  assert.equal(f.flags, SECCOMP_FILTER_FLAG.LOG);
  const k = constants(f.program);
  for (const audit of [0xc000003e, 0x40000003, 0xc00000b7, 0x40000028]) {
    assert.ok(k.has(audit), `the program checks AUDIT_ARCH 0x${audit.toString(16)}`);
  }
  assert.ok(k.has(SECCOMP_RET.ERRNO | 1));
  assert.throws(
    () => compileSeccomp({ ...profile, architectures: ["SCMP_ARCH_LOONGARCH64"] }),
    /architectures\[0\] "SCMP_ARCH_LOONGARCH64" is not supported by libseccomp/,
  );
  assert.throws(
    () => compileSeccomp(profile, () => openLibseccomp("/nonexistent/libseccomp.so.2")),
    /linux\.seccomp: \/nonexistent\/libseccomp\.so\.2 cannot be loaded .*install it/,
  );
  // A rule whose action is the default one changes nothing and is left out (libseccomp refuses it).
  const same = compileSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }],
  });
  assert.ok(!constants(same.program).has(SECCOMP_RET.ERRNO | 1));
});

Deno.test("seccomp install: the filter loads with its flags, then init drops the CAP_SYS_ADMIN it held for it", () => {
  const fake = fakeKernel();
  const filter = compileSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    flags: ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
  });
  const dropTo = { effective: 0x420n, permitted: 0x420n, inheritable: 0n };
  const prepared: Prepared = { path: "/bin/sh", env: [], filter, dropTo };
  seal(fake.kernel, prepared);
  assert.deepEqual(fake.names(), ["seccompLoad", "capset"]);
  assert.equal(fake.calls[0].args[1], SECCOMP_FILTER_FLAG.SPEC_ALLOW);
  assert.deepEqual(fake.calls[1].args[0], dropTo);
  const refusing = fakeKernel({
    seccompLoad: () => {
      throw new Error("seccomp SECCOMP_SET_MODE_FILTER: EACCES");
    },
  });
  assert.throws(() => installFilter(refusing.kernel, filter), /linux\.seccomp: loading the filter: .*EACCES/);
});

function withCaps(s: Spec, ...caps: string[]): void {
  const c = s.process!.capabilities!;
  for (const set of ["bounding", "effective", "permitted"] as const) c[set] = [...c[set] ?? [], ...caps];
}

Deno.test({
  name:
    "seccomp attack: an engine-shaped default profile refuses namespaces, keyrings and mounts, even to CAP_SYS_ADMIN",
  ignore: !HAVE_PERL,
  fn: async () => {
    const fx = new Fixture();
    const rootfs = new PrivateRootfs();
    try {
      const probe = (name: string, number: number, arg: string) =>
        `{ my $r = syscall(${number}, ${arg}); print "${name}=", ($r < 0 ? $!+0 : "ok"), "\\n"; }`;
      const script = [
        probe("unshare", nr("unshare"), "0x20000"), // CLONE_NEWNS
        probe("keyctl", nr("keyctl"), "0"), // KEYCTL_GET_KEYRING_ID
        probe("personality32", nr("personality"), "0x8"), // allowed by an argument rule
        probe("personality_bad", nr("personality"), "0x0100000"), // ADDR_NO_RANDOMIZE: not on the list
        `system("mount -t tmpfs none /mnt 2>/dev/null && echo mount=ok || echo mount=refused");`,
        `system("/bin/sh", "-c", "mkdir -p /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f | tr h H");`,
        `system("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status");`,
      ].join("\n");
      for (const nnp of [true, false]) {
        const r = await run(fx, perl(script), (s) => {
          s.root = { path: rootfs.dir, readonly: false };
          addToolbox(s, rootfs);
          withCaps(s, "CAP_SYS_ADMIN");
          s.process!.noNewPrivileges = nnp;
          s.linux!.seccomp = dockerShapedProfile();
        });
        expectCode(r, 0, `engine-shaped profile, noNewPrivileges ${nnp}`);
        assert.match(r.stdout, /^unshare=1$/m, "unshare(CLONE_NEWNS) → EPERM despite CAP_SYS_ADMIN");
        assert.match(r.stdout, /^keyctl=1$/m);
        assert.match(r.stdout, /^personality32=ok$/m);
        assert.match(r.stdout, /^personality_bad=1$/m);
        assert.match(r.stdout, /^mount=refused$/m);
        assert.match(r.stdout, /^Hi$/m, "ordinary work (fork, exec, pipes, files) goes on");
        assert.match(r.stdout, /^Seccomp:\s+2$/m, "the filter reaches the app and its children");
        assert.match(
          r.stdout,
          new RegExp(`^NoNewPrivs:\\s+${nnp ? 1 : 0}$`, "m"),
          "no_new_privs as the spec says",
        );
      }
    } finally {
      rootfs.cleanup();
      await fx.cleanup();
    }
  },
});

Deno.test({
  name: "seccomp attack: uname → EPERM, errnoRet, TRAP, TRACE, LOG and defaultErrnoRet",
  ignore: !HAVE_PERL,
  fn: async () => {
    const fx = new Fixture();
    const rootfs = new PrivateRootfs();
    try {
      const buf = `"\\0" x 400`;
      const script = [
        `$SIG{SYS} = sub { print "trapped\\n"; };`,
        `{ my $b = ${buf}; my $r = syscall(${
          nr("uname")
        }, $b); print "uname=", ($r < 0 ? $!+0 : "ok"), "\\n"; }`,
        `{ my $r = syscall(${nr("keyctl")}, 0); print "keyctl=", ($r < 0 ? $!+0 : "ok"), "\\n"; }`,
        `{ my $p = "/tmp/logged"; my $r = syscall(${
          nr("mkdirat")
        }, -100, $p, 0755); print "mkdirat=", ($r < 0 ? $!+0 : "ok"), "\\n"; }`,
        `{ my $r = syscall(${
          nr("setpriority")
        }, 0, 0, 3); print "setpriority=", ($r < 0 ? $!+0 : "ok"), "\\n"; }`,
        `syscall(${nr("personality")}, 0xffffffff);`,
        `print "after-trap\\n";`,
      ].join("\n");
      const r = await run(fx, perl(script), (s) => {
        s.root = { path: rootfs.dir, readonly: false };
        addToolbox(s, rootfs);
        s.linux!.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [
            { names: ["uname"], action: "SCMP_ACT_ERRNO" },
            { names: ["keyctl"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
            { names: ["mkdirat"], action: "SCMP_ACT_LOG" },
            { names: ["setpriority"], action: "SCMP_ACT_TRACE" },
            { names: ["personality"], action: "SCMP_ACT_TRAP" },
          ],
        };
      });
      expectCode(r, 0, "actions");
      assert.match(r.stdout, /^uname=1$/m, "uname → EPERM (the default errno)");
      assert.match(r.stdout, /^keyctl=13$/m, "errnoRet 13 → EACCES");
      assert.match(r.stdout, /^mkdirat=ok$/m, "LOG allows");
      assert.match(r.stdout, /^setpriority=38$/m, "TRACE without a tracer → ENOSYS");
      assert.match(r.stdout, /^trapped$/m, "TRAP raises SIGSYS, which the app may catch");
      assert.match(r.stdout, /^after-trap$/m);

      const d = await run(
        fx,
        perl(`my $r = syscall(${nr("keyctl")}, 0); print "keyctl=", $!+0, "\\n";`),
        (s) => {
          s.root = { path: rootfs.dir, readonly: false };
          addToolbox(s, rootfs);
          s.linux!.seccomp = { ...dockerShapedProfile(), defaultErrnoRet: 95 };
        },
      );
      expectCode(d, 0, "defaultErrnoRet");
      assert.match(d.stdout, /^keyctl=95$/m, "the default action answers with defaultErrnoRet (EOPNOTSUPP)");
    } finally {
      rootfs.cleanup();
      await fx.cleanup();
    }
  },
});

Deno.test("seccomp attack: an argument filter on mkdir's mode refuses private directories only", async () => {
  const fx = new Fixture();
  try {
    // Deny mkdir when (mode & 077) == 0. busybox cp -r creates the copy with the source's mode.
    const privateOnly = (index: number) => [{ index, value: 0o077, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }];
    const r = await run(
      fx,
      [
        "sh",
        "-c",
        [
          "mkdir /tmp/pub /tmp/priv && chmod 755 /tmp/pub && chmod 700 /tmp/priv",
          "cp -r /tmp/pub /tmp/pub2 && echo pub=ok",
          "cp -r /tmp/priv /tmp/priv2 2>/dev/null || echo priv=denied",
        ].join("; "),
      ],
      (s) => {
        s.linux!.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [
            { names: ["mkdir"], action: "SCMP_ACT_ERRNO", args: privateOnly(1) },
            { names: ["mkdirat"], action: "SCMP_ACT_ERRNO", args: privateOnly(2) },
          ],
        };
      },
    );
    expectCode(r, 0, "mkdir mode filter");
    assert.match(r.stdout, /^pub=ok$/m);
    assert.match(r.stdout, /^priv=denied$/m);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("seccomp attack: every comparison operator, on setpriority's niceness", async () => {
  const fx = new Fixture();
  try {
    const values = [3, 5, 6, 7, 8];
    const cases: Array<[string, number, number | undefined, number[]]> = [
      ["SCMP_CMP_EQ", 7, undefined, [7]],
      ["SCMP_CMP_NE", 7, undefined, [3, 5, 6, 8]],
      ["SCMP_CMP_LT", 7, undefined, [3, 5, 6]],
      ["SCMP_CMP_LE", 7, undefined, [3, 5, 6, 7]],
      ["SCMP_CMP_GT", 7, undefined, [8]],
      ["SCMP_CMP_GE", 7, undefined, [7, 8]],
      ["SCMP_CMP_MASKED_EQ", 0b100, 0b100, [5, 6, 7]],
    ];
    // Each value on a fresh sleep: raising niceness needs no privilege, lowering it would.
    const script =
      `t() { sleep 30 & p=$!; renice $1 -p $p >/dev/null 2>&1 && echo "$1=ok" || echo "$1=denied"; ` +
      `kill $p; }; ${values.map((v) => `t ${v}`).join("; ")}`;
    await pool(cases, 3, async ([op, value, valueTwo, denied]) => {
      const r = await run(fx, ["sh", "-c", script], (s) => {
        s.linux!.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{
            names: ["setpriority"],
            action: "SCMP_ACT_ERRNO",
            args: [{ index: 2, value, valueTwo, op }],
          }],
        };
      });
      expectCode(r, 0, op);
      for (const v of values) {
        assert.match(
          r.stdout,
          new RegExp(`^${v}=${denied.includes(v) ? "denied" : "ok"}$`, "m"),
          `${op}: ${v}`,
        );
      }
    });
  } finally {
    await fx.cleanup();
  }
});

Deno.test("seccomp attack: KILL_PROCESS and KILL end the caller with SIGSYS", async () => {
  const fx = new Fixture();
  try {
    for (const action of ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL"]) {
      const r = await run(fx, ["mkdir", "/tmp/forbidden"], (s) => {
        s.linux!.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["mkdir", "mkdirat"], action }],
        };
      });
      expectCode(r, SIGSYS_EXIT, action);
    }
  } finally {
    await fx.cleanup();
  }
});

Deno.test("seccomp: the filter is installed last (it kills every call init's setup makes) and covers exec", async () => {
  const fx = new Fixture();
  try {
    const initCalls = [
      "mount",
      "umount2",
      "pivot_root",
      "unshare",
      "setns",
      "sethostname",
      "openat2",
      "open_tree",
      "move_mount",
      "mknodat",
      "symlinkat",
      "fchdir",
      "setsid",
      "setgroups",
      "setresuid",
      "setresgid",
      "close_range",
      "sched_getaffinity",
      "pidfd_open",
    ];
    const bundle = fx.bundle(["sleep", "60"], (s) => {
      s.linux!.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [
          { names: initCalls, action: "SCMP_ACT_KILL_PROCESS" },
          { names: ["uname"], action: "SCMP_ACT_ERRNO" },
        ],
      };
    });
    await ok(fx.root, ["create", "--bundle", bundle, "last"]);
    await ok(fx.root, ["start", "last"]);
    const out = await ok(fx.root, ["exec", "last", "grep", "-E", "^Seccomp:", "/proc/self/status"]);
    assert.match(out, /^Seccomp:\s+2$/m, "an exec'd process gets the container's filter");
    const app = await ok(fx.root, ["exec", "last", "grep", "-E", "^Seccomp:", "/proc/1/status"]);
    assert.match(app, /^Seccomp:\s+2$/m);
    const st = JSON.parse(await ok(fx.root, ["state", "last"]));
    assert.equal(st.status, "running");
    await ok(fx.root, ["delete", "--force", "last"]);
    const gone = await runts(fx.root, ["state", "last"]);
    assert.equal(gone.code, 1);
  } finally {
    await fx.cleanup();
  }
});
