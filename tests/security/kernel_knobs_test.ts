/**
 * Kernel knobs: sysctls only in namespaces the container has of its own (checked against the spec at
 * create and against the namespaces init really entered), oomScoreAdj the app cannot lower, personality,
 * and rlimits the app cannot raise.
 */
import assert from "node:assert/strict";
import { expectCode, Fixture, run } from "./helpers.ts";
import type { Spec } from "../../src/specutils/spec.ts";

function hostSysctl(key: string): string {
  return Deno.readTextFileSync(`/proc/sys/${key.replaceAll(".", "/")}`).trim();
}

Deno.test("sysctl: namespaced keys reach the container, never the host", async () => {
  const fx = new Fixture();
  try {
    const before = {
      forward: hostSysctl("net.ipv4.ip_forward"),
      shmmni: hostSysctl("kernel.shmmni"),
      msgmax: hostSysctl("fs.mqueue.msg_max"),
    };
    const want = { forward: before.forward === "1" ? "0" : "1", shmmni: "1234", msgmax: "17" };
    const r = await run(fx, [
      "sh",
      "-c",
      "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/sys/fs/mqueue/msg_max",
    ], (s) => {
      s.linux!.sysctl = {
        "net.ipv4.ip_forward": want.forward,
        "kernel/shmmni": want.shmmni,
        "fs.mqueue.msg_max": want.msgmax,
      };
    });
    expectCode(r, 0, "namespaced sysctls");
    assert.deepEqual(r.stdout.trim().split("\n"), [want.forward, want.shmmni, want.msgmax]);
    assert.equal(hostSysctl("net.ipv4.ip_forward"), before.forward);
    assert.equal(hostSysctl("kernel.shmmni"), before.shmmni);
    assert.equal(hostSysctl("fs.mqueue.msg_max"), before.msgmax);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("sysctl attack: host-wide keys, and keys of a namespace the container shares, are refused", async () => {
  const fx = new Fixture();
  try {
    const core = hostSysctl("kernel.core_pattern");
    const forward = hostSysctl("net.ipv4.ip_forward");
    const other = forward === "1" ? "0" : "1";
    const dropNs = (type: string) => (s: Spec) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) =>
      n.type !== type
    ));
    const cases: Array<[string, (s: Spec) => void, string[], RegExp]> = [
      [
        "kernel.core_pattern",
        (s) => (s.linux!.sysctl = { "kernel.core_pattern": "|/tmp/pwn" }),
        [],
        /not allowed/,
      ],
      ["vm.overcommit_memory", (s) => (s.linux!.sysctl = { "vm.overcommit_memory": "1" }), [], /not allowed/],
      [
        "a path that climbs",
        (s) => (s.linux!.sysctl = { "net/../../kernel/core_pattern": "x" }),
        [],
        /not a sysctl name/,
      ],
      [
        "net.* without a network namespace",
        (s) => {
          dropNs("network")(s);
          s.linux!.sysctl = { "net.ipv4.ip_forward": other };
        },
        [],
        /without a network namespace/,
      ],
      [
        "kernel.shmmax without an ipc namespace",
        (s) => {
          dropNs("ipc")(s);
          s.linux!.sysctl = { "kernel.shmmax": "4096" };
        },
        [],
        /without a ipc namespace/,
      ],
      // The spec asks for a network namespace, but --network=host keeps the host's: init refuses.
      ["net.* under --network=host", (s) => (s.linux!.sysctl = { "net.ipv4.ip_forward": other }), [
        "--network=host",
      ], /no network namespace of its own/],
      // A joined namespace that is runts's own (init resolves /proc/self before it enters anything).
      [
        "net.* in a joined host namespace",
        (s) => {
          s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
            n.type === "network" ? { type: "network", path: "/proc/self/ns/net" } : n
          );
          s.linux!.sysctl = { "net.ipv4.ip_forward": other };
        },
        [],
        /no network namespace of its own/,
      ],
    ];
    for (const [what, mutate, globalFlags, message] of cases) {
      const r = await run(fx, ["true"], mutate, [], globalFlags);
      assert.notEqual(r.code, 0, `${what}: the container was created`);
      assert.match(r.stderr, message, `${what}: ${r.stderr}`);
    }
    try {
      assert.equal(hostSysctl("kernel.core_pattern"), core);
      assert.equal(hostSysctl("net.ipv4.ip_forward"), forward);
    } finally {
      // Should the defence ever break, leave the host as it was.
      Deno.writeTextFileSync("/proc/sys/kernel/core_pattern", core);
      Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", forward);
    }
    assert.deepEqual([...Deno.readDirSync(fx.root)], [], "nothing is left of the refused containers");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("oomScoreAdj is set, and the app cannot lower it", async () => {
  const fx = new Fixture();
  try {
    const script = "cat /proc/self/oom_score_adj; " +
      "for v in -1000 0 499; do echo $v > /proc/self/oom_score_adj 2>/dev/null && echo $v=ok || echo $v=denied; done; " +
      "echo 700 > /proc/self/oom_score_adj && cat /proc/self/oom_score_adj";
    const r = await run(fx, ["sh", "-c", script], (s) => (s.process!.oomScoreAdj = 500));
    expectCode(r, 0, "oom");
    // The kernel makes a value written with CAP_SYS_RESOURCE the floor; hosts that withhold that cap from
    // root (some VMs do) leave the floor where it was (0 here), so only below it is the app refused.
    const floorIsSpec =
      (BigInt("0x" + /^CapEff:\s*(\w+)$/m.exec(Deno.readTextFileSync("/proc/self/status"))![1]) &
        (1n << 24n)) !== 0n;
    const lowered = floorIsSpec ? "denied" : "ok";
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "500",
      "-1000=denied",
      `0=${lowered}`,
      `499=${lowered}`,
      "700",
    ]);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("personality: LINUX32 reaches the app; flags are refused", async () => {
  const fx = new Fixture();
  try {
    const native = (await run(fx, ["uname", "-m"])).stdout.trim();
    const r = await run(fx, ["uname", "-m"], (s) => (s.linux!.personality = { domain: "LINUX32" }));
    expectCode(r, 0, "LINUX32");
    assert.notEqual(r.stdout.trim(), native);
    assert.match(r.stdout.trim(), Deno.build.arch === "aarch64" ? /^armv\d/ : /^i\d86$/);
    const flags = await run(
      fx,
      ["true"],
      (s) => (s.linux!.personality = { domain: "LINUX", flags: ["ADDR_NO_RANDOMIZE"] }),
    );
    assert.notEqual(flags.code, 0);
    assert.match(flags.stderr, /linux\.personality\.flags/);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("rlimits are set, and the app cannot raise a hard limit", async () => {
  const fx = new Fixture();
  try {
    const script = "ulimit -n; ulimit -Hn; ulimit -Hn 4096 2>/dev/null && echo raised || echo denied; " +
      "ulimit -n 150 && ulimit -n";
    const r = await run(fx, ["sh", "-c", script], (s) => {
      s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 100, hard: 200 }];
    });
    expectCode(r, 0, "rlimits");
    assert.deepEqual(r.stdout.trim().split("\n"), ["100", "200", "denied", "150"]);
  } finally {
    await fx.cleanup();
  }
});
