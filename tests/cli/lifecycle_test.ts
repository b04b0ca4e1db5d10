/**
 * End to end: bin/runts driven like an engine drives runc (create, start, state, kill, delete, run,
 * errors, logs, pid files, concurrency). Needs root.
 */
import assert from "node:assert/strict";
import { Fixture, ok, runts, state, waitFor } from "./helpers.ts";

Deno.test("lifecycle: create → created → start → running → kill → stopped → delete", async () => {
  const fx = new Fixture();
  try {
    const bundle = fx.bundle(["sleep", "60"]);
    const pidFile = `${fx.root}/../${crypto.randomUUID()}.pid`;
    assert.equal(await ok(fx.root, ["create", "--bundle", bundle, "--pid-file", pidFile, "c1"]), "");
    const pidText = Deno.readTextFileSync(pidFile);
    Deno.removeSync(pidFile);
    assert.match(pidText, /^[1-9][0-9]*$/, "decimal, no trailing newline");

    const created = await runts(fx.root, ["state", "c1"]);
    assert.equal(created.stderr, "");
    const doc = JSON.parse(created.stdout);
    assert.deepEqual(Object.keys(doc), [
      "ociVersion",
      "id",
      "pid",
      "status",
      "bundle",
      "rootfs",
      "created",
      "owner",
    ]);
    assert.equal(doc.status, "created");
    assert.equal(doc.id, "c1");
    assert.equal(doc.bundle, bundle);
    assert.equal(doc.pid, Number(pidText));
    // The pid is the container's own process (init waiting to exec), not boot.
    const comm = Deno.readTextFileSync(`/proc/${doc.pid}/cmdline`);
    assert.ok(comm.length > 0);

    await ok(fx.root, ["start", "c1"]);
    const running = await state(fx.root, "c1");
    assert.equal(running.status, "running");
    assert.equal(running.pid, doc.pid);
    assert.equal(Deno.readTextFileSync(`/proc/${doc.pid}/cmdline`).split("\0")[0], "sleep");

    const again = await runts(fx.root, ["start", "c1"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running/);

    await ok(fx.root, ["kill", "c1", "KILL"]);
    await waitFor(async () => (await state(fx.root, "c1")).status === "stopped", "stopped");
    assert.equal((await state(fx.root, "c1")).pid, 0);

    const killStopped = await runts(fx.root, ["kill", "c1"]);
    assert.equal(killStopped.code, 1);
    assert.match(killStopped.stderr, /container not running/);

    await ok(fx.root, ["delete", "c1"]);
    const gone = await runts(fx.root, ["state", "c1"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /container c1 does not exist/);
    assert.deepEqual([...Deno.readDirSync(fx.root)], []);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("run propagates the app's exit code and signal deaths, and leaves no state", async () => {
  const fx = new Fixture();
  try {
    const r = await runts(fx.root, [
      "run",
      "--bundle",
      fx.bundle(["sh", "-c", "echo out; echo err >&2; exit 3"]),
      "r1",
    ]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
    assert.deepEqual([...Deno.readDirSync(fx.root)], []);

    // The app is pid 1 of its pid namespace, so the signal has to come from outside.
    const killed = runts(fx.root, ["run", "--bundle", fx.bundle(["sleep", "60"]), "r2"]);
    await waitFor(
      async () => (await runts(fx.root, ["state", "r2"])).stdout.includes('"running"'),
      "r2 running",
    );
    await ok(fx.root, ["kill", "r2", "KILL"]);
    assert.equal((await killed).code, 137);

    const stdin = await runts(fx.root, [
      "run",
      "--bundle",
      fx.bundle(["sh", "-c", "read x; echo got $x"]),
      "r3",
    ], {
      stdin: "hello\n",
    });
    assert.equal(stdin.stdout, "got hello\n");

    const keep = await runts(fx.root, ["run", "--keep", "--bundle", fx.bundle(["true"]), "r4"]);
    assert.equal(keep.code, 0);
    assert.equal((await state(fx.root, "r4")).status, "stopped");
    await ok(fx.root, ["delete", "r4"]);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("run --detach, then wait prints the exit status", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sh", "-c", "sleep 0.5; exit 5"]), "w1"]);
    assert.equal((await state(fx.root, "w1")).status, "running");
    const out = await ok(fx.root, ["wait", "w1"]);
    assert.deepEqual(JSON.parse(out), { id: "w1", exitStatus: 5 });
    await waitFor(async () => (await state(fx.root, "w1")).status === "stopped", "stopped");
    await ok(fx.root, ["delete", "w1"]);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("run --detach from a shell: boot, whose parent is init, reaps the app itself as it ends", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sleep", "60"]), "z1"]);
    const rec = JSON.parse(Deno.readTextFileSync(`${fx.root}/z1/state.json`));
    const stat = (pid: number) => {
      try {
        return Deno.readTextFileSync(`/proc/${pid}/stat`);
      } catch {
        return null;
      }
    };
    assert.match(stat(rec.bootPid) ?? "", /^\d+ \(\S+\) \S+ 1 /, "boot's parent is init");
    await ok(fx.root, ["kill", "z1", "KILL"]);
    // boot exited: gone, or its own zombie waiting for init.
    await waitFor(() => /^\d+ \(\S+\) Z/.test(stat(rec.bootPid) ?? "1 (x) Z"), "boot to exit");
    // The app left no zombie for init to collect, whenever it gets round to it.
    assert.equal(stat(rec.pid), null);
    await ok(fx.root, ["delete", "z1"]);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("kill works on a created container; kill --all; signal names", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["create", "--bundle", fx.bundle(["sleep", "60"]), "k1"]);
    await ok(fx.root, ["kill", "k1", "sigkill"]);
    await waitFor(async () => (await state(fx.root, "k1")).status === "stopped", "created container killed");
    await ok(fx.root, ["delete", "k1"]);

    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sh", "-c", "sleep 60 & wait"]), "k2"]);
    await ok(fx.root, ["kill", "k2", "0"]); // a liveness probe, as with runc
    assert.equal((await state(fx.root, "k2")).status, "running");
    await ok(fx.root, ["kill", "--all", "k2", "9"]);
    await waitFor(async () => (await state(fx.root, "k2")).status === "stopped", "kill --all");
    await ok(fx.root, ["delete", "k2"]);

    const bad = await runts(fx.root, ["kill", "k2", "NOPE"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown signal/);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("delete: missing id exits 1 unless --force; running needs --force", async () => {
  const fx = new Fixture();
  try {
    const missing = await runts(fx.root, ["delete", "nope"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /container nope does not exist/);
    assert.equal((await runts(fx.root, ["delete", "--force", "nope"])).code, 0);

    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sleep", "60"]), "d1"]);
    const refused = await runts(fx.root, ["delete", "d1"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not stopped: running/);
    const pid = (await state(fx.root, "d1")).pid;
    await ok(fx.root, ["delete", "--force", "d1"]);
    assert.equal((await runts(fx.root, ["state", "d1"])).code, 1);
    await waitFor(() => {
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
        return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
      } catch {
        return true;
      }
    }, "the app to be dead");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("--log with --log-format json gets the error line, stderr gets the message", async () => {
  const fx = new Fixture();
  try {
    const logFile = `${fx.root}.log`;
    const r = await runts(fx.root, ["--log", logFile, "--log-format", "json", "state", "missing"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /container missing does not exist/);
    const lines = Deno.readTextFileSync(logFile).trim().split("\n");
    const last = JSON.parse(lines[lines.length - 1]);
    assert.equal(last.level, "error");
    assert.equal(last.msg, "container missing does not exist");
    assert.ok(last.time);
    Deno.removeSync(logFile);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("invalid ids and bundles are refused clearly", async () => {
  const fx = new Fixture();
  try {
    const badId = await runts(fx.root, ["create", "--bundle", fx.bundle(["true"]), "../x"]);
    assert.equal(badId.code, 1);
    assert.match(badId.stderr, /invalid container id/);
    const noBundle = await runts(fx.root, ["create", "--bundle", "/nonexistent-bundle", "b1"]);
    assert.equal(noBundle.code, 1);
    assert.match(noBundle.stderr, /config\.json/);
    assert.deepEqual([...Deno.readDirSync(fx.root)], [], "a failed create leaves no state");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("concurrent creates of one id: exactly one wins", async () => {
  const fx = new Fixture();
  try {
    const bundle = fx.bundle(["sleep", "60"]);
    const results = await Promise.all(
      [0, 1, 2].map(() => runts(fx.root, ["create", "--bundle", bundle, "same"])),
    );
    const winners = results.filter((r) => r.code === 0);
    assert.equal(winners.length, 1, JSON.stringify(results));
    for (const r of results.filter((r) => r.code !== 0)) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /container same already exists/);
    }
    assert.equal((await state(fx.root, "same")).status, "created");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("pid file names the container's process, which a subreaper reaps with the app's status", async () => {
  const fx = new Fixture();
  try {
    const bundle = fx.bundle(["sh", "-c", "sleep 0.3; exit 3"]);
    const helper = new URL("./subreaper_helper.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", helper, fx.root, bundle, "sr1"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr) + text);
    const report = JSON.parse(text);
    assert.equal(report.createCode, 0);
    assert.equal(report.startCode, 0);
    assert.match(report.pidFile, /^[0-9]+$/);
    assert.equal(report.statePid, Number(report.pidFile));
    assert.equal(report.appExitCode, 3, "the subreaper reaped the app itself");
    assert.ok(report.reaped.includes(Number(report.pidFile)));
  } finally {
    await fx.cleanup();
  }
});
