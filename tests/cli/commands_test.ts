/**
 * End to end: exec, ps, list, events, spec, features, the console socket, hooks, bind mounts and signal
 * forwarding of bin/runts. Needs root.
 */
import { buildRootfs } from "../util/rootfs.ts";
import assert from "node:assert/strict";
import { F, linux, O, SOCK } from "../../ffi/mod.ts";
import { isErrno } from "../../ffi/error.ts";
import { Errno } from "../../ffi/errno.ts";
import { Fixture, ok, RUNTS, runts, state, waitFor } from "./helpers.ts";

Deno.test("exec: args and --process, exit codes, env, cwd, user, pid file, tty relay", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sleep", "60"]), "e1"]);
    const r = await runts(fx.root, ["exec", "e1", "sh", "-c", "echo hi; echo oops >&2; exit 7"]);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.stderr, "oops\n");

    const flags = await runts(fx.root, [
      "exec",
      "--cwd",
      "/bin",
      "--env",
      "FOO=bar",
      "-e",
      "BAZ=1",
      "--user",
      "1000:1001",
      "e1",
      "sh",
      "-c",
      'echo "$PWD $FOO $BAZ $(id -u):$(id -g)"',
    ]);
    assert.equal(flags.stdout, "/bin bar 1 1000:1001\n", flags.stderr);

    const procFile = `${fx.root}.process.json`;
    Deno.writeTextFileSync(
      procFile,
      JSON.stringify({
        args: ["sh", "-c", 'echo "$X $PWD"; exit 4'],
        env: ["X=from-file", "PATH=/bin"],
        cwd: "/etc",
        user: { uid: 0, gid: 0 },
      }),
    );
    const p = await runts(fx.root, ["exec", "--process", procFile, "e1"]);
    Deno.removeSync(procFile);
    assert.equal(p.code, 4);
    assert.equal(p.stdout, "from-file /etc\n");

    const pidFile = `${fx.root}.exec.pid`;
    await ok(fx.root, ["exec", "--detach", "--pid-file", pidFile, "e1", "sleep", "30"]);
    const pid = Number(Deno.readTextFileSync(pidFile));
    Deno.removeSync(pidFile);
    assert.equal(Deno.readTextFileSync(`/proc/${pid}/cmdline`), "sleep\x0030\x00");
    const ps = JSON.parse(await ok(fx.root, ["ps", "--format", "json", "e1"]));
    assert.ok(ps.includes(pid) && ps.includes((await state(fx.root, "e1")).pid), JSON.stringify(ps));

    // Relayed through our stdio (no console socket). The pty comes from the container's own devpts
    // (src/init/console.ts), so ttyname() resolves there too (tests/clients/exec_detach_test.ts).
    const tty = await runts(fx.root, [
      "exec",
      "-t",
      "e1",
      "sh",
      "-c",
      "[ -t 0 ] && [ -t 1 ] && echo is-a-tty; exit 6",
    ], { tty: "pty" });
    assert.equal(tty.code, 6, tty.stderr);
    assert.equal(tty.stdout, "is-a-tty\r\n");

    const missing = await runts(fx.root, ["exec", "e1", "/no/such/binary"]);
    assert.notEqual(missing.code, 0);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("exec into a stopped container fails", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "--keep", "--bundle", fx.bundle(["true"]), "e2"]);
    const r = await runts(fx.root, ["exec", "e2", "true"]);
    assert.equal(r.code, 255, "runc's exit code for a failed exec");
    assert.match(r.stderr, /cannot exec in a stopped container/);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("ps, list and events", async () => {
  const fx = new Fixture();
  try {
    const bundle = fx.bundle(["sleep", "60"]);
    await ok(fx.root, ["run", "-d", "--bundle", bundle, "l1"]);
    await ok(fx.root, ["create", "--bundle", bundle, "l2"]);
    const pid = (await state(fx.root, "l1")).pid;
    assert.deepEqual(JSON.parse(await ok(fx.root, ["ps", "--format", "json", "l1"])), [pid]);
    const table = await ok(fx.root, ["ps", "l1"]);
    assert.match(table, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
    assert.match(table, new RegExp(`\\n0\\s+${pid}\\s.*sleep 60\\n$`));

    assert.equal(await ok(fx.root, ["list", "-q"]), "l1\nl2\n");
    const list = JSON.parse(await ok(fx.root, ["list", "--format", "json"]));
    assert.deepEqual(list.map((c: { id: string; status: string }) => [c.id, c.status]), [["l1", "running"], [
      "l2",
      "created",
    ]]);
    assert.equal(list[0].pid, pid);
    assert.equal(list[0].bundle, bundle);
    assert.match(await ok(fx.root, ["list"]), /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\nl1\s+/);

    const ev = JSON.parse(await ok(fx.root, ["events", "--stats", "l1"]));
    assert.equal(ev.type, "stats");
    assert.equal(ev.id, "l1");
    assert.ok(ev.data && typeof ev.data === "object");

    await ok(fx.root, ["kill", "l1", "KILL"]);
    await waitFor(async () => (await state(fx.root, "l1")).status === "stopped", "stopped");
    assert.equal(await ok(fx.root, ["ps", "--format", "json", "l1"]), "[]\n");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("a bundle from `runts spec` plus a busybox rootfs runs under `runts run`", async () => {
  const fx = new Fixture();
  const dir = Deno.makeTempDirSync({ prefix: "runts-specrun-" });
  try {
    await ok(fx.root, ["spec"], { cwd: dir });
    buildRootfs(`${dir}/rootfs`);
    // The default process is an interactive `sh`: feed it a script on stdin.
    const r = await runts(fx.root, ["run", "--bundle", dir, `specrun-${Deno.pid}`], {
      stdin: "echo hello from $(hostname) as $(id -u); exit 4\n",
    });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout.trim(), "hello from runts as 0");
  } finally {
    Deno.removeSync(dir, { recursive: true });
    await fx.cleanup();
  }
});

Deno.test("spec writes a default config.json once; features prints the features document", async () => {
  const fx = new Fixture();
  const dir = Deno.makeTempDirSync({ prefix: "runts-spec-" });
  try {
    await ok(fx.root, ["spec"], { cwd: dir });
    const spec = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
    assert.equal(spec.ociVersion, "1.2.0");
    assert.deepEqual(spec.process.args, ["sh"]);
    const again = await runts(fx.root, ["spec"], { cwd: dir });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists/);
    Deno.mkdirSync(`${dir}/rl`);
    await ok(fx.root, ["spec", "-b", `${dir}/rl`, "--rootless"]);
    const rl = JSON.parse(Deno.readTextFileSync(`${dir}/rl/config.json`));
    assert.ok(rl.linux.namespaces.some((n: { type: string }) => n.type === "user"));

    const f = JSON.parse(await ok(fx.root, ["features"]));
    assert.equal(f.ociVersionMin, "1.0.0");
    assert.equal(f.ociVersionMax, "1.2.0");
    assert.deepEqual(f.hooks, [
      "prestart",
      "createRuntime",
      "createContainer",
      "startContainer",
      "poststart",
      "poststop",
    ]);
    assert.ok(f.linux.capabilities.includes("CAP_SYS_ADMIN"));
    assert.equal(typeof f.linux.seccomp.enabled, "boolean");
    if (f.linux.seccomp.enabled) assert.ok(f.linux.seccomp.operators.includes("SCMP_CMP_MASKED_EQ"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
    await fx.cleanup();
  }
});

/** A listening unix socket at `path` (the engine's side of --console-socket). */
function listen(path: string): number {
  const fd = linux.socket(SOCK.AF_UNIX, SOCK.STREAM | SOCK.CLOEXEC | SOCK.NONBLOCK, 0);
  linux.bind(fd, path);
  linux.listen(fd, 4);
  return fd;
}

/** Reads from non-blocking `fd` until `pattern` shows up in what was read. */
async function readUntil(fd: number, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  const end = Date.now() + timeoutMs;
  while (!pattern.test(text)) {
    if (Date.now() > end) throw new Error(`timed out; read so far: ${JSON.stringify(text)}`);
    try {
      const n = linux.read(fd, buf);
      if (n === 0) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    } catch (e) {
      if (!isErrno(e, Errno.EAGAIN)) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return text;
}

Deno.test("console socket: the engine receives the pty master and talks to the shell", async () => {
  const fx = new Fixture();
  const sockPath = `${fx.root}.console.sock`;
  const listener = listen(sockPath);
  let master = -1;
  try {
    const bundle = fx.bundle(["sh"], (s) => {
      s.process!.terminal = true;
    });
    const noSocket = await runts(fx.root, ["create", "--bundle", bundle, "t0"]);
    assert.equal(noSocket.code, 1);
    assert.match(noSocket.stderr, /console socket/);

    await ok(fx.root, ["create", "--bundle", bundle, "--console-socket", sockPath, "t1"]);
    const conn = linux.accept4(listener, SOCK.CLOEXEC)!;
    assert.ok(conn !== null, "create connected to the console socket");
    const buf = new Uint8Array(256);
    const got = linux.recvmsg(conn, buf, 4)!;
    linux.close(conn);
    assert.equal(got.fds.length, 1);
    master = got.fds[0];
    linux.fcntl(master, F.SETFL, linux.fcntl(master, F.GETFL) | O.NONBLOCK);

    await ok(fx.root, ["start", "t1"]);
    linux.write(master, new TextEncoder().encode("echo marker-$((40+2)); [ -t 0 ] && echo stdin-is-tty\n"));
    const out = await readUntil(master, /marker-42\r\nstdin-is-tty/);
    assert.match(out, /marker-42/);
    linux.write(master, new TextEncoder().encode("exit 4\n"));
    await waitFor(async () => (await state(fx.root, "t1")).status === "stopped", "the shell to exit");
    await ok(fx.root, ["delete", "t1"]);
  } finally {
    if (master >= 0) linux.close(master);
    linux.close(listener);
    Deno.removeSync(sockPath);
    await fx.cleanup();
  }
});

Deno.test("hooks run in lifecycle order with the state on stdin", async () => {
  const fx = new Fixture();
  const log = `${fx.root}.hooks.log`;
  try {
    const hook = (stage: string) => ({
      path: "/bin/sh",
      args: ["sh", "-c", `printf '%s %s\\n' ${stage} "$(cat)" >> ${log}`],
      env: ["PATH=/bin:/usr/bin"],
    });
    const stages = [
      "prestart",
      "createRuntime",
      "createContainer",
      "startContainer",
      "poststart",
      "poststop",
    ] as const;
    const bundle = fx.bundle(["sleep", "60"], (s) => {
      s.hooks = Object.fromEntries(stages.map((st) => [st, [hook(st)]]));
      s.annotations = { "org.example/key": "value" };
    });
    await ok(fx.root, ["create", "--bundle", bundle, "h1"]);
    const pid = (await state(fx.root, "h1")).pid;
    const read = () =>
      Deno.readTextFileSync(log).trim().split("\n").map((l) => {
        const i = l.indexOf(" ");
        return { stage: l.slice(0, i), state: JSON.parse(l.slice(i + 1)) };
      });
    assert.deepEqual(read().map((e) => e.stage), ["prestart", "createRuntime", "createContainer"]);
    await ok(fx.root, ["start", "h1"]);
    assert.deepEqual(read().map((e) => e.stage), stages.slice(0, 5));
    await ok(fx.root, ["delete", "--force", "h1"]);
    const entries = read();
    assert.deepEqual(entries.map((e) => e.stage), [...stages]);
    // The create-phase hooks run after the environment exists: "created" (runtime-spec, crun, runtime-tools).
    assert.deepEqual(entries.map((e) => e.state.status), [
      "created",
      "created",
      "created",
      "created",
      "running",
      "stopped",
    ]);
    for (const e of entries) {
      assert.equal(e.state.id, "h1");
      assert.equal(e.state.pid, pid);
      assert.equal(e.state.bundle, bundle);
      assert.equal(e.state.ociVersion, "1.2.0");
      assert.deepEqual(e.state.annotations, { "org.example/key": "value" });
    }
  } finally {
    try {
      Deno.removeSync(log);
    } catch { /* never written */ }
    await fx.cleanup();
  }
});

Deno.test("a failing createRuntime hook fails create and leaves nothing behind", async () => {
  const fx = new Fixture();
  try {
    const bundle = fx.bundle(["sleep", "60"], (s) => {
      s.hooks = { createRuntime: [{ path: "/bin/sh", args: ["sh", "-c", "echo nope >&2; exit 2"] }] };
    });
    const r = await runts(fx.root, ["create", "--bundle", bundle, "h2"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /createRuntime hook \/bin\/sh failed: exit status 2, output: nope/);
    assert.deepEqual([...Deno.readDirSync(fx.root)], []);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("bind mounts: a bundle-relative source is resolved against the bundle", async () => {
  const fx = new Fixture();
  try {
    const bundle = fx.bundle(["cat", "/mnt/data/hello.txt"], (s) => {
      s.mounts!.push({ destination: "/mnt/data", type: "bind", source: "data", options: ["rbind", "ro"] });
    });
    Deno.mkdirSync(`${bundle}/data`);
    Deno.writeTextFileSync(`${bundle}/data/hello.txt`, "from the bundle\n");
    const r = await runts(fx.root, ["run", "--bundle", bundle, "m1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "from the bundle\n");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("run forwards signals it receives to the app", async () => {
  const fx = new Fixture();
  try {
    const bundle = fx.bundle(["sh", "-c", 'trap "exit 42" TERM; sleep 60 & wait']);
    const child = new Deno.Command(RUNTS, {
      args: ["--root", fx.root, "run", "--bundle", bundle, "s1"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(
      async () => (await runts(fx.root, ["state", "s1"])).stdout.includes('"running"'),
      "running",
    );
    await new Promise((r) => setTimeout(r, 200)); // let the shell install its trap
    child.kill("SIGTERM");
    const st = await child.status;
    assert.equal(st.code, 42);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("run relays a terminal without a console socket; --pidfd-socket gets a pidfd", async () => {
  const fx = new Fixture();
  const sockPath = `${fx.root}.pidfd.sock`;
  const listener = listen(sockPath);
  try {
    const bundle = fx.bundle(["sh", "-c", "[ -t 0 ] && [ -t 2 ] && echo on-a-tty; exit 2"], (s) => {
      s.process!.terminal = true;
    });
    const r = await runts(fx.root, ["run", "--bundle", bundle, "p1"], { tty: "pty" });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "on-a-tty\r\n");

    await ok(fx.root, ["create", "--bundle", fx.bundle(["sleep", "60"]), "--pidfd-socket", sockPath, "p2"]);
    const conn = linux.accept4(listener, SOCK.CLOEXEC)!;
    const got = linux.recvmsg(conn, new Uint8Array(64), 4)!;
    linux.close(conn);
    assert.equal(got.fds.length, 1);
    assert.equal(Deno.readLinkSync(`/proc/self/fd/${got.fds[0]}`), "anon_inode:[pidfd]");
    linux.close(got.fds[0]);
  } finally {
    linux.close(listener);
    Deno.removeSync(sockPath);
    await fx.cleanup();
  }
});

Deno.test("--preserve-fds hands extra fds to the app as 3, 4, ...", async () => {
  const fx = new Fixture();
  try {
    const bundle = fx.bundle(["sh", "-c", "cat <&3"]);
    Deno.writeTextFileSync(`${bundle}/extra.txt`, "through fd 3\n");
    const r = await runts(fx.root, ["run", "--preserve-fds", "1", "--bundle", bundle, "f1"], {
      redirect: `3<${bundle}/extra.txt`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "through fd 3\n");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("pause and resume go through boot (or report boot's error)", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sleep", "60"]), "pz"]);
    const p = await runts(fx.root, ["pause", "pz"]);
    if (p.code === 0) {
      assert.equal((await state(fx.root, "pz")).status, "paused");
      await ok(fx.root, ["resume", "pz"]);
      assert.equal((await state(fx.root, "pz")).status, "running");
    } else {
      assert.equal(p.code, 1);
      assert.match(p.stderr, /\S/);
      assert.equal((await state(fx.root, "pz")).status, "running");
    }
    const r = await runts(fx.root, ["resume", "pz"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is running, not paused/);
  } finally {
    await fx.cleanup();
  }
});
