/**
 * podman (Debian's, with conmon) drives runts, and runc as the reference, through the same scenarios in one
 * run. podman's state is private: --root/--runroot/--tmpdir under a temp dir, the vfs driver, cgroupfs, the
 * file events backend, the containers.conf next to this file (CONTAINERS_CONF), and a namespace holder
 * (engines.ts) for /run, /dev/shm and the network. The image is `podman import` of the test rootfs.
 */
import assert from "node:assert/strict";
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
import { AUTO_SUBIDS, Podman } from "./podman.ts";

const skip = Deno.uid() !== 0
  ? "needs root"
  : await ensureInstalled(["podman", "runc"], ["podman", "conmon", "runc"]);
if (skip) console.log(`tests/clients/podman_test.ts: skipped: ${skip}`);

/** Reads a cgroup file of the container's own cgroup, v2 name first, then the v1 one. */
function cgroupRead(v2: string, v1: string): string[] {
  return ["sh", "-c", `cat /sys/fs/cgroup/${v2} 2>/dev/null || cat /sys/fs/cgroup/${v1}`];
}

/** Capability masks of this test process (the host's bounding set is what --privileged grants). */
function ownCaps(): Record<string, string> {
  const caps: Record<string, string> = {};
  for (const line of Deno.readTextFileSync("/proc/self/status").split("\n")) {
    const m = /^(Cap\w+):\s+([0-9a-f]+)$/.exec(line);
    if (m) caps[m[1]] = m[2];
  }
  return caps;
}

/** A scenario that cleans its container up whatever happens. */
function withContainer(fn: (pm: Podman, ctx: ScenarioContext) => Promise<void>) {
  return async (pm: Podman, ctx: ScenarioContext) => {
    try {
      await fn(pm, ctx);
    } finally {
      await pm.remove(ctx.name);
    }
  };
}

const TRAPS =
  `echo started; trap "echo usr1" USR1; trap "echo hup" HUP; trap "echo got term; exit 3" TERM; ` +
  `while true; do sleep 0.1; done`;

