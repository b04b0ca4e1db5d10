/**
 * The protocol between the stages: an init configuration is a create's or an exec's, each with only its
 * own fields, and it is checked where it arrives (the `runts init` fallback's memfd, PrepareExec's reply);
 * boot's flags decode into one request. The fallback is also run end to end.
 */
import assert from "node:assert/strict";
import {
  checkInitPlan,
  InitConfigError,
  type InitPlan,
  parseInitConfig,
} from "../src/protocol/init_config.ts";
import { checkBootState, checkExecPlan, ReplyError } from "../src/protocol/control.ts";
import * as protocol from "../src/protocol/init_config.ts";
import { BootFlags } from "../src/protocol/boot_flags.ts";
import { FlagSet } from "../src/flag/flag.ts";
import { type InitSpawn, ioFdMounts, ioSources, layoutInitFds } from "../src/boot/spawn_init.ts";
import { defaultSpec } from "../src/specutils/default_spec.ts";
import { Fixture, ok, runts } from "./cli/helpers.ts";

const spec = defaultSpec();
const common = { id: "c", spec, process: spec.process!, cpuNum: 0, preserveFds: 0 };
const create: InitPlan = { ...common, mode: "create", mounts: [], network: "sandbox", noPivot: false };
const exec: InitPlan = { ...common, mode: "exec", join: [{ type: "ipc", path: "/proc/7/ns/ipc" }] };

function spawn(config: InitPlan): InitSpawn {
  return {
    config,
    stdio: [0, 1, 2],
    preserved: [9],
    rootFd: config.mode === "create" ? 20 : null,
    bindFds: {},
    pidns: { kind: "inherit" },
    cgroupFds: [30],
    globalFlags: [],
  };
}

Deno.test("protocol: what layoutInitFds writes for a create and an exec reads back on arrival", () => {
  for (const plan of [create, exec]) {
    const { config } = layoutInitFds(spawn(plan), { memfd: 40, ready: 41, start: 42 });
    const back = parseInitConfig(JSON.stringify(config));
    assert.deepEqual(back, config);
    assert.equal(back.mode, plan.mode);
  }
  const { config } = layoutInitFds(spawn(exec), null);
  assert.ok(!("rootFd" in config) && !("mounts" in config), "an exec carries no create fields");
  assert.equal(config.readyFd, -1);
});

Deno.test("protocol: an init configuration with a field of the other mode, or an unknown one, is refused", () => {
  const { config } = layoutInitFds(spawn(exec), null);
  const bad = (v: unknown, re: RegExp) => {
    assert.throws(() => checkInitPlan(v, true), InitConfigError);
    assert.throws(() => checkInitPlan(v, true), re);
  };
  bad({ ...config, mounts: [] }, /unknown field mounts/);
  bad({ ...config, extra: 1 }, /unknown field extra/);
  bad({ ...config, mode: "run" }, /mode: unexpected "run"/);
  bad({ ...config, readyFd: "3" }, /readyFd: unexpected "3"/);
  bad({ ...config, process: { ...config.process, args: [] } }, /process.args is empty/);
  bad({ ...config, join: [{ type: "ipc" }] }, /join\[0\]\.path/);
  assert.throws(() => parseInitConfig("{"), InitConfigError);
  assert.throws(() => checkInitPlan(config, false), /unknown field cgroupFds/, "a plan has no fds yet");
});

Deno.test("protocol: PrepareExec's and State's replies are checked on arrival", () => {
  const plan = { Config: exec, PidNS: { kind: "join", path: "/proc/7/ns/pid" }, GlobalFlags: ["--root=/x"] };
  assert.deepEqual(checkExecPlan(JSON.parse(JSON.stringify(plan))), plan);
  assert.throws(() => checkExecPlan({ ...plan, Config: create }), ReplyError);
  assert.throws(() => checkExecPlan({ ...plan, PidNS: { kind: "join" } }), /pid namespace path/);
  assert.throws(() => checkExecPlan({ ...plan, GlobalFlags: [1] }), /GlobalFlags/);
  assert.deepEqual(checkBootState({ pid: 5, status: "created", exitStatus: null }), {
    pid: 5,
    status: "created",
    exitStatus: null,
  });
  assert.throws(() => checkBootState({ pid: 5, status: "paused", exitStatus: null }), /State: boot's reply/);
});

Deno.test("protocol: boot's flags decode into one request; missing required flags are a usage error", () => {
  const parse = (args: string[]) => {
    const f = new FlagSet("boot");
    const flags = new BootFlags(f);
    f.parse(args);
    return flags.decode(f);
  };
  const req = parse([
    "--spec-fd=3",
    "--controller-fd=4",
    "--start-sync-fd=5",
    "--io-fds=6",
    "--io-fds=7",
    "c1",
  ]);
  assert.equal(req?.id, "c1");
  assert.deepEqual(req?.ioFds, [6, 7]);
  assert.equal(req?.stdioFds, null);
  assert.equal(parse(["--spec-fd=3", "--controller-fd=4", "c1"]), null);
  assert.equal(parse(["--spec-fd=3", "--controller-fd=4", "--start-sync-fd=5"]), null);
  assert.throws(
    () => parse(["--spec-fd=3", "--controller-fd=4", "--start-sync-fd=5", "--stdio-fds=1", "c1"]),
    /--stdio-fds: want 3 fds, got 1/,
  );
});

Deno.test("protocol: the io fds are the root first, then the bind sources in mounts order", () => {
  const mounts = [
    { destination: "/proc", type: "proc", source: "proc" },
    { destination: "/a", type: "bind", source: "/a", options: ["rbind"] },
    { destination: "/tmp", type: "tmpfs", source: "tmpfs" },
    { destination: "/b", source: "/b", options: ["bind"] },
  ];
  assert.deepEqual(ioSources([10, 11, 12], mounts), { rootFd: 10, bindFds: { "1": 11, "3": 12 } });
  assert.deepEqual(ioSources([], mounts), { rootFd: null, bindFds: {} });
  assert.deepEqual(ioFdMounts(mounts).map((m) => m?.destination ?? null), [null, "/a", "/b"]);
});

Deno.test("protocol: the `runts init` fallback (RUNTS_INIT=process) reads its configuration and runs", async () => {
  const fx = new Fixture();
  const id = `proto-${crypto.randomUUID().slice(0, 8)}`;
  const env = { RUNTS_INIT: "process" };
  try {
    const bundle = fx.bundle(["sleep", "30"]);
    await ok(fx.root, ["create", "--bundle", bundle, id], { env });
    await ok(fx.root, ["start", id], { env });
    const r = await runts(fx.root, ["exec", id, "echo", "joined"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "joined");
    // An error report on the ready pipe reaches the caller as init wrote it.
    const missing = await runts(fx.root, ["exec", id, "/no/such/program"], { env });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /\/no\/such\/program.*no such file or directory/);
    await ok(fx.root, ["delete", "--force", id], { env });
  } finally {
    await fx.cleanup();
  }
});

Deno.test("protocol: init's reports on the ready pipe are typed records, one line each", () => {
  const { decodeReport, encodeReport } = protocol;
  assert.equal(encodeReport({ kind: "ready" }), "ready\n");
  assert.equal(encodeReport({ kind: "error", message: "a\nb" }), "error: a b\n");
  assert.deepEqual(decodeReport("ready"), { kind: "ready" });
  assert.deepEqual(decodeReport("error: mount /x: EPERM"), { kind: "error", message: "mount /x: EPERM" });
  assert.equal(decodeReport(null), null, "EOF: the execve succeeded");
});
