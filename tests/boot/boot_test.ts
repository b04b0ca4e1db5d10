/**
 * The `runts boot` contract, against the real kernel (run as root): command line, sync byte, exit status,
 * stdio, namespaces, mounts, root, failures, the urpc controller, signals, --attached, --setup-root,
 * credentials, fds, --user-log-fd and --cpu-num. tests/boot/harness.ts plays the wrapper.
 */
import assert from "node:assert/strict";
import { linux as k, SIGNALS } from "../../ffi/mod.ts";
import { RemoteError } from "../../src/urpc/client.ts";
import type { Mount, Spec } from "../../src/specutils/spec.ts";
import { defaultSpec } from "../../src/specutils/default_spec.ts";
import { encodeRequest } from "../../src/urpc/wire.ts";
import {
  alive,
  BootRun,
  FD,
  LAUNCHER_OUT,
  pidsWithArg,
  pidsWithEnv,
  procStatus,
  RawCall,
  runToExit,
  waitGone,
  withBoot,
  WorkerCalls,
} from "./harness.ts";
import { measureOnce } from "./latency.ts";
import { BOOT_CAPS } from "../../src/boot/capability.ts";
import { capMask } from "../../src/specutils/capabilities.ts";

const USAGE = "boot [flags] <container id>";

/** An app in boot's own pid namespace: no pid entry in the spec (and no --pidns). */
const NO_PIDNS = {
  pidns: false,
  mutate: (s: Spec) => s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "pid"),
};

function mountCount(): number {
  return Deno.readTextFileSync("/proc/self/mountinfo").trim().split("\n").length;
}

