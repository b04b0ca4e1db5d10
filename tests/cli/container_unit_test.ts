/**
 * Unit tests of the wrapper's building blocks: IDs, signals, state files and locks, status resolution,
 * the boot command line, mounts, hooks, ptys, exec process building and output formats.
 */
import assert from "node:assert/strict";
import { linux, O, SOCK } from "../../ffi/mod.ts";
import { fakeKernel } from "../../ffi/fake.ts";
import { validateID } from "../../src/wrapper/id.ts";
import { parseSignal } from "../../src/wrapper/signal.ts";
import { type ContainerRecord, listIDs, StateDir } from "../../src/wrapper/state_file.ts";
import { FileLock } from "../../src/wrapper/lock.ts";
import { resolveLiveState, type StatusProbe } from "../../src/wrapper/status.ts";
import { isAlive, parseProcStat, readProcStat } from "../../src/wrapper/proc.ts";
import { writeFileAtomic } from "../../src/wrapper/atomic.ts";
import { HookError, runHook, runHooks } from "../../src/wrapper/hooks.ts";
import { ContainerError } from "../../src/wrapper/errors.ts";
import { bootCommand, bootEnv, controlAddress } from "../../src/wrapper/boot_args.ts";
import { resolveMounts } from "../../src/wrapper/mounts.ts";
import { openBindSources } from "../../src/boot/spawn_init.ts";
import { openPty, sendConsole } from "../../src/wrapper/pty.ts";
import { processFromFlags, readProcessFile } from "../../src/cmd/exec.ts";
import { features } from "../../src/cmd/features.ts";
import { processTable } from "../../src/cmd/ps.ts";
import { listTable } from "../../src/cmd/list.ts";
import { parseInterval } from "../../src/cmd/events.ts";
import type { Spec } from "../../src/specutils/spec.ts";

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "runts-unit-" });
}

function record(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    version: 1,
    id: "c1",
    bundle: "/b",
    rootfs: "/b/rootfs",
    status: "created",
    pid: 42,
    bootPid: 41,
    bootStartTime: "100",
    controlAddress: "/run/runts/c1/control.sock",
    created: "2026-01-01T00:00:00.000Z",
    owner: "root",
    annotations: {},
    spec: { ociVersion: "1.2.0" },
    ...over,
  };
}

Deno.test("validateID accepts runsc's alphabet and rejects path tricks", () => {
  for (const id of ["a", "c1", "my-ctr_2.x", "a+b,c", "0123456789abcdef".repeat(4)]) validateID(id);
  for (const id of ["", ".", "..", "a..b", "a/b", "x y", "ä", "a\n"]) {
    assert.throws(() => validateID(id), (e) => e instanceof ContainerError && e.kind === "invalid", id);
  }
});

Deno.test("parseSignal: names with or without SIG in any case, numbers, realtime", () => {
  assert.equal(parseSignal("TERM"), 15);
  assert.equal(parseSignal("SIGTERM"), 15);
  assert.equal(parseSignal("sigkill"), 9);
  assert.equal(parseSignal("Kill"), 9);
  assert.equal(parseSignal("9"), 9);
  assert.equal(parseSignal("usr1"), 10);
  assert.equal(parseSignal("RTMIN"), 34);
  assert.equal(parseSignal("SIGRTMIN+2"), 36);
  assert.equal(parseSignal("RTMAX-1"), 63);
  assert.equal(parseSignal("0"), 0, "signal 0 probes the process, as kill(2) and runc allow");
  for (const bad of ["65", "FOO", "SIG", "RTMIN-1", "-9", ""]) {
    assert.throws(() => parseSignal(bad), bad);
  }
});

Deno.test("StateDir: exclusive creation, atomic save, load, remove", () => {
  const root = `${tempDir()}/state`;
  const d = new StateDir(root, "c1");
  d.createExclusive();
  assert.equal(Deno.statSync(root).mode! & 0o777, 0o711);
  assert.throws(() => new StateDir(root, "c1").createExclusive(), /container c1 already exists/);
  assert.throws(() => d.load(), (e) => e instanceof ContainerError && e.kind === "not-exist");
  const rec = record();
  d.save(rec);
  assert.deepEqual(d.load(), rec);
  assert.deepEqual([...Deno.readDirSync(d.dir)].map((e) => e.name), ["state.json"]);
  assert.deepEqual(listIDs(root), ["c1"]);
  d.remove();
  assert.equal(d.exists(), false);
  assert.deepEqual(listIDs(root), []);
  assert.deepEqual(listIDs(`${root}/missing`), []);
  Deno.removeSync(root.slice(0, root.lastIndexOf("/")), { recursive: true });
});

