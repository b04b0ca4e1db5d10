/**
 * Fault injection: SIGKILL the wrapper, boot, init or the app at each stage of a container's life
 * (pause points stop a process at an exact stage; see src/util/test_pause.ts). Afterwards `state` tells
 * the truth, every process of the container goes away by itself, `delete --force` removes the rest, and
 * nothing is left: no process, file under --root, mount or cgroup directory. Needs root.
 */
import assert from "node:assert/strict";
import { alive, kill9, waitFor, World } from "./helpers.ts";

/** The end of every scenario: the state runts reports, then delete --force, then nothing left. */
async function settle(w: World, id: string, status: string | null, what: string): Promise<void> {
  w.pauseAt();
  const st = await w.state(id);
  assert.equal(st?.status ?? null, status, `${what}: state`);
  if (status === "stopped" || status === null) {
    // Nothing of a stopped container may still run, even before anyone deletes it.
    await waitFor(() => w.processes().length === 0, `${what}: the container's processes to go`, 10_000);
  }
  const del = await w.run(["delete", "--force", id]);
  assert.equal(del.code, 0, `${what}: delete --force: ${del.stderr}`);
  assert.equal(await w.state(id), null, `${what}: gone after delete`);
  await w.assertClean(what);
}

/** Runs `body` in a fresh world and always cleans it up. */
async function inWorld(body: (w: World) => Promise<void>): Promise<void> {
  const w = new World();
  try {
    await body(w);
  } finally {
    await w.cleanup();
  }
}