/** Polls until `pred` holds; false after `timeoutMs`. */
async function eventually(pred: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** True once the app has a handler for `sig` (SigCgt in /proc/PID/status). */
function catches(pid: number, sig: number): boolean {
  const mask = procStatus(pid, "SigCgt");
  return mask !== null && ((BigInt(`0x${mask}`) >> BigInt(sig - 1)) & 1n) === 1n;
}

/** Parses `Name:\tvalue` lines. */
function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

const CAPS_SCRIPT = "grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status";

// ---------------------------------------------------------------------------------------------------
// Command line

Deno.test("boot: a missing required fd flag or not exactly one id is a usage error (exit 128)", async () => {
  const cases: Array<[string, Parameters<typeof BootRun.spawn>[0]]> = [
    ["no --spec-fd", { omit: ["spec-fd"] }],
    ["no --controller-fd", { omit: ["controller-fd"] }],
    ["no --start-sync-fd", { omit: ["start-sync-fd"] }],
    ["no id", { ids: [] }],
    ["two ids", { ids: ["a-1", "a-2"] }],
  ];
  await Promise.all(cases.map(async ([what, opts]) => {
    const b = BootRun.spawn(opts);
    try {
      const exit = await b.exit();
      assert.equal(exit.code, 128, `${what}: exit code; stderr: ${exit.stderr}`);
      assert.ok(exit.stderr.includes(USAGE), `${what}: usage on stderr, got ${JSON.stringify(exit.stderr)}`);
      assert.equal(await b.waitSync(1000), "eof", `${what}: no sync byte`);
    } finally {
      await b.cleanup();
    }
  }));
});

// ---------------------------------------------------------------------------------------------------
// Exit status and stdio

Deno.test("boot: the app's exit code is Wait's status and boot's exit code", async () => {
  const r = await runToExit({ script: "exit 3" });
  assert.equal(r.waitStatus, 768);
  assert.equal(r.exit.code, 3);
  assert.equal(r.exit.signaled, false);
});

Deno.test("boot: an app killed by SIGTERM gives Wait 15 and exit code 143", async () => {
  // No --pidns: a pid namespace's init ignores signals it has no handler for, even its own.
  const r = await runToExit({ script: "kill -TERM $$; sleep 5", ...NO_PIDNS });
  assert.equal(r.waitStatus, 15);
  assert.equal(r.exit.code, 143);
  assert.equal(r.exit.signaled, false, "boot exits with 143, it is not killed itself");
});

Deno.test("boot: --stdio-fds carry the app's stdout and stderr, not boot's own", async () => {
  const r = await runToExit({ script: "echo to-stdout; echo to-stderr >&2" });
  assert.equal(r.waitStatus, 0);
  assert.equal(r.exit.appStdout, "to-stdout\n");
  assert.equal(r.exit.appStderr, "to-stderr\n");
  assert.ok(!r.exit.stdout.includes("to-stdout") && !r.exit.stderr.includes("to-stderr"));
});

// ---------------------------------------------------------------------------------------------------
// Namespaces, root and mounts

Deno.test("boot: hostname from the spec, pid 1 with --pidns, cwd /", async () => {
  const r = await runToExit({
    script: "hostname; echo $$; pwd",
    mutate: (s) => s.hostname = "boot-test-host",
  });
  assert.equal(r.exit.appStdout, "boot-test-host\n1\n/\n");
  assert.equal(r.waitStatus, 0);
});

Deno.test("boot: without a pid namespace in the spec the app's pid is its host pid", async () => {
  const r = await runToExit({ script: "echo $$", ...NO_PIDNS });
  assert.equal(r.exit.appStdout.trim(), String(r.appPid));
  assert.notEqual(r.appPid, 1);
});

Deno.test("boot: --mounts-fd replaces spec.mounts", async () => {
  const specOnly: Mount = {
    destination: "/root",
    type: "tmpfs",
    source: "runts-spec-only",
    options: ["size=1m"],
  };
  const fromFd: Mount = {
    destination: "/tmp",
    type: "tmpfs",
    source: "runts-mounts-fd",
    options: ["size=1m"],
  };
  const r = await runToExit({
    script: "cat /proc/mounts",
    mutate: (s) => s.mounts = [...s.mounts ?? [], specOnly],
    mounts: [...defaultSpec().mounts!, fromFd],
  });
  assert.equal(r.waitStatus, 0, r.exit.stderr);
  assert.match(r.exit.appStdout, /^runts-mounts-fd \/tmp tmpfs /m);
  assert.doesNotMatch(r.exit.appStdout, /runts-spec-only/);
  assert.match(r.exit.appStdout, /^proc \/proc proc /m, "the mounts from the fd are all there");
});

Deno.test("boot: the root comes from the io-fd, whatever spec.root.path says", async () => {
  const r = await runToExit({
    script: "echo rooted",
    mutate: (s) => s.root = { path: "/nonexistent", readonly: true },
  });
  assert.equal(r.waitStatus, 0, r.exit.stderr);
  assert.equal(r.exit.appStdout, "rooted\n");
  // Control: without the io-fd the same spec cannot work.
  const b = BootRun.spawn({
    script: "true",
    ioRoot: false,
    mutate: (s) => s.root = { path: "/nonexistent" },
  });
  try {
    assert.equal(await b.waitSync(), "eof");
    assert.equal((await b.exit()).code, 128);
  } finally {
    await b.cleanup();
  }
});

Deno.test("boot: bind mounts come from their io-fds, with and without --setup-root", async () => {
  const src = Deno.makeTempDirSync({ prefix: "runts-boot-bind-" });
  try {
    Deno.writeTextFileSync(`${src}/marker`, "from-the-io-fd\n");
    // The source path leads nowhere: only the io-fd can provide it.
    const bind: Mount = {
      destination: "/root",
      type: "bind",
      source: "/nonexistent-src",
      options: ["rbind", "ro"],
    };
    for (const flags of [[], ["--setup-root"]]) {
      const r = await runToExit({
        script:
          "cat /root/marker; grep -c ' /root ' /proc/mounts; touch /root/x 2>/dev/null || echo read-only",
        mounts: [...defaultSpec().mounts!, bind],
        bindSources: [src],
        flags,
      });
      assert.equal(r.waitStatus, 0, `${flags}: ${r.exit.stderr}`);
      assert.equal(r.exit.appStdout, "from-the-io-fd\n1\nread-only\n", `${flags}: ${r.exit.appStderr}`);
    }
    assert.deepEqual([...Deno.readDirSync(src)].map((e) => e.name), ["marker"]);
  } finally {
    Deno.removeSync(src, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------------
// Failures before the sync byte

Deno.test("boot: a bad spec gives no sync byte, exit 128, a message, and leaves nothing behind", async () => {
  const cases: Array<[string, Parameters<typeof BootRun.spawn>[0], RegExp]> = [
    ["empty process.args", { args: [] }, /arg/i],
    ["invalid JSON", { specText: "{ not json" }, /spec/i],
    ["invalid mounts JSON", { script: "true", mountsText: "[{" }, /mount/i],
    ["missing executable (init fails)", { args: ["/no/such/binary"] }, /no\/such\/binary/],
    [
      "init fails under --setup-root",
      { args: ["/no/such/binary"], flags: ["--setup-root"] },
      /no\/such\/binary/,
    ],
  ];
  const before = mountCount();
  for (const [what, opts, message] of cases) {
    const b = BootRun.spawn(opts);
    try {
      assert.equal(await b.waitSync(), "eof", `${what}: EOF, not a byte`);
      const exit = await b.exit();
      assert.equal(exit.code, 128, `${what}: exit code`);
      assert.match(exit.stderr, message, `${what}: stderr ${JSON.stringify(exit.stderr)}`);
      assert.deepEqual(pidsWithArg(b.id), [], `${what}: a process with the id is left`);
      assert.ok(
        await eventually(() => pidsWithEnv(`TMPDIR=${b.dir}/tmp`).every((p) => !alive(p)), 2000),
        `${what}: boot's children (init) are left`,
      );
      assert.deepEqual([...Deno.readDirSync(`${b.dir}/tmp`)], [], `${what}: temp files are left`);
      assert.equal(mountCount(), before, `${what}: host mounts changed`);
    } finally {
      await b.cleanup();
    }
  }
});

// ---------------------------------------------------------------------------------------------------
// The controller

Deno.test("boot: an unknown urpc method is an error reply, byte for byte", async () => {
  await withBoot({ script: "read -r x; exit 0" }, async (b) => {
    assert.throws(() => b.call("Nope"), (e) => e instanceof RemoteError && e.message === "unknown method");
    const raw = RawCall.send(
      b.address,
      new TextEncoder().encode(`{"method":"containerManager.Nope","arg":null}`),
    );
    try {
      assert.equal(await raw.reply(5000), `{"success":false,"err":"unknown method","result":null}`);
    } finally {
      raw.close();
    }
    // The connection survives the error: the same client works on.
    assert.equal(b.call<{ status: string }>("State").status, "created");
  });
});

Deno.test("boot: State, Processes and Event", async () => {
  await withBoot({ script: "read -r x; exit 0" }, async (b) => {
    const created = b.call<{ pid: number; status: string; exitStatus: number | null }>("State");
    assert.equal(created.status, "created");
    assert.equal(created.exitStatus, null);
    assert.ok(alive(created.pid));
    b.call("StartRoot");
    const running = b.call<{ pid: number; status: string }>("State");
    assert.deepEqual(running, { pid: created.pid, status: "running", exitStatus: null });
    const rows = b.call<Array<{ pid: number; ppid: number; cmd: string; uid: number }>>("Processes");
    const app = rows.find((r) => r.pid === created.pid);
    assert.ok(app, `the app (pid ${created.pid}) is among ${JSON.stringify(rows)}`);
    assert.equal(app.ppid, b.pid, "boot is the app's parent");
    assert.match(app.cmd, /sh -c/);
    const ev = b.call<{ event: { type: string; id: string; data: unknown } }>("Event");
    assert.equal(ev.event.type, "stats");
    assert.equal(ev.event.id, b.id);
    const { status } = await b.waitAsync();
    b.release();
    assert.equal(await status, 0);
  });
});

Deno.test("boot: several controller connections are served while another is blocked in Wait", async () => {
  await withBoot({ script: "read -r x; exit 0" }, async (b) => {
    const appPid = b.startRoot();
    const { status } = await b.waitAsync();
    let waitDone = false;
    status.then(() => waitDone = true, () => waitDone = true);
    // Two threads with the real (blocking) client...
    const calls = [
      { method: "containerManager.State", arg: b.id },
      { method: "containerManager.Processes", arg: b.id },
      { method: "containerManager.State", arg: b.id },
    ];
    const workers = Array.from({ length: 2 }, () => WorkerCalls.run(b.address, calls));
    // ...and five connections whose requests are all written before any reply is read.
    const methods = ["State", "Processes", "State", "Processes", "Event"];
    const raws = methods.map((m) => RawCall.send(b.address, encodeRequest(`containerManager.${m}`, b.id)));
    try {
      const replies = await Promise.all(raws.map((r) => r.reply(10_000)));
      replies.forEach((text, i) => {
        const reply = JSON.parse(text) as { success: boolean; result: unknown };
        assert.ok(reply.success, text);
        if (methods[i] === "State") assert.equal((reply.result as { status: string }).status, "running");
        if (methods[i] === "Processes") {
          assert.ok((reply.result as Array<{ pid: number }>).some((r) => r.pid === appPid));
        }
      });
      for (const w of workers) {
        for (let i = 0; i < calls.length; i++) {
          const a = await w.answer(i, 20_000);
          assert.ok(a.ok, a.error);
          if (i === 1) assert.ok((a.result as Array<{ pid: number }>).some((r) => r.pid === appPid));
          else assert.equal((a.result as { status: string }).status, "running");
        }
      }
      assert.equal(waitDone, false, "Wait answered before the app exited");
      b.release();
      assert.equal(await status, 0);
    } finally {
      raws.forEach((r) => r.close());
      for (const w of workers) await w.finish();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Signals

Deno.test("boot: the Signal RPC kills the app", async () => {
  await withBoot({ script: "exec sleep 100", ...NO_PIDNS }, async (b) => {
    b.startRoot();
    const { status } = await b.waitAsync();
    b.call("Signal", { CID: b.id, Signo: 15, PID: 0, Mode: 0 });
    assert.equal(await status, 15);
    assert.equal((await b.exit()).code, 143);
  });
});

Deno.test("boot: signals sent to boot reach the app", async () => {
  await withBoot({ script: `trap "exit 7" USR1; echo trapped; while :; do sleep 0.05; done` }, async (b) => {
    const app = b.startRoot();
    assert.ok(await eventually(() => catches(app, SIGNALS.USR1)), "the app never installed its trap");
    const { status } = await b.waitAsync();
    k.kill(b.pid, SIGNALS.USR1);
    assert.equal(await status, 1792);
    assert.equal((await b.exit()).code, 7);
  });
  await withBoot({ script: "exec sleep 100", ...NO_PIDNS }, async (b) => {
    b.startRoot();
    const { status } = await b.waitAsync();
    k.kill(b.pid, SIGNALS.TERM);
    assert.equal(await status, 15);
    const exit = await b.exit();
    assert.equal(exit.code, 143);
    assert.equal(exit.signaled, false, "boot must forward SIGTERM, not die of it");
  });
});

// ---------------------------------------------------------------------------------------------------
// --attached and --setup-root

/** A parent for boot that can die: runs boot in the background, reports its pid, and waits. */
const LAUNCHER = [
  "/bin/sh",
  "-c",
  `"$@" ${LAUNCHER_OUT}>&- & echo $! >&${LAUNCHER_OUT}; exec ${LAUNCHER_OUT}>&-; wait`,
  "sh",
];

for (
  const [what, extra] of [
    ["", {}],
    [" (--setup-root)", { flags: ["--setup-root"] }],
    [" (app uid 1000)", { mutate: (s: Spec) => s.process!.user = { uid: 1000, gid: 1000 } }],
  ] as const
) {
  Deno.test(`boot: --attached: when boot's parent dies, boot and the app die${what}`, async () => {
    const b = BootRun.spawn({
      script: "exec sleep 100",
      launcher: LAUNCHER,
      ...extra,
      flags: ["--attached", ...("flags" in extra ? extra.flags : [])],
    });
    try {
      const bootPid = await b.learnBootPid();
      assert.equal(await b.waitSync(), "byte");
      const app = b.startRoot();
      assert.ok(alive(bootPid) && alive(app));
      k.kill(b.pid, SIGNALS.KILL); // the launcher, boot's parent
      assert.ok(await waitGone(bootPid), "boot outlived its parent");
      assert.ok(await waitGone(app), "the app outlived boot");
    } finally {
      await b.cleanup();
    }
  });
}

Deno.test("boot: without --attached, boot outlives its parent", async () => {
  const b = BootRun.spawn({ script: "exec sleep 100", launcher: LAUNCHER });
  try {
    const bootPid = await b.learnBootPid();
    assert.equal(await b.waitSync(), "byte");
    b.startRoot();
    k.kill(b.pid, SIGNALS.KILL);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(alive(bootPid), "boot died with its parent although not attached");
  } finally {
    await b.cleanup();
  }
});

Deno.test("boot: --setup-root: boot runs as nobody in its own empty root; the app runs normally", async () => {
  await withBoot({ script: "read -r x; id -u; cat /etc/hostname", flags: ["--setup-root"] }, async (b) => {
    assert.equal(procStatus(b.pid, "Uid"), "65534\t65534\t65534\t65534");
    assert.equal(procStatus(b.pid, "Gid"), "65534\t65534\t65534\t65534");
    const bootRoot = Deno.statSync(`/proc/${b.pid}/root/`);
    const hostRoot = Deno.statSync("/");
    assert.ok(bootRoot.dev !== hostRoot.dev || bootRoot.ino !== hostRoot.ino, "boot's root is the host's");
    assert.notEqual(Deno.readLinkSync(`/proc/${b.pid}/ns/mnt`), Deno.readLinkSync("/proc/self/ns/mnt"));
    assert.throws(() => Deno.statSync(`/proc/${b.pid}/root/etc/passwd`), "boot's root holds no /etc/passwd");
    b.startRoot();
    const { status } = await b.waitAsync();
    b.release();
    assert.equal(await status, 0);
    const exit = await b.exit();
    assert.equal(exit.appStdout, "0\nrunts\n");
    assert.equal(exit.code, 0, exit.stderr);
  });
});

for (const setupRoot of [false, true]) {
  Deno.test(`boot: --apply-caps${setupRoot ? " with --setup-root" : ""} narrows boot to the spec's caps plus BOOT_CAPS`, async () => {
    const flags = ["--apply-caps", ...(setupRoot ? ["--setup-root"] : [])];
    await withBoot({ script: "read -r x; grep CapPrm /proc/self/status", flags }, async (b) => {
      const spec = defaultSpec().process!.capabilities!;
      const want = capMask([...BOOT_CAPS, ...spec.bounding!]) & BigInt(`0x${procStatus(Deno.pid, "CapBnd")}`);
      assert.equal(BigInt(`0x${procStatus(b.pid, "CapBnd")}`), want, "boot's bounding set");
      b.startRoot();
      const { status } = await b.waitAsync();
      b.release();
      assert.equal(await status, 0);
      const exit = await b.exit();
      assert.equal(exit.appStdout.trim(), "CapPrm:\t0000000020000420", "the app still gets exactly its caps");
    });
  });
}

Deno.test("boot: --setup-root keeps --debug-log and the app's caps working after the re-exec", async () => {
  const logDir = Deno.makeTempDirSync({ prefix: "runts-debuglog-" });
  try {
    const r = await runToExit({
      script: "grep CapPrm /proc/self/status",
      flags: ["--setup-root"],
      globalFlags: ["--debug", `--debug-log=${logDir}/`],
    });
    assert.equal(r.exit.code, 0, r.exit.stderr);
    assert.equal(
      r.exit.appStdout.trim(),
      "CapPrm:\t0000000020000420",
      "the app keeps caps boot-as-nobody lacks",
    );
    const logs = [...Deno.readDirSync(logDir)].map((e) => e.name);
    assert.ok(logs.filter((n) => n.endsWith(".boot")).length >= 2, `one debug log per boot stage: ${logs}`);
  } finally {
    Deno.removeSync(logDir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------------
// Credentials, fds, user log, CPUs

Deno.test("boot: init runs from a read-only view of the runts binary (CVE-2019-5736 class)", async () => {
  await withBoot({ script: "read -r x; exit 0" }, async (b) => {
    const init = b.appPid();
    // Before the start byte the container's pid is still init (the runts binary): opening its exe for
    // writing must fail on the mount, even for host root, not merely because the file is busy (O_TRUNC
    // makes the kernel check the mount before the busy text).
    assert.throws(
      () => Deno.openSync(`/proc/${init}/exe`, { write: true, truncate: true }),
      (e: Error) => /Read-only file system|os error 30/.test(e.message),
    );
    b.startRoot();
    const { status } = await b.waitAsync();
    b.release();
    assert.equal(await status, 0);
  });
});

Deno.test("boot: process.scheduler, ioPriority and execCPUAffinity take effect", async () => {
  const r = await runToExit({
    script: "grep -E '^policy' /proc/self/sched | tr -s ' '; cut -d' ' -f19 /proc/self/stat; ionice -p $$; " +
      "sleep 0.3; grep Cpus_allowed_list /proc/self/status",
    mutate: (s) => {
      s.process!.scheduler = { policy: "SCHED_BATCH", nice: 7 };
      s.process!.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 6 };
      s.process!.execCPUAffinity = { initial: "0", final: "1" };
    },
  });
  assert.equal(r.exit.code, 0, r.exit.stderr);
  const lines = r.exit.appStdout.trim().split("\n");
  assert.equal(lines[0], "policy : 3", "SCHED_BATCH");
  assert.equal(lines[1], "7", "nice");
  assert.match(lines[2], /best-effort.*6/, "ioprio");
  assert.match(
    lines[3],
    /^Cpus_allowed_list:\s+1$/,
    "the final affinity replaces the initial one after exec",
  );
});

Deno.test("boot: capabilities and no_new_privs of a root app match the spec", async () => {
  const r = await runToExit({ script: CAPS_SCRIPT });
  const f = statusFields(r.exit.appStdout);
  assert.equal(f.Uid, "0\t0\t0\t0");
  assert.equal(f.CapBnd, "0000000020000420"); // AUDIT_WRITE, KILL, NET_BIND_SERVICE
  assert.equal(f.CapEff, "0000000020000420");
  assert.equal(f.CapPrm, "0000000020000420");
  assert.equal(f.CapAmb, "0000000000000000");
  assert.equal(f.NoNewPrivs, "1");
});

Deno.test("boot: a non-root app has its uid and no effective caps without ambient ones", async () => {
  const r = await runToExit({
    script: CAPS_SCRIPT,
    mutate: (s) => s.process!.user = { uid: 1000, gid: 1000 },
  });
  const f = statusFields(r.exit.appStdout);
  assert.equal(f.Uid, "1000\t1000\t1000\t1000");
  assert.equal(f.Gid, "1000\t1000\t1000\t1000");
  assert.equal(f.CapEff, "0000000000000000");
  assert.equal(f.CapPrm, "0000000000000000");
  assert.equal(f.CapAmb, "0000000000000000");
  assert.equal(f.CapBnd, "0000000020000420");
  assert.equal(f.NoNewPrivs, "1");
});

Deno.test("boot: a non-root app keeps its ambient caps", async () => {
  const r = await runToExit({
    script: CAPS_SCRIPT,
    mutate: (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      const caps = s.process!.capabilities!;
      caps.inheritable = ["CAP_KILL"];
      caps.ambient = ["CAP_KILL"];
    },
  });
  const f = statusFields(r.exit.appStdout);
  assert.equal(f.Uid, "1000\t1000\t1000\t1000");
  assert.equal(f.CapAmb, "0000000000000020");
  assert.equal(f.CapEff, "0000000000000020");
  assert.equal(f.CapInh, "0000000000000020");
});

Deno.test("boot: the app gets exactly fds 0-2, and boot keeps none of the wrapper's io/stdio fds", async () => {
  await withBoot({ script: "exec sleep 100", ...NO_PIDNS }, (b) => {
    const app = b.startRoot();
    const fds = [...Deno.readDirSync(`/proc/${app}/fd`)].map((e) => e.name).sort();
    assert.deepEqual(fds, ["0", "1", "2"]);
    const targets = fds.map((fd) => Deno.readLinkSync(`/proc/${app}/fd/${fd}`));
    assert.deepEqual(targets, b.appStdioNames, "the app's fds 0-2 are the wrapper's three pipes");
    const bootFds = new Set([...Deno.readDirSync(`/proc/${b.pid}/fd`)].map((e) => Number(e.name)));
    for (const fd of [FD.root, FD.appStdin, FD.appStdout, FD.appStderr]) {
      assert.ok(!bootFds.has(fd), `boot still holds fd ${fd}`);
    }
    b.call("Signal", { CID: b.id, Signo: 9, PID: 0, Mode: 0 });
  });
});

Deno.test("boot: --user-log-fd gets created, started and exit lines", async () => {
  const r = await runToExit({ script: "exit 2", userLog: true });
  const lines = r.exit.userLog.trim().split("\n");
  assert.equal(lines.length, 3, r.exit.userLog);
  assert.match(lines[0], /created/);
  assert.match(lines[1], /started/);
  assert.match(lines[2], /exit.*512/);
});

Deno.test("boot: --user-log-fd names the spec fields that are ignored", async () => {
  const r = await runToExit({
    script: "true",
    userLog: true,
    mutate: (s) => s.process!.apparmorProfile = "runts-test-profile",
  });
  assert.match(r.exit.userLog, /^ignored: .*apparmor/im, r.exit.userLog);
});

Deno.test("boot: --cpu-num 1 leaves the app one CPU", async () => {
  const r = await runToExit({ script: "nproc", flags: ["--cpu-num=1"] });
  assert.equal(r.exit.appStdout.trim(), "1");
  if (navigator.hardwareConcurrency > 1) {
    const all = await runToExit({ script: "nproc" });
    assert.equal(all.exit.appStdout.trim(), String(navigator.hardwareConcurrency));
  }
});

// ---------------------------------------------------------------------------------------------------
// Latency (measured, not asserted)

Deno.test("boot: latency and memory (logged)", async () => {
  const m = await measureOnce();
  console.log(
    `boot latency: spawn->sync ${m.syncMs.toFixed(1)} ms, StartRoot->Wait(true) ${m.runMs.toFixed(1)} ms, ` +
      `boot RSS ${m.rssKb} kB, PSS ${m.pssKb} kB`,
  );
});