Deno.test("StateDir.save writes only a record that differs from the one it last read or wrote", () => {
  const root = tempDir();
  const d = new StateDir(root, "c1");
  d.createExclusive();
  const ino = () => Deno.statSync(d.statePath).ino;
  d.save(record());
  const first = ino();
  d.save(record());
  assert.equal(ino(), first, "the same record is not written again");
  d.save(record({ status: "running" }));
  assert.notEqual(ino(), first);
  // Another writer changed the file: a fresh load sees it, and saving what was loaded writes nothing.
  const other = new StateDir(root, "c1");
  other.save(record({ status: "stopped" }));
  const theirs = ino();
  assert.equal(d.load().status, "stopped");
  d.save(record({ status: "stopped" }));
  assert.equal(ino(), theirs);
  d.save(record({ status: "running" }));
  assert.equal(d.load().status, "running");
  Deno.removeSync(root, { recursive: true });
});

Deno.test("readProcStat: a process reaped between the open and the read of its stat file is gone", async () => {
  const child = new Deno.Command("/bin/true").spawn();
  const file = Deno.openSync(`/proc/${child.pid}/stat`);
  await child.status;
  try {
    const readOpened = () => {
      const buf = new Uint8Array(1024);
      return new TextDecoder().decode(buf.subarray(0, file.readSync(buf) ?? 0));
    };
    assert.equal(readProcStat(child.pid, readOpened), null);
  } finally {
    file.close();
  }
});

