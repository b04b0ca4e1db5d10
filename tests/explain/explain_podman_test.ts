/**
 * `runts explain` on the bundle podman generates: podman (private state in a namespace holder, as in
 * tests/clients/podman_test.ts) runs a container through a runtime that records the bundle of each create
 * and then is runts; the bundle is explained while the container runs, and the plan's mount table, app
 * credentials, capabilities, no_new_privs and seccomp mode are compared with the running container's.
 */
import assert from "node:assert/strict";
import { ensureInstalled, Holder, rootfsTarball, RUNTS, which } from "../clients/engines.ts";
import type { Plan } from "../../src/explain/plan.ts";
import { assertPlanMatches, opsOf } from "./helpers.ts";

const IMAGE = "localhost/busybox:runts-explain";
const CONF_TEMPLATE = new URL("../clients/containers.conf", import.meta.url).pathname;

const skip = Deno.uid() !== 0
  ? "needs root"
  : await ensureInstalled(["podman", "runc"], ["podman", "conmon"]);
if (skip) console.log(`tests/explain/explain_podman_test.ts: skipped: ${skip}`);

function podmanArgv(dir: string, args: string[]): string[] {
  return [
    "podman",
    ...["--root", `${dir}/root`, "--runroot", `${dir}/runroot`, "--tmpdir", `${dir}/tmp`],
    ...["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"],
    ...args,
  ];
}

Deno.test({
  name: "explain: a podman-generated bundle plans what the running container has",
  ignore: skip !== null,
  fn: async () => {
    const h = await Holder.start("explain-podman");
    const env = { CONTAINERS_CONF: `${h.dir}/containers.conf`, TMPDIR: `${h.dir}/tmp` };
    const podman = async (args: string[]) => {
      const r = await h.run(podmanArgv(h.dir, args), { env });
      if (r.code !== 0) throw new Error(`podman ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const name = `explain-${crypto.randomUUID().slice(0, 8)}`;
    try {
      for (const d of ["root", "runroot", "tmp", "cni", "bin"]) Deno.mkdirSync(`${h.dir}/${d}`);
      // The runtime podman runs: named runts (podman passes --log-format json by file name), records bundles.
      const capture = `${h.dir}/bundles`;
      const runtime = `${h.dir}/bin/runts`;
      Deno.writeTextFileSync(
        runtime,
        `#!/bin/sh\nprev=\nfor a in "$@"; do\n  case "$a" in --bundle=*) echo "\${a#*=}" >>'${capture}';; esac\n` +
          `  if [ "$prev" = --bundle ] || [ "$prev" = -b ]; then echo "$a" >>'${capture}'; fi\n  prev=$a\n` +
          `done\nexec '${RUNTS}' "$@"\n`,
        { mode: 0o755 },
      );
      const conf = Deno.readTextFileSync(CONF_TEMPLATE).replaceAll("@DIR@", h.dir).replaceAll(
        "@RUNTS@",
        runtime,
      )
        .replaceAll("@RUNC@", which("runc") ?? "/usr/sbin/runc");
      Deno.writeTextFileSync(`${h.dir}/containers.conf`, conf);
      await rootfsTarball(`${h.dir}/rootfs.tar`);
      await podman(["import", `${h.dir}/rootfs.tar`, IMAGE]);
      await podman(["--runtime", "runts", "run", "-d", "--name", name, IMAGE, "sleep", "1000"]);
      const pid = Number(await podman(["inspect", "-f", "{{.State.Pid}}", name]));
      const bundle = Deno.readTextFileSync(capture).trim().split("\n").pop()!;
      // podman's network namespace is a file under the holder's /run: explain runs where podman does.
      const r = await h.run([
        RUNTS,
        "--root",
        `${h.dir}/explain-state`,
        "explain",
        "--format",
        "json",
        "--bundle",
        bundle,
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const plan = JSON.parse(r.stdout) as Plan;
      assert.equal(plan.result, "ok");
      assertPlanMatches(
        plan,
        Deno.readTextFileSync(`/proc/${pid}/mountinfo`),
        Deno.readTextFileSync(`/proc/${pid}/status`),
      );
      const init = opsOf(plan, "init");
      assert.ok(init.some((t) => /^setns \S+ \(CLONE_NEWNET\)$/.test(t)), init.join("\n"));
      assert.ok(init.some((t) => t.startsWith("seccomp: load ")));
      assert.deepEqual([...Deno.readDirSync(h.dir)].filter((e) => e.name === "explain-state"), []);
    } finally {
      await h.run(podmanArgv(h.dir, ["rm", "-f", "-t", "0", name]), { env });
      await h.stop();
    }
  },
});
