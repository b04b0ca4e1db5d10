/**
 * What engines see of runts next to runc, on the same bundles: HOME from the container's /etc/passwd,
 * the errors for an args[0] that cannot be executed, exec's exit code 255 on failure, the state fields,
 * a failing poststart hook, and process.terminal without a terminal. Needs root and runc.
 */
import assert from "node:assert/strict";
import { exists } from "../util/rootfs.ts";
import type { Spec } from "../../src/specutils/spec.ts";
import { Fixture, ok, type Result, RUNC, runc, type RunOptions, runts, waitFor } from "./helpers.ts";

const skip = Deno.uid() !== 0 ? "needs root" : !exists(RUNC) ? `needs ${RUNC}` : null;
if (skip) console.log(`tests/cli/runc_parity_test.ts: skipped: ${skip}`);

type Runtime = "runts" | "runc";

/** A Fixture plus a state root for runc; every container made through it is force-deleted at the end. */
class Pair {
  readonly fx = new Fixture();
  readonly runcRoot = Deno.makeTempDirSync({ prefix: "runts-parity-runc-" });
  readonly #runcIds: string[] = [];

  /** Runs `args` with `rt`; `ID` in args is replaced by a fresh container id for that runtime. */
  async run(rt: Runtime, args: string[], opts: RunOptions = {}): Promise<Result> {
    const id = `parity-${rt}-${crypto.randomUUID().slice(0, 8)}`;
    if (rt === "runc") this.#runcIds.push(id);
    const argv = args.map((a) => (a === "ID" ? id : a));
    return rt === "runts" ? await runts(this.fx.root, argv, opts) : await runc(this.runcRoot, argv, opts);
  }

  /** Runs `args` with both runtimes. */
  async both(args: string[], opts: RunOptions = {}): Promise<Record<Runtime, Result>> {
    return { runts: await this.run("runts", args, opts), runc: await this.run("runc", args, opts) };
  }

  /** Starts a detached container of `bundle` under `rt`; its id. */
  async detached(rt: Runtime, bundle: string): Promise<string> {
    const id = `parity-${rt}-${crypto.randomUUID().slice(0, 8)}`;
    if (rt === "runc") this.#runcIds.push(id);
    const r = rt === "runts"
      ? await runts(this.fx.root, ["run", "-d", "--bundle", bundle, id])
      : await runc(this.runcRoot, ["run", "-d", "--bundle", bundle, id]);
    assert.equal(r.code, 0, `${rt} run -d: ${r.stderr}`);
    return id;
  }

  async exec(rt: Runtime, args: string[], opts: RunOptions = {}): Promise<Result> {
    return rt === "runts" ? await runts(this.fx.root, args, opts) : await runc(this.runcRoot, args, opts);
  }

  async cleanup(): Promise<void> {
    for (const id of this.#runcIds) await runc(this.runcRoot, ["delete", "--force", id]);
    Deno.removeSync(this.runcRoot, { recursive: true });
    await this.fx.cleanup();
  }
}

const RUNTIMES: Runtime[] = ["runts", "runc"];

/** The message in runc's error line, without the operation prefixes runts does not print. */
function runcError(stderr: string): string {
  const m = /msg=("(?:[^"\\]|\\.)*")/.exec(stderr);
  assert.ok(m, `no error line from runc: ${stderr}`);
  return (JSON.parse(m[1]) as string).replace(
    /^(runc (run|create) failed: |exec failed: )?(unable to start container process: )?/,
    "",
  );
}

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nu1:x:1234:1234::/home/u1:/bin/sh\n" +
  "u2:x:1234:1234::/second:/bin/sh\nnohome:x:2000:2000:::/bin/sh\n";

Deno.test({
  name: "HOME comes from the container's /etc/passwd entry of the uid, else /, for run and exec (as runc)",
  ignore: skip !== null,
}, async () => {
  const p = new Pair();
  try {
    const passwd = `${p.runcRoot}.passwd`;
    Deno.writeTextFileSync(passwd, PASSWD);
    const withPasswd = (s: Spec) =>
      s.mounts!.push({ destination: "/etc/passwd", type: "bind", source: passwd, options: ["bind", "ro"] });
    const probe = ["sh", "-c", 'echo "[$HOME]"'];
    const cases: Array<[string, (s: Spec) => void, string]> = [
      ["uid 0", withPasswd, "[/root]"],
      [
        "uid 1234, the first of two entries",
        (s) => (withPasswd(s), s.process!.user.uid = 1234),
        "[/home/u1]",
      ],
      ["an entry with an empty home", (s) => (withPasswd(s), s.process!.user.uid = 2000), "[]"],
      ["no entry for the uid", (s) => (withPasswd(s), s.process!.user.uid = 4321), "[/]"],
      ["an empty HOME in the env", (s) => (withPasswd(s), s.process!.env!.push("HOME=")), "[/root]"],
      ["HOME set in the env", (s) => (withPasswd(s), s.process!.env!.push("HOME=/mine")), "[/mine]"],
      [
        "no /etc/passwd at all",
        (s) => s.mounts!.push({ destination: "/etc", type: "tmpfs", source: "tmpfs" }),
        "[/]",
      ],
    ];
    for (const [what, mutate, want] of cases) {
      const bundle = p.fx.bundle(probe, mutate);
      const r = await p.both(["run", "--bundle", bundle, "ID"]);
      assert.equal(r.runc.stdout.trim(), want, `runc, ${what}: ${r.runc.stderr}`);
      assert.equal(r.runts.stdout.trim(), want, `runts, ${what}: ${r.runts.stderr}`);
    }

    const sleeper = p.fx.bundle(["sleep", "60"], withPasswd);
    for (const rt of RUNTIMES) {
      const id = await p.detached(rt, sleeper);
      for (const [uid, want] of [["0", "[/root]"], ["1234", "[/home/u1]"], ["4321", "[/]"]]) {
        const r = await p.exec(rt, ["exec", "--user", uid, id, ...probe]);
        assert.equal(r.stdout.trim(), want, `${rt} exec --user ${uid}: ${r.stderr}`);
      }
    }
  } finally {
    await p.cleanup();
  }
});

