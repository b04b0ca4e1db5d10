/**
 * Rootless podman (run by a new user with subordinate ids) driving runts with `--runtime`, and runc as
 * the reference, through the same steps: `run --rm`, `run -d`, `exec`, `stop`, `rm`. podman runs the
 * runtime as root of its own user namespace (the user's uid and its subordinate range), with no
 * cgroups it may make on a cgroup v1 or hybrid host. The network is podman's slirp4netns where the user
 * may open /dev/net/tun, else none.
 */
import assert from "node:assert/strict";
import { hostIds, ID_SCRIPT, rootlessSkip, RootlessUser, RUNC, RUNTS, squeeze } from "./helpers.ts";
import { rootfsTarball, which } from "../clients/engines.ts";

const skip = rootlessSkip() ??
  (which("podman") && which("conmon") ? null : "podman and conmon are not installed");
if (skip) console.log(`tests/rootless/podman_test.ts: skipped: ${skip}`);

const IMAGE = "localhost/busybox:runts-rootless";

/** podman as the user, with a private containers.conf naming both runtimes. */
class RootlessPodman {
  constructor(readonly u: RootlessUser, readonly network: string[]) {}

  get conf(): string {
    return `${this.u.user.home}/containers.conf`;
  }

  static async start(u: RootlessUser): Promise<RootlessPodman> {
    Deno.writeTextFileSync(
      `${u.user.home}/containers.conf`,
      [
        "[containers]",
        // podman's defaults exceed this VM's hard limits, which no rootless runtime may raise.
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        // podman passes --log and --log-format=json to the runtimes listed here, and reads their errors there.
        'runtime_supports_json = ["runts", "runc"]',
        "[engine.runtimes]",
        `runts = ["${RUNTS}"]`,
        `runc = ["${RUNC}"]`,
        "",
      ].join("\n"),
    );
    const tun = await u.run(["sh", "-c", "exec 3<>/dev/net/tun"]);
    const network = tun.code === 0 ? [] : ["--network", "none"];
    if (network.length) {
      console.log(
        "tests/rootless/podman_test.ts: --network none: this user cannot open /dev/net/tun (slirp4netns)",
      );
    }
    const pm = new RootlessPodman(u, network);
    const tar = `${u.user.home}/rootfs.tar`;
    await rootfsTarball(tar);
    Deno.chownSync(tar, u.uid, u.gid);
    await pm.ok(["import", tar, IMAGE]);
    return pm;
  }

  run(args: string[]) {
    const argv = [
      "podman",
      "--storage-driver",
      "vfs",
      "--cgroup-manager",
      "cgroupfs",
      "--events-backend",
      "file",
    ];
    return this.u.run([...argv, ...args], { env: { CONTAINERS_CONF: this.conf } });
  }

  async ok(args: string[]): Promise<string> {
    const r = await this.run(args);
    if (r.code !== 0) throw new Error(`podman ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }
}

const TRAPS = `trap "exit 3" TERM; echo started; while true; do sleep 0.1; done`;

Deno.test("rootless podman: run --rm, run -d, exec, stop and rm with --runtime runts, as with runc", {
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const u = new RootlessUser();
  try {
    const pm = await RootlessPodman.start(u);
    const sub = u.user.subStart;
    // podman's user namespace: the user's own id as root, its subordinate range above.
    const maps = [
      "0",
      "0",
      `0 ${u.uid} 1`,
      `1 ${sub} ${u.user.subSize}`,
      `0 ${u.gid} 1`,
      `1 ${sub} ${u.user.subSize}`,
    ];
    for (const rt of ["runts", "runc"]) {
      await t.step(`${rt}: run --rm`, async () => {
        const r = await pm.run(["--runtime", rt, "run", "--rm", ...pm.network, IMAGE, "sh", "-c", ID_SCRIPT]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(squeeze(r.stdout), maps);
        const code = await pm.run([
          "--runtime",
          rt,
          "run",
          "--rm",
          ...pm.network,
          IMAGE,
          "sh",
          "-c",
          "exit 7",
        ]);
        assert.equal(code.code, 7, code.stderr);
      });
      await t.step(`${rt}: run -d, exec, stop, rm`, async () => {
        const name = `rl-${rt}-${crypto.randomUUID().slice(0, 8)}`;
        try {
          await pm.ok([
            "--runtime",
            rt,
            "run",
            "-d",
            "--name",
            name,
            ...pm.network,
            IMAGE,
            "sh",
            "-c",
            TRAPS,
          ]);
          const pid = Number((await pm.ok(["inspect", "-f", "{{.State.Pid}}", name])).trim());
          assert.deepEqual(hostIds(pid).uid, [u.uid, u.uid, u.uid, u.uid], "the host sees the user's uid");
          const ex = await pm.run(["exec", name, "sh", "-c", `${ID_SCRIPT}; echo $$`]);
          assert.equal(ex.code, 0, ex.stderr);
          assert.deepEqual(squeeze(ex.stdout).slice(0, 6), maps);
          const code = await pm.run(["exec", name, "sh", "-c", "exit 4"]);
          assert.equal(code.code, 4, code.stderr);
          await pm.ok(["stop", "-t", "10", name]);
          assert.equal((await pm.ok(["inspect", "-f", "{{.State.ExitCode}}", name])).trim(), "3");
          await pm.ok(["rm", name]);
          assert.equal((await pm.ok(["ps", "-a", "-q", "--filter", `name=${name}`])).trim(), "");
        } finally {
          await pm.run(["rm", "-f", "-t", "0", name]);
        }
      });
    }
    assert.deepEqual(u.stateEntries("runts"), [], "runts keeps no state of removed containers");
  } finally {
    await u.cleanup();
  }
});
