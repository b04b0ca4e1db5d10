/**
 * `runts explain` from the command line: it changes nothing on the host (mount table, cgroups, files, its
 * own oom score), `--diff` names what changes between two bundles, and the command is registered, with
 * text and JSON output and exit 1 for a refused bundle.
 */
import assert from "node:assert/strict";
import { explainBundle, type Plan } from "../../src/explain/plan.ts";
import type { PlanDiff } from "../../src/explain/diff.ts";
import { filterPlan } from "../../src/explain/format.ts";
import { dockerShapedProfile } from "../security/profiles.ts";
import { runts } from "../cli/helpers.ts";
import { cachedRootfs } from "../util/rootfs.ts";
import { confAt, hostSnapshot as snapshot, opsOf, runcSpecBundle, uniqueId } from "./helpers.ts";

const skip = Deno.uid() !== 0 ? "needs root" : null;

Deno.test({
  name:
    "explain: nothing on the host changes (mount table, cgroups, files under the bundle, rootfs and state)",
  ignore: skip !== null,
  fn: async () => {
    const tmp = Deno.makeTempDirSync({ prefix: "runts-explain-host-" });
    const data = `${tmp}/data`;
    Deno.mkdirSync(data);
    Deno.writeTextFileSync(`${data}/file`, "kept\n");
    const state = `${tmp}/state`;
    // A destination the shared rootfs does not have: a real run would make it there, explain must not.
    const dest = `/${uniqueId("explain-dest")}`;
    const b = runcSpecBundle((s) => {
      s.process!.oomScoreAdj = 500;
      s.hostname = "unchanged";
      s.mounts!.push({ destination: dest, type: "bind", source: data, options: ["rbind", "ro"] });
      s.linux!.seccomp = dockerShapedProfile();
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 67108864 }, pids: { limit: 32 } };
      s.linux!.sysctl = { "net.ipv4.ip_forward": "1", "kernel.shmmax": "65536" };
      s.linux!.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229 }];
    });
    const id = uniqueId("explain-host");
    const rootfs = Deno.realPathSync(cachedRootfs());
    const watched = [tmp, b.dir, rootfs];
    try {
      const before = snapshot(id, watched);
      // In this process too: init's steps (oom_score_adj, sysctls, cgroup joins) must reach only the model.
      const plan = await explainBundle({ bundle: b.dir, id, conf: confAt(state) });
      assert.deepEqual(snapshot(id, watched), before);
      assert.equal(plan.result, "ok", JSON.stringify(plan.refusal));
      const r = await runts(state, ["explain", "--format", "json", "--bundle", b.dir, id]);
      assert.equal(r.code, 0, r.stderr);
      const viaCli = JSON.parse(r.stdout) as Plan;
      assert.deepEqual(viaCli.stages, filterPlan(plan, false).stages);
      const init = opsOf(plan, "init");
      for (
        const t of [`mkdir ${dest} (mode 0755)`, `bind ${data} on ${dest}`, `remount ${dest} (ro, bind)`]
      ) {
        assert.ok(init.includes(t), `${t} in\n${init.join("\n")}`);
      }
      assert.ok(init.includes("oom_score_adj 500") && init.includes("sysctl kernel.shmmax=65536"));
      assert.deepEqual(snapshot(id, watched), before);
      assert.throws(() => Deno.statSync(state), Deno.errors.NotFound);
      assert.throws(() => Deno.statSync(rootfs + dest), Deno.errors.NotFound);
    } finally {
      b.cleanup();
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "explain --diff: the operations a second bundle adds, removes and changes, per stage",
  ignore: skip !== null,
  fn: async () => {
    const state = Deno.makeTempDirSync({ prefix: "runts-explain-root-" });
    const a = runcSpecBundle((s) => (s.process!.terminal = false));
    const b = runcSpecBundle((s) => {
      s.process!.terminal = false;
      s.hostname = "other";
      for (const set of ["bounding", "effective", "permitted"] as const) {
        s.process!.capabilities![set]!.push("CAP_NET_RAW");
      }
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 33554432 } };
      s.linux!.maskedPaths = s.linux!.maskedPaths!.filter((p) => p !== "/proc/keys");
    });
    try {
      const r = await runts(state, ["explain", "--format", "json", "--bundle", a.dir, "--diff", b.dir]);
      assert.equal(r.code, 0, r.stderr);
      const d = JSON.parse(r.stdout) as PlanDiff;
      const stage = (n: string) => d.stages.find((s) => s.stage === n)!;
      const init = stage("init");
      assert.ok(
        init.changed.some((c) => c.key === "capset" && c.to.includes("CAP_NET_RAW")),
        JSON.stringify(init),
      );
      assert.ok(init.changed.some((c) => c.key === "sethostname" && c.to === 'sethostname "other"'));
      assert.ok(init.removed.some((o) => o.text === "mask /proc/keys: bind /dev/null over it"));
      assert.ok(
        stage("wrapper").added.some((o) => o.text.startsWith("cgroup memory.limit_in_bytes=33554432 in ")),
      );
      const text = await runts(state, ["explain", "--bundle", a.dir, "--diff", b.dir]);
      assert.match(text.stdout, /^ {2}~ sethostname "runc"\n {4}→ sethostname "other"$/m);
      assert.match(text.stdout, /^ {2}- mask \/proc\/keys: bind \/dev\/null over it$/m);
      const same = await runts(state, ["explain", "--bundle", a.dir, "--diff", a.dir]);
      assert.match(same.stdout, /the plans are the same/);
    } finally {
      a.cleanup();
      b.cleanup();
      Deno.removeSync(state, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "explain: registered, in help, text by stage, and exit 1 with the refusal for a bundle create refuses",
  ignore: skip !== null,
  fn: async () => {
    const state = Deno.makeTempDirSync({ prefix: "runts-explain-root-" });
    const good = runcSpecBundle();
    const bad = runcSpecBundle((s) => (s.linux!.seccomp = { defaultAction: "SCMP_ACT_MAYBE" }));
    try {
      const help = await runts(state, ["help"]);
      assert.match(help.stdout, /\texplain +show what creating a container would do to the kernel/);
      const usage = await runts(state, ["help", "explain"]);
      assert.match(usage.stdout, /-diff/);
      const r = await runts(state, ["explain", "--bundle", good.dir]);
      assert.equal(r.code, 0, r.stderr);
      for (
        const heading of [
          "wrapper (runts create, on the host):",
          "boot (the container's supervisor, on the host):",
          "init (boot's clone child, which becomes the app):",
          "the container's mounts:",
          "the app, once execve ran:",
        ]
      ) assert.ok(r.stdout.includes(`\n${heading}\n`), heading);
      assert.match(r.stdout, /^result: ok/m);
      const refused = await runts(state, ["explain", "--bundle", bad.dir]);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /^result: REFUSED in wrapper: .*not a known seccomp action/m);
      const wrongFormat = await runts(state, ["explain", "--format", "yaml", "--bundle", good.dir]);
      assert.equal(wrongFormat.code, 1);
      assert.match(wrongFormat.stderr, /must be text or json/);
    } finally {
      good.cleanup();
      bad.cleanup();
      Deno.removeSync(state, { recursive: true });
    }
  },
});
