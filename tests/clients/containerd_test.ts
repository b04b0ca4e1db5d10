/**
 * containerd 1.6 (Debian's) and its runc shim (io.containerd.runc.v2) drive runts through `ctr run
 * --runc-binary`, and runc as the reference, through the same scenarios in one run. containerd runs on a
 * private root, state, socket and namespace inside a namespace holder (engines.ts) whose tmpfs over /run
 * takes the paths the 1.6 shim and ctr insist on (/run/containerd/s, /run/containerd/fifo). The image is
 * an OCI archive built here from the test rootfs and loaded with `ctr images import`.
 */
import assert from "node:assert/strict";
import { Containerd } from "./containerd.ts";
import {
  ensureInstalled,
  runScenarios,
  runtimes,
  type Scenario,
  type ScenarioContext,
  ScenarioTable,
  shQuote,
  waitFor,
} from "./engines.ts";

const IMAGE = "localhost/busybox:runts-test";

const skip = Deno.uid() !== 0
  ? "needs root"
  : await ensureInstalled(["containerd", "runc"], ["containerd", "ctr", "containerd-shim-runc-v2", "runc"]);
if (skip) console.log(`tests/clients/containerd_test.ts: skipped: ${skip}`);

/** `ctr run [flags] --runc-binary RT IMAGE id cmd...`. */
function run(c: Containerd, ctx: ScenarioContext, flags: string[], cmd: string[], stdin?: string) {
  return c.ctr(["run", ...flags, "--runc-binary", ctx.rt.path, IMAGE, ctx.name, ...cmd], stdin);
}

/** A scenario that removes its task and container whatever happens. */
function withTask(fn: (c: Containerd, ctx: ScenarioContext) => Promise<void>) {
  return async (c: Containerd, ctx: ScenarioContext) => {
    try {
      await fn(c, ctx);
    } finally {
      await c.remove(ctx.name);
    }
  };
}

async function detached(c: Containerd, ctx: ScenarioContext, cmd: string[]): Promise<number> {
  const r = await run(c, ctx, ["-d"], cmd);
  assert.equal(r.code, 0, r.stderr);
  const t = await c.task(ctx.name);
  assert.ok(t, "ctr task ls lists the task");
  assert.equal(t[1], "RUNNING");
  return t[0];
}

async function waitStatus(c: Containerd, id: string, status: string): Promise<void> {
  await waitFor(async () => (await c.task(id))?.[1] === status, `task ${id} to be ${status}`);
}

const scenarios: Scenario<Containerd>[] = [
  {
    name: "run: output and exit status",
    fn: withTask(async (c, ctx) => {
      const r = await run(c, ctx, ["--rm"], ["sh", "-c", "echo hello; exit 3"]);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, "hello\n");
    }),
  },
  {
    name: "run -d; task ls and ps (state, ps --format json) show the real pid",
    fn: withTask(async (c, ctx) => {
      const pid = await detached(c, ctx, ["sleep", "1000"]);
      assert.equal(Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0], "sleep");
      const ps = await c.ok(["task", "ps", ctx.name]);
      assert.match(ps, new RegExp(`^${pid}\\s`, "m"));
    }),
  },
  {
    name: "exec: output and exit code",
    fn: withTask(async (c, ctx) => {
      await detached(c, ctx, ["sleep", "1000"]);
      const r = await c.ctr([
        "task",
        "exec",
        "--exec-id",
        "e1",
        ctx.name,
        "sh",
        "-c",
        "echo from exec; exit 6",
      ]);
      assert.equal(r.code, 6, r.stderr);
      assert.equal(r.stdout, "from exec\n");
    }),
  },
  {
    name: "exec --tty",
    fn: withTask(async (c, ctx) => {
      await detached(c, ctx, ["sleep", "1000"]);
      const cmd = c.argv(["task", "exec", "--tty", "--exec-id", "e2", ctx.name, "sh"]).map(shQuote).join(" ");
      const r = await c.h.run(["script", "-qec", cmd, "/dev/null"], { stdin: "tty; exit 4\n" });
      assert.equal(r.code, 4, r.stdout + r.stderr);
      assert.match(r.stdout, /\/dev\/pts\/\d+\r*\n/);
    }),
  },
  {
    name: "run --tty",
    fn: withTask(async (c, ctx) => {
      const argv = c.argv([
        "run",
        "--rm",
        "--tty",
        "--runc-binary",
        ctx.rt.path,
        IMAGE,
        ctx.name,
        "sh",
        "-c",
      ]);
      const cmd = [...argv, "tty; exit 5"].map(shQuote).join(" ");
      const r = await c.h.run(["script", "-qec", cmd, "/dev/null"]);
      assert.equal(r.code, 5, r.stdout + r.stderr);
      assert.match(r.stdout, /\/dev\/pts\/\d+\r*\n/);
    }),
  },
  {
    name: "kill SIGTERM: exit status, delete",
    fn: withTask(async (c, ctx) => {
      await detached(c, ctx, ["sh", "-c", `trap "exit 4" TERM; while true; do sleep 0.1; done`]);
      await c.ok(["task", "kill", "--signal", "SIGTERM", ctx.name]);
      await waitStatus(c, ctx.name, "STOPPED");
      const r = await c.ctr(["task", "delete", ctx.name]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exit code 4/);
      assert.equal(await c.task(ctx.name), null);
      assert.deepEqual(await c.runtimeState(), []);
    }),
  },
  {
    name: "kill --all",
    fn: withTask(async (c, ctx) => {
      await detached(c, ctx, ["sh", "-c", "sleep 1000 & sleep 1000"]);
      await c.ok(["task", "kill", "--all", "--signal", "SIGKILL", ctx.name]);
      await waitStatus(c, ctx.name, "STOPPED");
    }),
  },
  {
    name: "delete --force of a running task",
    fn: withTask(async (c, ctx) => {
      await detached(c, ctx, ["sleep", "1000"]);
      await c.ok(["task", "delete", "--force", ctx.name]);
      assert.equal(await c.task(ctx.name), null);
      assert.deepEqual(await c.runtimeState(), []);
    }),
  },
  {
    name: "failed create (missing binary) leaves nothing behind",
    fn: withTask(async (c, ctx) => {
      const r = await run(c, ctx, ["--rm"], ["/no/such/binary"]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /no such file or directory/i);
      assert.equal(await c.task(ctx.name), null);
      assert.deepEqual(await c.runtimeState(), []);
    }),
  },
  {
    name: "pause / resume",
    fn: withTask(async (c, ctx) => {
      await detached(c, ctx, ["sleep", "1000"]);
      await c.ok(["task", "pause", ctx.name]);
      assert.equal((await c.task(ctx.name))?.[1], "PAUSED");
      await c.ok(["task", "resume", ctx.name]);
      assert.equal((await c.task(ctx.name))?.[1], "RUNNING");
    }),
  },
];

Deno.test({
  name: "containerd (runc shim v2) drives runts (runc as the reference)",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const rts = runtimes();
  const table = new ScenarioTable("containerd", rts.map((r) => r.name));
  const c = await Containerd.start({ namespace: "runts-test" });
  await c.importImage(IMAGE, ["sh"]);
  try {
    await runScenarios(t, c, scenarios, rts, table);
  } finally {
    await c.stop();
    table.print();
  }
});