Deno.test({
  name: "an args[0] that cannot be executed: runc's errors, permission denied apart from not found",
  ignore: skip !== null,
}, async () => {
  const p = new Pair();
  const progs = Deno.makeTempDirSync({ prefix: "runts-parity-progs-" });
  try {
    const cases: Array<[string, RegExp]> = [
      ["/etc/passwd", /^exec: "\/etc\/passwd": permission denied$/],
      ["/etc", /^exec: "\/etc": permission denied$/],
      ["/no/such", /^exec: "\/no\/such": stat \/no\/such: no such file or directory$/],
      ["/etc/passwd/x", /not a directory$/],
      ["no-such-command", /executable file not found in \$PATH$/],
    ];
    for (const [arg0, want] of cases) {
      const r = await p.both(["run", "--bundle", p.fx.bundle([arg0]), "ID"]);
      const expected = runcError(r.runc.stderr);
      assert.match(expected, want, `runc's error for ${arg0}`);
      assert.equal(r.runts.code, r.runc.code, `exit code for ${arg0}: ${r.runts.stderr}`);
      assert.ok(
        r.runts.stderr.includes(expected),
        `runts for ${arg0}: ${r.runts.stderr} (runc: ${expected})`,
      );
    }

    // Found and executable, but execve fails once the container starts.
    Deno.writeTextFileSync(`${progs}/no-shebang`, "echo hi\n");
    Deno.writeTextFileSync(`${progs}/bad-interpreter`, "#!/no/such/interpreter\n");
    for (const f of ["no-shebang", "bad-interpreter"]) Deno.chmodSync(`${progs}/${f}`, 0o755);
    Deno.chmodSync(progs, 0o755);
    const withProgs = (s: Spec) =>
      s.mounts!.push({ destination: "/tmp", type: "bind", source: progs, options: ["bind", "ro"] });
    for (
      const [prog, text] of [["no-shebang", "exec format error"], [
        "bad-interpreter",
        "no such file or directory",
      ]]
    ) {
      const r = await p.both(["run", "--bundle", p.fx.bundle([`/tmp/${prog}`], withProgs), "ID"]);
      assert.equal(r.runc.stderr.trim(), `exec /tmp/${prog}: ${text}`);
      assert.equal(r.runts.code, r.runc.code, r.runts.stderr);
      assert.ok(r.runts.stderr.includes(r.runc.stderr.trim()), `runts: ${r.runts.stderr}`);
    }

    const sleeper = p.fx.bundle(["sleep", "60"]);
    for (const rt of RUNTIMES) {
      const id = await p.detached(rt, sleeper);
      const denied = await p.exec(rt, ["exec", id, "/etc/passwd"]);
      assert.equal(denied.code, 255, `${rt}: ${denied.stderr}`);
      assert.match(denied.stderr, /exec: \\?"\/etc\/passwd\\?": permission denied/, rt);
    }
  } finally {
    Deno.removeSync(progs, { recursive: true });
    await p.cleanup();
  }
});

Deno.test({ name: "exec failures exit 255, as with runc", ignore: skip !== null }, async () => {
  const p = new Pair();
  try {
    const procFile = `${p.runcRoot}.missing-process.json`;
    for (const rt of RUNTIMES) {
      const running = await p.detached(rt, p.fx.bundle(["sleep", "60"]));
      const stopped = await p.detached(rt, p.fx.bundle(["true"]));
      await waitFor(async () => {
        const r = await p.exec(rt, ["state", stopped]);
        return r.code === 0 && JSON.parse(r.stdout).status === "stopped";
      }, `${rt}: ${stopped} stopped`);
      const failing: string[][] = [
        ["exec", "parity-no-such-container", "true"],
        ["exec", stopped, "true"],
        ["exec", running, "/no/such/binary"],
        ["exec", running],
        ["exec", "--process", procFile, running],
        ["exec", "--cwd", "/no/such/dir", running, "true"],
      ];
      for (const args of failing) {
        const r = await p.exec(rt, args);
        assert.equal(r.code, 255, `${rt} ${args.join(" ")}: ${r.stderr}`);
      }
      assert.equal((await p.exec(rt, ["exec", running, "sh", "-c", "exit 3"])).code, 3, rt);
    }
  } finally {
    await p.cleanup();
  }
});