const scenarios: Scenario<Podman>[] = [
  {
    name: "run --rm",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, [], ["echo", "hello"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hello\n");
    },
  },
  {
    name: "exit code (sh -c 'exit 7')",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, [], ["sh", "-c", "exit 7"]);
      assert.equal(r.code, 7, r.stderr);
    },
  },
  {
    name: "missing binary → 127",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, [], ["/no/such/binary"]);
      assert.equal(r.code, 127, r.stderr);
      assert.match(r.stderr, /no such file or directory/i);
    },
  },
  {
    name: "non-executable args[0] (/etc/passwd, a directory) → 126",
    fn: async (pm, ctx) => {
      for (const arg0 of ["/etc/passwd", "/etc"]) {
        const r = await pm.runRm(ctx, [], [arg0]);
        assert.equal(r.code, 126, `${arg0}: ${r.stderr}`);
        assert.match(r.stderr, /permission denied/i);
      }
    },
  },
  {
    name: "HOME is / for a uid without a passwd entry",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--user", "4321"], ["sh", "-c", 'echo "[$HOME]"']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "[/]\n");
    },
  },
  {
    name: "stdin (run -i)",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["-i"], ["cat"], "through stdin\n");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "through stdin\n");
    },
  },
  {
    name: "terminal (run -t): a named tty",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["-t"], ["sh", "-c", "tty; [ -t 0 ] && echo is-a-tty"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\/dev\/pts\/\d+\r?\nis-a-tty\r?\n$/);
    },
  },
  {
    name: "run -d, logs, stop, rm",
    fn: withContainer(async (pm, ctx) => {
      await pm.detached(ctx, ["sh", "-c", TRAPS]);
      await waitFor(async () => (await pm.ok(["logs", ctx.name])).includes("started"), "the log line");
      assert.equal(await pm.inspect(ctx.name, "{{.State.Status}}"), "running");
      await pm.ok(["stop", "-t", "10", ctx.name]);
      assert.match(await pm.ok(["logs", ctx.name]), /got term/);
      assert.equal(await pm.inspect(ctx.name, "{{.State.Status}} {{.State.ExitCode}}"), "exited 3");
      await pm.ok(["rm", ctx.name]);
      assert.notEqual((await pm.run(["inspect", ctx.name])).code, 0);
    }),
  },
  {
    name: "exec: output and exit code",
    fn: withContainer(async (pm, ctx) => {
      await pm.detached(ctx, ["sleep", "1000"]);
      const r = await pm.run(["exec", ctx.name, "sh", "-c", "echo in exec; exit 5"]);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout, "in exec\n");
      const missing = await pm.run(["exec", ctx.name, "/no/such/binary"]);
      assert.equal(missing.code, 127, missing.stderr);
    }),
  },
  {
    name: "exec -i (stdin)",
    fn: withContainer(async (pm, ctx) => {
      await pm.detached(ctx, ["sleep", "1000"]);
      assert.equal(await pm.ok(["exec", "-i", ctx.name, "cat"], "exec stdin\n"), "exec stdin\n");
    }),
  },
  {
    name: "exec -it (terminal)",
    fn: withContainer(async (pm, ctx) => {
      await pm.detached(ctx, ["sleep", "1000"]);
      const cmd = pm.argv(["exec", "-it", ctx.name, "sh"]).map(shQuote).join(" ");
      const r = await pm.h.run(["script", "-qec", cmd, "/dev/null"], {
        env: pm.env,
        stdin: "tty; echo $((6*7)); exit 3\n",
      });
      assert.equal(r.code, 3, r.stdout + r.stderr);
      assert.match(r.stdout, /\/dev\/pts\/\d+\r?\n42\r?\n/);
    }),
  },
  {
    name: "kill with signals",
    fn: withContainer(async (pm, ctx) => {
      await pm.detached(ctx, ["sh", "-c", TRAPS]);
      await waitFor(async () => (await pm.ok(["logs", ctx.name])).includes("started"), "the log line");
      await pm.ok(["kill", "-s", "USR1", ctx.name]);
      await waitFor(async () => (await pm.ok(["logs", ctx.name])).includes("usr1"), "the USR1 trap");
      await pm.ok(["kill", "-s", "HUP", ctx.name]);
      await waitFor(async () => (await pm.ok(["logs", ctx.name])).includes("hup"), "the HUP trap");
      await pm.ok(["kill", ctx.name]); // SIGKILL
      assert.equal((await pm.ok(["wait", ctx.name])).trim(), "137");
    }),
  },
  {
    name: "ps, inspect and top show the real pid",
    fn: withContainer(async (pm, ctx) => {
      const pid = await pm.detached(ctx, ["sleep", "1000"]);
      assert.equal(Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0], "sleep", "inspect's pid");
      const ps = await pm.ok(["ps", "--filter", `name=${ctx.name}`, "--format", "{{.Pid}}"]);
      assert.equal(ps.trim(), String(pid));
      const top = await pm.ok(["top", ctx.name, "hpid", "args"]);
      assert.match(top, new RegExp(`^${pid}\\s+sleep 1000\\s*$`, "m"));
    }),
  },
  {
    name: "pause / unpause",
    fn: withContainer(async (pm, ctx) => {
      await pm.detached(ctx, ["sleep", "1000"]);
      await pm.ok(["pause", ctx.name]);
      assert.equal(await pm.inspect(ctx.name, "{{.State.Status}}"), "paused");
      await pm.ok(["unpause", ctx.name]);
      assert.equal(await pm.inspect(ctx.name, "{{.State.Status}}"), "running");
    }),
  },
  {
    name: "--memory 64m in effect inside",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(
        ctx,
        ["--memory", "64m"],
        cgroupRead("memory.max", "memory/memory.limit_in_bytes"),
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "67108864");
    },
  },
  {
    name: "--cpus 0.5 in effect inside",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--cpus", "0.5"], cgroupRead("cpu.max", "cpu/cpu.cfs_quota_us"));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.trim(), /^50000( 100000)?$/);
    },
  },
  {
    name: "--pids-limit 50 in effect inside",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--pids-limit", "50"], cgroupRead("pids.max", "pids/pids.max"));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "50");
    },
  },
  {
    name: "--read-only",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--read-only"], [
        "sh",
        "-c",
        "touch /x 2>&1; touch /tmp/y && echo tmp-ok",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Read-only file system/);
      assert.match(r.stdout, /tmp-ok/);
    },
  },
  {
    name: "--cap-drop all --cap-add NET_ADMIN",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--cap-drop", "all", "--cap-add", "NET_ADMIN"], [
        "grep",
        "^Cap",
        "/proc/self/status",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^CapEff:\s+0000000000001000$/m);
      assert.match(r.stdout, /^CapBnd:\s+0000000000001000$/m);
    },
  },
  {
    name: "--user 1000:1000",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--user", "1000:1000"], ["id"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^uid=1000(\(\w+\))? gid=1000/);
    },
  },
  {
    name: "--privileged",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--privileged"], [
        "sh",
        "-c",
        "grep ^CapEff /proc/self/status; grep ' /sys ' /proc/mounts; ls /dev | wc -l",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^CapEff:\\s+${ownCaps().CapBnd}$`, "m"));
      assert.match(r.stdout, /^sysfs \/sys sysfs rw/m);
      assert.ok(Number(r.stdout.trim().split("\n").at(-1)) > 20, "the host's devices");
    },
  },
  {
    name: "seccomp: default profile",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, [], ["grep", "^Seccomp:", "/proc/self/status"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Seccomp:\s+2$/m);
    },
  },
  {
    name: "seccomp: custom profile (mkdir → EPERM)",
    fn: async (pm, ctx) => {
      const profile = `${pm.h.dir}/seccomp-${ctx.name}.json`;
      Deno.writeTextFileSync(
        profile,
        JSON.stringify({
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
        }),
      );
      const r = await pm.runRm(ctx, ["--security-opt", `seccomp=${profile}`], [
        "sh",
        "-c",
        "mkdir /tmp/d 2>&1; echo after",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Operation not permitted/);
      assert.match(r.stdout, /after/);
    },
  },
  {
    name: "--network=none: only lo, up",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--network", "none"], [
        "sh",
        "-c",
        "ip -o link; ping -c1 -W2 127.0.0.1",
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const links = r.stdout.split("\n").filter((l) => /^\d+: /.test(l));
      assert.equal(links.length, 1, r.stdout);
      assert.match(links[0], /^1: lo: <LOOPBACK,UP/);
    },
  },
  {
    name: "--uidmap 0:100000:65536: root inside is 100000 on the host, exec joins",
    fn: withContainer(async (pm, ctx) => {
      const map = ["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"];
      const r = await pm.runRm(ctx, map, [
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; touch /made && stat -c %u /made",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" ")), [
        "0",
        "0 100000 65536",
        "0",
      ]);
      const pid = await pm.detached(ctx, ["sleep", "1000"], map);
      assert.match(
        Deno.readTextFileSync(`/proc/${pid}/status`),
        /^Uid:\s+100000\s+100000\s+100000\s+100000$/m,
      );
      const ex = await pm.run(["exec", ctx.name, "cat", "/proc/self/uid_map"]);
      assert.equal(ex.code, 0, ex.stderr);
      assert.equal(ex.stdout.trim().split(/\s+/).join(" "), "0 100000 65536");
    }),
  },
  {
    name: "--userns=auto: a range of its own from the containers user's subuids",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, ["--userns", "auto:size=1024"], [
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const [uid, map] = r.stdout.trim().split("\n");
      assert.equal(uid, "0");
      const [inside, host, size] = map.trim().split(/\s+/).map(Number);
      assert.deepEqual([inside, size], [0, 1024]);
      assert.ok(host >= AUTO_SUBIDS.start && host + size <= AUTO_SUBIDS.start + AUTO_SUBIDS.size, map);
    },
  },
  {
    name: "default network (bridge in the holder's netns)",
    fn: async (pm, ctx) => {
      const r = await pm.runRm(ctx, [], ["sh", "-c", "ip -o -4 addr show eth0; ping -c1 -W2 10.88.0.1"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /inet 10\.88\.\d+\.\d+\/16/);
    },
  },
];

Deno.test({
  name: "podman drives runts (runc as the reference)",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const rts = runtimes();
  const table = new ScenarioTable("podman", rts.map((r) => r.name));
  const pm = await Podman.start();
  try {
    await runScenarios(t, pm, scenarios, rts, table);
  } finally {
    try {
      await pm.h.stop();
    } finally {
      pm.autoUser?.remove();
      table.print();
    }
  }
});
