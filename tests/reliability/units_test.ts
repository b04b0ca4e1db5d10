/**
 * Unit tests of the reliability mechanisms: the exit-status record, status resolution with it, fd-free
 * removal of a state directory, the boot flag for the exit-status fd, pause points, error hints, and
 * boot's confirmation wait on the start-sync socket.
 */
import assert from "node:assert/strict";
import { linux, SOCK } from "../../ffi/mod.ts";
import { type ContainerRecord, StateDir } from "../../src/wrapper/state_file.ts";
import { resolveLiveState } from "../../src/wrapper/status.ts";
import { bootCommand } from "../../src/wrapper/boot_args.ts";
import { abandonCreate, confirmCreated, fdLimitHint } from "../../src/wrapper/sandbox.ts";
import { testPause } from "../../src/util/test_pause.ts";
import { exiting } from "../../src/boot/procs.ts";
import { SyscallError } from "../../ffi/error.ts";

function record(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    version: 1,
    id: "c1",
    bundle: "/b",
    rootfs: "/b/rootfs",
    status: "running",
    pid: 42,
    bootPid: 41,
    bootStartTime: "100",
    controlAddress: "/x/control.sock",
    created: "2026-01-01T00:00:00.000Z",
    owner: "root",
    annotations: {},
    spec: { ociVersion: "1.2.0" },
    ...over,
  };
}

Deno.test("readExitStatus: the last complete line for the pid; none before boot wrote one", () => {
  const root = Deno.makeTempDirSync({ prefix: "runts-unit-" });
  try {
    const dir = new StateDir(root, "c1");
    dir.createExclusive();
    assert.equal(dir.readExitStatus(42), null);
    Deno.writeTextFileSync(dir.exitStatusPath, "77 256\n42 137\n77 0\n42 9");
    assert.equal(dir.readExitStatus(42), 137, "a line without its newline is still being written");
    assert.equal(dir.readExitStatus(77), 0, "the last line for a pid wins");
    assert.equal(dir.readExitStatus(5), null);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("resolveLiveState: a stopped container carries the recorded exit status", () => {
  const probe = {
    createInProgress: () => false,
    bootAlive: () => false,
    bootState: () => null,
    recordedExit: () => 768,
  };
  assert.deepEqual(resolveLiveState(record(), probe), { status: "stopped", pid: 0, exitStatus: 768 });
  assert.deepEqual(resolveLiveState(record({ status: "creating" }), probe).exitStatus, 768);
  let asked = 0;
  const alive = {
    ...probe,
    bootAlive: () => true,
    bootState: () => ({ pid: 42, status: "running" as const, exitStatus: null }),
    recordedExit: () => (asked++, 1),
  };
  assert.equal(resolveLiveState(record(), alive).status, "running");
  assert.equal(asked, 0, "the record is read only for a stopped container");
});

Deno.test("StateDir.remove: known files by name, then the directory, also with strays inside", () => {
  const root = Deno.makeTempDirSync({ prefix: "runts-unit-" });
  try {
    const dir = new StateDir(root, "c1");
    dir.createExclusive();
    for (const p of [dir.statePath, dir.lockPath, dir.bootLogPath, dir.exitStatusPath]) {
      Deno.writeTextFileSync(p, "x");
    }
    dir.remove();
    assert.deepEqual([...Deno.readDirSync(root)], []);
    dir.createExclusive();
    Deno.writeTextFileSync(`${dir.dir}/.state.json.1.tmp`, "torn");
    dir.remove();
    assert.deepEqual([...Deno.readDirSync(root)], []);
    dir.remove(); // a missing directory is fine
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("bootCommand donates the exit-status fd last, and only when given", () => {
  const base = {
    own: [50, 50, 51] as [number, number, number],
    controller: 60,
    mounts: 61,
    spec: 62,
    startSync: 63,
    io: [70],
    stdio: [0, 1, 2] as [number, number, number],
    preserved: [],
  };
  const opts = { globalFlags: [], bundle: "/b", id: "c1", pidns: false, attached: false, noPivot: false };
  assert.ok(!bootCommand(opts, base).args.some((a) => a.startsWith("--exit-status-fd")));
  const cmd = bootCommand(opts, { ...base, exitStatus: 80 });
  assert.ok(cmd.args.includes("--exit-status-fd=11"));
  assert.equal(cmd.fds.get(11), 80);
});

Deno.test("testPause is inert unless both variables name the point", () => {
  const dir = Deno.makeTempDirSync({ prefix: "runts-unit-" });
  try {
    Deno.env.delete("RUNTS_TEST_PAUSE");
    Deno.env.set("RUNTS_TEST_PAUSE_DIR", dir);
    testPause("init-start");
    Deno.env.set("RUNTS_TEST_PAUSE", "boot-before-sync");
    testPause("init-start");
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    Deno.env.delete("RUNTS_TEST_PAUSE");
    Deno.env.delete("RUNTS_TEST_PAUSE_DIR");
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("testPause blocks at a listed point until its marker is removed", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "runts-unit-" });
  try {
    const code = `import { testPause } from ${
      JSON.stringify(new URL("../../src/util/test_pause.ts", import.meta.url).href)
    };
      testPause("boot-before-start"); console.log("released");`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      env: { RUNTS_TEST_PAUSE: "x,boot-before-start", RUNTS_TEST_PAUSE_DIR: dir },
      stdout: "piped",
    }).spawn();
    let marker = "";
    for (let i = 0; i < 500 && !marker; i++) {
      marker = [...Deno.readDirSync(dir)].map((e) => e.name)[0] ?? "";
      if (!marker) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(marker, `boot-before-start.${child.pid}`);
    Deno.removeSync(`${dir}/${marker}`);
    const out = await child.output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "released");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fdLimitHint names RLIMIT_NOFILE for EMFILE and EBADF only", () => {
  assert.match(fdLimitHint(new SyscallError("pipe2", "", 24)), /RLIMIT_NOFILE/);
  assert.match(fdLimitHint(new SyscallError("dup2", "5", 9)), /RLIMIT_NOFILE/);
  assert.equal(fdLimitHint(new SyscallError("open", "/x", 2)), "");
  assert.equal(fdLimitHint(new Error("EMFILE")), "");
});

Deno.test("confirmCreated sends one byte; abandonCreate closes without one", () => {
  const k = linux;
  const [ours, boots] = k.socketpair(SOCK.STREAM | SOCK.CLOEXEC);
  confirmCreated(k, { pid: 0, startTime: "", syncFd: ours });
  const buf = new Uint8Array(4);
  assert.equal(k.read(boots, buf), 1);
  assert.equal(k.read(boots, buf), 0, "closed after the byte");
  k.close(boots);

  const [a, b] = k.socketpair(SOCK.STREAM | SOCK.CLOEXEC);
  const sb = { pid: 0, startTime: "", syncFd: a };
  abandonCreate(k, sb);
  abandonCreate(k, sb);
  assert.equal(k.read(b, buf), 0, "EOF without a byte");
  k.close(b);

  const [c, d] = k.socketpair(SOCK.STREAM | SOCK.CLOEXEC);
  k.close(d);
  assert.throws(
    () => confirmCreated(k, { pid: 0, startTime: "", syncFd: c }),
    /boot went away before the container was created/,
  );
});

Deno.test("exiting: a live process is not, a missing one is", () => {
  assert.equal(exiting(Deno.pid), false);
  assert.equal(exiting(0x3fffffff), true);
});