Deno.test("create: wrapper killed after spawning boot, before the sync byte → stopped, boot gives up", async () => {
  await inWorld(async (w) => {
    w.pauseAt("create-before-sync");
    const create = w.start(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    assert.equal(await w.paused("create-before-sync"), create.pid);
    assert.ok(w.record("c").bootPid > 0, "boot's pid is recorded before the sync byte");
    await create.kill();
    await settle(w, "c", "stopped", "wrapper killed before sync");
  });
});

Deno.test("create: boot killed before the sync byte → create fails clearly, nothing left", async () => {
  await inWorld(async (w) => {
    w.pauseAt("boot-before-sync");
    const create = w.start(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    kill9(await w.paused("boot-before-sync"));
    const r = await create.done;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /boot failed \(signal 9\)|waiting for sandbox to start: EOF/);
    await settle(w, "c", null, "boot killed before sync");
  });
});

Deno.test("create: wrapper killed while boot is before the sync byte → boot exits on its own", async () => {
  await inWorld(async (w) => {
    w.pauseAt("boot-before-sync");
    const create = w.start(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const boot = await w.paused("boot-before-sync");
    await create.kill();
    w.release("boot-before-sync");
    await waitFor(() => !alive(boot), "boot to exit after its creator died");
    await settle(w, "c", "stopped", "wrapper killed while boot before sync");
  });
});

Deno.test("create: init killed before it is ready → create fails clearly, nothing left", async () => {
  await inWorld(async (w) => {
    w.pauseAt("init-start");
    const create = w.start(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    kill9(await w.paused("init-start"));
    const r = await create.done;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /init exited before it was ready/);
    await settle(w, "c", null, "init killed before ready");
  });
});

Deno.test("create: wrapper killed after the sync byte, before 'created' → boot destroys the container", async () => {
  await inWorld(async (w) => {
    w.pauseAt("create-after-sync");
    const create = w.start(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    await w.paused("create-after-sync");
    const { bootPid, pid } = w.record("c");
    assert.ok(alive(bootPid) && alive(pid));
    await create.kill();
    await waitFor(() => !alive(bootPid) && !alive(pid), "boot and init to go");
    await settle(w, "c", "stopped", "wrapper killed after sync");
  });
});

Deno.test("create: boot killed after the sync byte → init dies, create fails clearly", async () => {
  await inWorld(async (w) => {
    w.pauseAt("create-after-sync");
    const create = w.start(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    await w.paused("create-after-sync");
    const { bootPid, pid } = w.record("c");
    kill9(bootPid);
    await waitFor(() => !alive(pid), "init to die with boot");
    w.release("create-after-sync");
    const r = await create.done;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /boot went away before the container was created/);
    await settle(w, "c", null, "boot killed after sync");
  });
});

Deno.test("created: boot killed → init dies, stopped", async () => {
  await inWorld(async (w) => {
    await w.ok(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const { bootPid, pid } = w.record("c");
    kill9(bootPid);
    await waitFor(() => !alive(pid), "init to die with boot");
    await settle(w, "c", "stopped", "boot killed when created");
  });
});

Deno.test("created: init killed → boot notices, wait reports the signal, stopped", async () => {
  await inWorld(async (w) => {
    await w.ok(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const { bootPid, pid } = w.record("c");
    kill9(pid);
    await waitFor(() => !alive(bootPid), "boot to exit");
    assert.deepEqual(JSON.parse(await w.ok(["wait", "c"])), { id: "c", exitStatus: 137 });
    await settle(w, "c", "stopped", "init killed when created");
  });
});

Deno.test("start: wrapper killed before StartRoot → still created, and startable", async () => {
  await inWorld(async (w) => {
    await w.ok(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    w.pauseAt("start-before-startroot");
    const start = w.start(["start", "c"]);
    await w.paused("start-before-startroot");
    await start.kill();
    w.pauseAt();
    assert.equal((await w.state("c"))?.status, "created");
    await w.ok(["start", "c"]);
    await settle(w, "c", "running", "start wrapper killed before StartRoot");
  });
});

Deno.test("start: boot killed while starting the app → start fails clearly, stopped", async () => {
  await inWorld(async (w) => {
    w.pauseAt("boot-before-start"); // boot reads its pause points at create time
    await w.ok(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const { pid } = w.record("c");
    const start = w.start(["start", "c"]);
    kill9(await w.paused("boot-before-start"));
    const r = await start.done;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /connection closed|ECONNRESET|EPIPE/);
    await waitFor(() => !alive(pid), "init to die with boot");
    await settle(w, "c", "stopped", "boot killed during start");
  });
});

Deno.test("start: wrapper killed while boot starts the app → the app runs, state says running", async () => {
  await inWorld(async (w) => {
    w.pauseAt("boot-before-start");
    await w.ok(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const start = w.start(["start", "c"]);
    await w.paused("boot-before-start");
    await start.kill();
    w.release("boot-before-start");
    await waitFor(async () => (await w.state("c"))?.status === "running", "running");
    await settle(w, "c", "running", "start wrapper killed during StartRoot");
  });
});

for (const pidns of [true, false]) {
  Deno.test(`running${pidns ? " (pid namespace)" : ""}: boot killed → the app dies with it, stopped`, async () => {
    await inWorld(async (w) => {
      await w.ok(["run", "-d", "--bundle", w.bundle(["sleep", "1000"], { pidns }), "c"]);
      const { bootPid, pid } = w.record("c");
      assert.ok(alive(pid));
      kill9(bootPid);
      await waitFor(() => !alive(pid), "the app to die with boot");
      await settle(w, "c", "stopped", "boot killed while running");
    });
  });
}

Deno.test("running: an app that dies on its own is noticed; wait gets its status after boot is gone", async () => {
  await inWorld(async (w) => {
    await w.ok(["run", "-d", "--bundle", w.bundle(["sh", "-c", "sleep 0.2; exit 5"]), "c"]);
    const { bootPid } = w.record("c");
    await waitFor(() => !alive(bootPid), "boot to exit after the app");
    assert.deepEqual(JSON.parse(await w.ok(["wait", "c"])), { id: "c", exitStatus: 5 });
    await settle(w, "c", "stopped", "app exited");

    await w.ok(["run", "-d", "--bundle", w.bundle(["sleep", "1000"], { pidns: false }), "k"]);
    const k = w.record("k");
    kill9(k.pid);
    await waitFor(() => !alive(k.bootPid), "boot to exit after the app was killed");
    assert.deepEqual(JSON.parse(await w.ok(["wait", "k"])), { id: "k", exitStatus: 137 });
    await settle(w, "k", "stopped", "app killed");
  });
});

Deno.test("run (attached): wrapper killed → boot and the app die with it", async () => {
  await inWorld(async (w) => {
    const run = w.start(["run", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    await waitFor(async () => (await w.state("c"))?.status === "running", "running");
    const { bootPid, pid } = w.record("c");
    await run.kill();
    await waitFor(() => !alive(bootPid) && !alive(pid), "boot and the app to die with the wrapper");
    await settle(w, "c", "stopped", "run wrapper killed");
  });
});

/** The processes of `pid`'s pid namespace as "pid start-time" (zombies included: they hold the namespace). */
function pidNamespaceMembers(pid: number): string[] {
  const ns = Deno.readLinkSync(`/proc/${pid}/ns/pid`);
  const out: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/ns/pid`) === ns) out.push(`${e.name} ${startTime(e.name)}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Field 22 of /proc/PID/stat; "" when the pid is gone. */
function startTime(pid: string): string {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return "";
  }
}

const FORKS: Array<[string[], number]> = [[["sleep", "1000"], 1], [
  ["sh", "-c", "sleep 1000 & sleep 1000"],
  2,
]];
for (const [args, count] of FORKS) {
  Deno.test(`run (attached) of ${args.join(" ")}: wrapper killed, delete --force → no process of the pid namespace, not even a zombie`, async () => {
    await inWorld(async (w) => {
      const run = w.start(["run", "--bundle", w.bundle(args), "c"]);
      await waitFor(async () => (await w.state("c"))?.status === "running", "running");
      const { pid } = w.record("c");
      await waitFor(() => pidNamespaceMembers(pid).length === count, "the app's processes");
      const members = pidNamespaceMembers(pid);
      await run.kill();
      const del = await w.run(["delete", "--force", "c"]);
      assert.equal(del.code, 0, del.stderr);
      // A zombie left to the host's init would hold the namespace until that init gets round to it.
      const left = members.filter((m) => startTime(m.split(" ")[0]) === m.split(" ")[1]);
      assert.deepEqual(left, [], "processes of the container's pid namespace after delete --force");
      await settle(w, "c", null, "run wrapper killed, then delete --force");
    });
  });
}

Deno.test("run (attached): once run returns, boot and the app are reaped, not left to the host's init", async () => {
  await inWorld(async (w) => {
    const gate = Deno.makeTempDirSync({ prefix: "runts-gate-" });
    try {
      const bundle = w.bundle(["sh", "-c", "while [ ! -e /gate/go ]; do sleep 0.05; done; exit 3"], {
        mutate: (s) =>
          s.mounts!.push({ destination: "/gate", type: "bind", source: gate, options: ["rbind"] }),
      });
      const run = w.start(["run", "--bundle", bundle, "c"]);
      await waitFor(async () => (await w.state("c"))?.status === "running", "running");
      const { pid, bootPid } = w.record("c");
      const procs = [`${pid} ${startTime(String(pid))}`, `${bootPid} ${startTime(String(bootPid))}`];
      Deno.writeTextFileSync(`${gate}/go`, "");
      const r = await run.done;
      assert.equal(r.code, 3, r.stderr);
      const left = procs.filter((m) => startTime(m.split(" ")[0]) === m.split(" ")[1]);
      assert.deepEqual(left, [], "the app and boot (pid start-time) after run returned");
      await w.assertClean("run returned");
    } finally {
      Deno.removeSync(gate, { recursive: true });
    }
  });
});

Deno.test("exec: wrapper killed → the container runs on; delete kills the exec'd process too", async () => {
  await inWorld(async (w) => {
    await w.ok(["run", "-d", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const before = w.processes().length;
    const exec = w.start(["exec", "c", "sleep", "999"]);
    await waitFor(() => w.processes().some((p) => cmdline(p) === "sleep 999"), "the exec'd process");
    await exec.kill();
    assert.equal((await w.state("c"))?.status, "running");
    assert.ok(w.processes().length >= before);
    await settle(w, "c", "running", "exec wrapper killed");
  });
});

Deno.test("delete: wrapper killed before the state is removed → stopped; delete --force finishes", async () => {
  await inWorld(async (w) => {
    await w.ok(["run", "-d", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const { bootPid, pid } = w.record("c");
    w.pauseAt("delete-before-remove");
    const del = w.start(["delete", "--force", "c"]);
    await w.paused("delete-before-remove");
    assert.ok(!alive(bootPid) && !alive(pid), "killed before the pause point");
    await del.kill();
    await settle(w, "c", "stopped", "delete wrapper killed");
  });
});

Deno.test("a stopped (SIGSTOP) boot hangs nothing: state trusts the record, delete --force kills boot", async () => {
  await inWorld(async (w) => {
    await w.ok(["run", "-d", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const { bootPid, pid } = w.record("c");
    Deno.kill(bootPid, "SIGSTOP");
    try {
      assert.equal((await w.state("c"))?.status, "running", "boot runs, it just does not answer");
      const t0 = Date.now();
      const del = await w.run(["delete", "--force", "c"]);
      assert.equal(del.code, 0, del.stderr);
      assert.ok(Date.now() - t0 < 8000, `delete took ${Date.now() - t0} ms`);
      assert.ok(!alive(bootPid) && !alive(pid), "boot killed, the app with it");
      await w.assertClean("stopped boot");
    } finally {
      if (alive(bootPid)) Deno.kill(bootPid, "SIGCONT");
    }
  });
});

function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}