Deno.test({ name: "state has runc's fields, in runc's order", ignore: skip !== null }, async () => {
  const p = new Pair();
  try {
    const bundle = p.fx.bundle(["sleep", "60"]);
    const docs: Partial<Record<Runtime, Record<string, unknown>>> = {};
    for (const rt of RUNTIMES) {
      const id = `parity-${rt}-${crypto.randomUUID().slice(0, 8)}`;
      const before = Date.now();
      const created = rt === "runts"
        ? await ok(p.fx.root, ["create", "--bundle", bundle, id])
        : (await p.exec(rt, ["create", "--bundle", bundle, id])).stdout;
      assert.equal(created, "");
      const r = rt === "runts"
        ? await runts(p.fx.root, ["state", id])
        : await runc(p.runcRoot, ["state", id]);
      if (rt === "runc") await runc(p.runcRoot, ["delete", "--force", id]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      docs[rt] = doc;
      assert.equal(doc.status, "created");
      const t = Date.parse(doc.created);
      assert.match(doc.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `${rt}: RFC 3339 in UTC`);
      assert.ok(t >= before - 1000 && t <= Date.now() + 1000, `${rt}: created ${doc.created}`);
    }
    assert.deepEqual(Object.keys(docs.runts!), Object.keys(docs.runc!));
    assert.equal(docs.runts!.rootfs, docs.runc!.rootfs);
    assert.equal(docs.runts!.bundle, docs.runc!.bundle);
    assert.equal(docs.runts!.owner, docs.runc!.owner, "runc's state leaves owner empty");
  } finally {
    await p.cleanup();
  }
});

Deno.test({
  name:
    "a failing poststart or poststop hook is a warning (on stderr, or in --log), and the lifecycle goes on",
  ignore: skip !== null,
}, async () => {
  // runc 1.1 fails the start instead; the runtime-spec says warn and continue, which runts does.
  const fx = new Fixture();
  const log = `${fx.root}.log`;
  try {
    const failing = { path: "/bin/sh", args: ["sh", "-c", "echo hook-output; exit 3"] };
    const bundle = fx.bundle(["sh", "-c", "echo app ran"], (s) => {
      s.hooks = { poststart: [failing], poststop: [failing] };
    });
    const warning = (stage: string) =>
      new RegExp(`level=warning msg="${stage} hook /bin/sh failed: exit status 3, output: hook-output"`);
    const r = await runts(fx.root, ["run", "--bundle", bundle, "hooks1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "app ran\n");
    assert.match(r.stderr, warning("poststart"));
    assert.match(r.stderr, warning("poststop"), "run deletes the container, running poststop");

    const logged = await runts(fx.root, ["--log", log, "run", "--bundle", bundle, "hooks2"]);
    assert.equal(logged.code, 0, logged.stderr);
    assert.equal(logged.stderr, "", "with --log the warning goes there only");
    assert.match(Deno.readTextFileSync(log), warning("poststart"));
  } finally {
    try {
      Deno.removeSync(log);
    } catch { /* never written */ }
    await fx.cleanup();
  }
});

Deno.test({
  name:
    "process.terminal without a console socket needs a terminal: run, create and exec -t fail as with runc",
  ignore: skip !== null,
}, async () => {
  const p = new Pair();
  try {
    const bundle = p.fx.bundle(["sh", "-c", "echo should not run"], (s) => (s.process!.terminal = true));
    const run = await p.both(["run", "--bundle", bundle, "ID"], { tty: "none" });
    for (const rt of RUNTIMES) {
      assert.equal(run[rt].code, 1, `${rt} run: ${run[rt].stderr}`);
      assert.match(run[rt].stderr, /open \/dev\/tty: no such device or address/, rt);
      assert.equal(run[rt].stdout, "", rt);
    }
    const create = await p.both(["create", "--bundle", bundle, "ID"], { tty: "pty" });
    for (const rt of RUNTIMES) {
      assert.equal(create[rt].code, 1, `${rt} create: ${create[rt].stderr}`);
      assert.match(
        create[rt].stderr,
        /cannot allocate tty if \w+ will detach without setting console socket/,
      );
    }
    const left = [...Deno.readDirSync(p.fx.root)].filter((e) => e.isDirectory);
    assert.deepEqual(left, [], "the failed run and create leave no state behind");
    const sleeper = p.fx.bundle(["sleep", "60"]);
    for (const rt of RUNTIMES) {
      const id = await p.detached(rt, sleeper);
      const r = await p.exec(rt, ["exec", "-t", id, "true"], { tty: "none" });
      assert.equal(r.code, 255, `${rt} exec -t: ${r.stderr}`);
      assert.match(r.stderr, /open \/dev\/tty: no such device or address/, rt);
    }
  } finally {
    await p.cleanup();
  }
});