Deno.test("StateDir.load rejects a record of another container", () => {
  const root = tempDir();
  const d = new StateDir(root, "c2");
  d.createExclusive();
  d.save(record({ id: "other" }));
  assert.throws(() => d.load(), /not a runts container record/);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("writeFileAtomic replaces content without leaving temporary files", () => {
  const dir = tempDir();
  writeFileAtomic(`${dir}/pid`, "123");
  writeFileAtomic(`${dir}/pid`, "4567");
  assert.equal(Deno.readTextFileSync(`${dir}/pid`), "4567");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["pid"]);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("FileLock: exclusive lock is seen by a probe and by a non-waiting acquire", () => {
  const dir = tempDir();
  const path = `${dir}/lock`;
  assert.equal(FileLock.isHeld(linux, path), false);
  const l = FileLock.acquire(linux, path, true)!;
  assert.equal(FileLock.isHeld(linux, path), true);
  assert.equal(FileLock.acquire(linux, path, true, false), null);
  l.release();
  l.release();
  assert.equal(FileLock.isHeld(linux, path), false);
  const again = FileLock.acquire(linux, path, false, false);
  assert.ok(again);
  again.release();
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("FileLock: a second process blocks until the first releases", async () => {
  const dir = tempDir();
  const path = `${dir}/lock`;
  const l = FileLock.acquire(linux, path, true)!;
  const script = `
    import { linux } from "${new URL("../../ffi/mod.ts", import.meta.url).href}";
    import { FileLock } from "${new URL("../../src/wrapper/lock.ts", import.meta.url).href}";
    const t = Date.now();
    FileLock.acquire(linux, ${JSON.stringify(path)}, true)!.release();
    console.log(Date.now() - t);`;
  const child = new Deno.Command(Deno.execPath(), { args: ["eval", script], stdout: "piped" }).spawn();
  await new Promise((r) => setTimeout(r, 600));
  l.release();
  const out = await child.output();
  assert.ok(out.success);
  assert.ok(Number(new TextDecoder().decode(out.stdout)) >= 200, "the child waited for the lock");
  Deno.removeSync(dir, { recursive: true });
});

function probe(over: Partial<StatusProbe> = {}): StatusProbe {
  return {
    createInProgress: () => false,
    bootAlive: () => true,
    bootState: () => ({ pid: 42, status: "running", exitStatus: null }),
    ...over,
  };
}

Deno.test("resolveLiveState: record, boot liveness and boot's answer", () => {
  assert.equal(resolveLiveState(record({ status: "stopped" }), probe()).status, "stopped");
  assert.equal(
    resolveLiveState(record({ status: "creating" }), probe({ createInProgress: () => true })).status,
    "creating",
  );
  assert.equal(resolveLiveState(record({ status: "creating" }), probe()).status, "stopped");
  assert.deepEqual(resolveLiveState(record(), probe({ bootAlive: () => false })), {
    status: "stopped",
    pid: 0,
    exitStatus: null,
  });
  assert.equal(resolveLiveState(record(), probe({ bootState: () => null })).status, "stopped");
  assert.deepEqual(
    resolveLiveState(
      record(),
      probe({ bootState: () => ({ pid: 42, status: "created", exitStatus: null }) }),
    ),
    {
      status: "created",
      pid: 42,
      exitStatus: null,
    },
  );
  assert.equal(resolveLiveState(record({ status: "running" }), probe()).status, "running");
  assert.equal(resolveLiveState(record({ status: "paused" }), probe()).status, "paused");
  assert.deepEqual(
    resolveLiveState(
      record({ status: "running" }),
      probe({ bootState: () => ({ pid: 42, status: "stopped", exitStatus: 768 }) }),
    ),
    { status: "stopped", pid: 0, exitStatus: 768 },
  );
  const failing = probe({
    bootState: () => {
      throw new Error("unknown method");
    },
  });
  assert.equal(resolveLiveState(record({ status: "running" }), failing).status, "running");
});

Deno.test("parseProcStat handles odd command names; isAlive checks identity and zombies", () => {
  const text = "123 (a) b) c) S 1 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10 " +
    "0 ".repeat(30);
  assert.deepEqual(parseProcStat(text), { state: "S", ppid: 1, startTime: "98765" });
  assert.equal(parseProcStat("garbage"), null);
  const me = readProcStat(Deno.pid)!;
  assert.ok(isAlive(Deno.pid, me.startTime));
  assert.ok(!isAlive(Deno.pid, "1"));
  assert.ok(!isAlive(0));
  assert.ok(!isAlive(7, undefined, () => ({ state: "Z", ppid: 1, startTime: "5" })));
});

Deno.test("bootCommand numbers donated fds in runsc's order", () => {
  const cmd = bootCommand(
    { globalFlags: ["--root=/r"], bundle: "/b", id: "c1", pidns: true, attached: true, noPivot: false },
    {
      own: [50, 50, 51],
      controller: 60,
      mounts: 61,
      spec: 62,
      startSync: 63,
      io: [70, 71],
      stdio: [0, 1, 2],
      preserved: [3],
    },
  );
  assert.deepEqual(cmd.args, [
    "--root=/r",
    "boot",
    "--bundle=/b",
    "--controller-fd=3",
    "--mounts-fd=4",
    "--spec-fd=5",
    "--start-sync-fd=6",
    "--io-fds=7",
    "--io-fds=8",
    "--stdio-fds=9",
    "--stdio-fds=10",
    "--stdio-fds=11",
    "--preserve-fd=12",
    "--pidns",
    "--attached",
    "c1",
  ]);
  assert.deepEqual([...cmd.fds], [
    [0, 50],
    [1, 50],
    [2, 51],
    [3, 60],
    [4, 61],
    [5, 62],
    [6, 63],
    [7, 70],
    [8, 71],
    [9, 0],
    [10, 1],
    [11, 2],
    [12, 3],
  ]);
});

Deno.test("bootEnv drops _OCI_ variables; controlAddress falls back to an abstract name", () => {
  assert.deepEqual(bootEnv({ PATH: "/bin", _OCI_SYNCPIPE: "3", _OCI_STARTPIPE: "4", X: "a=b" }), [
    "PATH=/bin",
    "X=a=b",
  ]);
  assert.equal(controlAddress("/run/runts/c1/control.sock", "c1", "r"), "/run/runts/c1/control.sock");
  const long = "/" + "x".repeat(120) + "/control.sock";
  assert.equal(controlAddress(long, "c1", "abcd"), "@runts-c1-abcd");
  assert.ok(new TextEncoder().encode(controlAddress(long, "y".repeat(200), "abcd")).length <= 107);
});

Deno.test("resolveMounts and openBindSources: bind sources absolute, opened O_PATH in order", () => {
  const mounts = resolveMounts([
    { destination: "/proc", type: "proc", source: "proc" },
    { destination: "/data", type: "bind", source: "data", options: ["rbind"] },
    { destination: "/etc/x", source: "/etc/hosts", options: ["bind", "ro"] },
  ], "/bundle");
  assert.equal(mounts[0].source, "proc");
  assert.equal(mounts[1].source, "/bundle/data");
  assert.equal(mounts[2].source, "/etc/hosts");
  let next = 100;
  const fk = fakeKernel({ open: () => next++ });
  assert.deepEqual(openBindSources(fk.kernel, mounts), [100, 101]);
  assert.deepEqual(fk.calls.map((c) => c.args), [["/bundle/data", O.PATH | O.CLOEXEC], [
    "/etc/hosts",
    O.PATH | O.CLOEXEC,
  ]]);
  const failing = fakeKernel({
    open: (p: unknown) => {
      if (p === "/etc/hosts") throw new Error("openat /etc/hosts: ENOENT");
      return 7;
    },
  });
  assert.throws(
    () => openBindSources(failing.kernel, mounts),
    /bind mount \/etc\/x: openat \/etc\/hosts: ENOENT/,
  );
  assert.deepEqual(failing.names(), ["open", "open", "close"]);
});

Deno.test("runHook: exact argv and env, state on stdin, failure and timeout", async () => {
  const dir = tempDir();
  const out = `${dir}/out`;
  const state = JSON.stringify({ ociVersion: "1.2.0", id: "c1", status: "creating", pid: 5, bundle: "/b" });
  await runHook(linux, "prestart", {
    path: "/bin/sh",
    args: ["hook-argv0", "-c", `echo "$0 $FOO $(cat)" > ${out}`],
    env: ["FOO=bar"],
  }, state);
  assert.equal(Deno.readTextFileSync(out).trim(), `hook-argv0 bar ${state}`);
  await assert.rejects(
    runHook(linux, "createRuntime", { path: "/bin/sh", args: ["sh", "-c", "echo oops >&2; exit 3"] }, state),
    (e) =>
      e instanceof HookError &&
      /createRuntime hook \/bin\/sh failed: exit status 3, output: oops/.test(e.message),
  );
  const t = Date.now();
  await assert.rejects(
    runHook(linux, "poststart", { path: "/bin/sh", args: ["sh", "-c", "sleep 10"], timeout: 1 }, state),
    /hook ran past specified timeout of 1 sec/,
  );
  assert.ok(Date.now() - t < 5000);
  // A hook that never reads a state larger than a pipe holds still times out, instead of blocking us.
  const big = JSON.stringify({ annotations: { x: "y".repeat(256 * 1024) } });
  const t0 = Date.now();
  await assert.rejects(
    runHook(linux, "poststart", { path: "/bin/sh", args: ["sh", "-c", "sleep 10"], timeout: 1 }, big),
    /hook ran past specified timeout of 1 sec/,
  );
  assert.ok(Date.now() - t0 < 5000, "the timeout covers writing stdin");
  await assert.rejects(runHook(linux, "poststop", { path: "relative" }, state), /path must be absolute/);
  await assert.rejects(
    runHook(linux, "poststop", { path: "/nonexistent/hook" }, state),
    /poststop hook \/nonexistent\/hook/,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("runHooks runs one stage in order and stops at the first failure", async () => {
  const dir = tempDir();
  const log = `${dir}/log`;
  const hook = (n: string, code = 0) => ({
    path: "/bin/sh",
    args: ["sh", "-c", `echo ${n} >> ${log}; exit ${code}`],
  });
  const st = { ociVersion: "1.2.0", id: "c", status: "created" as const, pid: 1, bundle: "/b" };
  await runHooks(
    linux,
    "startContainer",
    { startContainer: [hook("a"), hook("b")], poststart: [hook("x")] },
    st,
  );
  assert.equal(Deno.readTextFileSync(log), "a\nb\n");
  await assert.rejects(runHooks(linux, "poststop", { poststop: [hook("c", 1), hook("d")] }, st));
  assert.equal(Deno.readTextFileSync(log), "a\nb\nc\n");
  await runHooks(linux, "prestart", undefined, st);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("openPty and sendConsole: the receiver gets a working master", () => {
  const dir = tempDir();
  const path = `${dir}/console.sock`;
  const k = linux;
  const listener = k.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC, 0);
  k.bind(listener, path);
  k.listen(listener, 1);
  const pty = openPty(k);
  assert.match(pty.slavePath, /^\/dev\/pts\/\d+$/);
  sendConsole(k, path, pty.master); // connect completes against the backlog
  const conn = k.accept4(listener, SOCK.CLOEXEC)!;
  const buf = new Uint8Array(64);
  const got = k.recvmsg(conn, buf, 4)!;
  assert.equal(new TextDecoder().decode(buf.subarray(0, got.n)), "/dev/ptmx");
  assert.equal(got.fds.length, 1);
  const master = got.fds[0];
  k.write(master, new TextEncoder().encode("ping\n"));
  const n = k.read(pty.slave, buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "ping\n");
  for (const fd of [master, pty.master, pty.slave, conn, listener]) k.close(fd);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("processFromFlags applies runc's exec overrides to the container process", () => {
  const spec: Spec = {
    ociVersion: "1.2.0",
    process: {
      terminal: true,
      consoleSize: { height: 1, width: 2 },
      user: { uid: 5, gid: 6 },
      args: ["sh"],
      env: ["PATH=/bin"],
      cwd: "/",
      capabilities: { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"] },
    },
  };
  const p = processFromFlags(spec, {
    args: ["ls", "-l"],
    cwd: "/tmp",
    env: ["A=1"],
    tty: false,
    user: "1000:1001",
    additionalGids: [7],
    caps: ["CAP_CHOWN"],
    noNewPrivs: true,
  });
  assert.deepEqual(p.args, ["ls", "-l"]);
  assert.equal(p.cwd, "/tmp");
  assert.deepEqual(p.env, ["PATH=/bin", "A=1"]);
  assert.equal(p.terminal, false);
  assert.equal(p.consoleSize, undefined);
  assert.deepEqual(p.user, { uid: 1000, gid: 1001, additionalGids: [7] });
  assert.deepEqual(p.capabilities?.bounding, ["CAP_KILL", "CAP_CHOWN"]);
  assert.equal(p.capabilities?.ambient, undefined);
  assert.equal(p.noNewPrivileges, true);
  assert.deepEqual(spec.process!.env, ["PATH=/bin"], "the spec is not modified");
  assert.deepEqual(
    processFromFlags(spec, { args: ["x"], env: [], additionalGids: [], caps: [], user: "3" }).user,
    { uid: 3, gid: 6 },
    "without :gid the container user's gid stays (runc), never root's group",
  );
  assert.throws(() =>
    processFromFlags(spec, { args: ["x"], env: [], additionalGids: [], caps: [], user: "root" })
  );
});

Deno.test("readProcessFile fills cwd and user, rejects empty args", () => {
  const dir = tempDir();
  Deno.writeTextFileSync(`${dir}/p.json`, JSON.stringify({ args: ["true"] }));
  assert.deepEqual(readProcessFile(`${dir}/p.json`), { args: ["true"], cwd: "/", user: { uid: 0, gid: 0 } });
  Deno.writeTextFileSync(`${dir}/bad.json`, JSON.stringify({ args: [] }));
  assert.throws(() => readProcessFile(`${dir}/bad.json`), /args must not be empty/);
  assert.throws(() => readProcessFile(`${dir}/missing.json`), /reading process file/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("features claims only implemented things", () => {
  const f = features() as {
    ociVersionMin: string;
    ociVersionMax: string;
    hooks: string[];
    mountOptions: string[];
    linux: Record<string, unknown>;
  };
  assert.equal(f.ociVersionMin, "1.0.0");
  assert.equal(f.ociVersionMax, "1.2.0");
  assert.equal(f.hooks.length, 6);
  assert.ok(f.mountOptions.includes("rbind") && f.mountOptions.includes("ro"));
  assert.ok(!f.mountOptions.includes("iversion"), "options validation refuses are not claimed");
  assert.equal(typeof (f.linux.seccomp as { enabled: boolean }).enabled, "boolean");
  assert.ok((f.linux.namespaces as string[]).includes("pid"));
  assert.deepEqual(
    [...(f.linux.namespaces as string[])].sort(),
    ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
  );
  assert.ok(f.mountOptions.includes("idmap") && f.mountOptions.includes("ridmap"));
  assert.deepEqual(f.linux.mountExtensions, { idmap: { enabled: true } });
});

Deno.test("output formats: ps table, list table, intervals", () => {
  const t = processTable([{
    uid: 0,
    pid: 12,
    ppid: 1,
    c: 0,
    stime: "10:00",
    tty: "?",
    time: "00:00:00",
    cmd: "sh -c x",
  }]);
  assert.equal(t.split("\n")[0].split(/\s+/).join(" "), "UID PID PPID C STIME TTY TIME CMD");
  assert.match(t.split("\n")[1], /^0\s+12\s+1\s+0\s+10:00\s+\?\s+00:00:00\s+sh -c x$/);
  const l = listTable([{
    ociVersion: "1.2.0",
    id: "c1",
    pid: 5,
    status: "running",
    bundle: "/b",
    rootfs: "/r",
    created: "t",
    owner: "root",
  }]);
  assert.match(l, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\nc1\s+5\s+running\s+\/b\s+t\s+root\n$/);
  assert.equal(parseInterval("5"), 5000);
  assert.equal(parseInterval("5s"), 5000);
  assert.equal(parseInterval("250ms"), 250);
  assert.equal(parseInterval("1m"), 60000);
  assert.throws(() => parseInterval("0s"));
  assert.throws(() => parseInterval("abc"));
});
