/**
 * `runts explain`: the plan of a bundle is what a real create does. Bundles from `runc spec` are explained
 * and then run for real, and the container's own /proc/self/mountinfo and /proc/self/status are compared
 * with the plan's mount table and app; the hostile corpus shows each refusal; a user-namespace bundle shows
 * what runts does with it; and explaining changes nothing on the host.
 */
import assert from "node:assert/strict";
import { explainBundle, type Plan } from "../../src/explain/plan.ts";
import { makeCorpus } from "../security/make_corpus.ts";
import { dockerShapedProfile } from "../security/profiles.ts";
import { runts } from "../cli/helpers.ts";
import { cachedRootfs } from "../util/rootfs.ts";
import { assertPlanMatches, confAt, defaultCgroupDir, opsOf, runcSpecBundle, uniqueId } from "./helpers.ts";

const skip = Deno.uid() !== 0 ? "needs root" : null;
const SPLIT = "=====runts-explain=====";
const REPORT = ["sh", "-c", `cat /proc/self/mountinfo; echo ${SPLIT}; cat /proc/self/status`];

/** Explains `dir` (id `id`, state under `root`), then runs it for real and returns both. */
async function bothWays(
  dir: string,
  id: string,
  root: string,
): Promise<{ plan: Plan; mountinfo: string; status: string }> {
  const plan = await explainBundle({ bundle: dir, id, conf: confAt(root) });
  assert.equal(plan.result, "ok", JSON.stringify(plan.refusal));
  const r = await runts(root, ["run", "--bundle", dir, id]);
  assert.equal(r.code, 0, r.stderr);
  const [mountinfo, ...rest] = r.stdout.split(`${SPLIT}\n`);
  return { plan, mountinfo, status: rest.join(`${SPLIT}\n`) };
}

Deno.test({
  name: "explain: the runc spec default plans the mounts, credentials and cgroups a real run makes",
  ignore: skip !== null,
  fn: async () => {
    const root = Deno.makeTempDirSync({ prefix: "runts-explain-root-" });
    const b = runcSpecBundle((s) => {
      s.process!.terminal = false;
      s.process!.args = REPORT;
    });
    const id = uniqueId("explain-runc");
    try {
      const { plan, mountinfo, status } = await bothWays(b.dir, id, root);
      assertPlanMatches(plan, mountinfo, status);
      const init = opsOf(plan, "init");
      assert.ok(init.includes("mount proc on /proc"), init.join("\n"));
      assert.ok(
        init.some((t) => t.startsWith("unshare(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET)")),
      );
      assert.ok(init.includes("prctl(PR_SET_NO_NEW_PRIVS, 1): no_new_privs is set"));
      assert.ok(init.includes("pivot_root into /: the container's root becomes /"));
      assert.ok(opsOf(plan, "boot").some((t) => t.startsWith("clone(CLONE_VM|CLONE_VFORK|CLONE_NEWPID)")));
      // below the caller's own memory cgroup, as runc's default (tests/cgroups/default_path_test.ts)
      assert.ok(opsOf(plan, "wrapper").includes(`cgroup: make ${defaultCgroupDir("memory", id)}`));
    } finally {
      b.cleanup();
      Deno.removeSync(root, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "explain: seccomp, a non-root user, limits, a sysctl and a device are planned as a real run makes them",
  ignore: skip !== null,
  fn: async () => {
    const root = Deno.makeTempDirSync({ prefix: "runts-explain-root-" });
    const probe = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /proc/sys/net/ipv4/ip_forward " +
      "/proc/self/oom_score_adj; stat -c '%a %t:%T' /dev/fuse; hostname";
    const b = runcSpecBundle((s) => {
      s.process!.terminal = false;
      s.process!.args = ["sh", "-c", `${REPORT[2]}; echo ${SPLIT}; ${probe}`];
      s.process!.user = { uid: 1000, gid: 1000, additionalGids: [10] };
      s.process!.noNewPrivileges = false;
      s.process!.oomScoreAdj = 100;
      s.hostname = "planned";
      s.linux!.seccomp = dockerShapedProfile();
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 33554432 }, pids: { limit: 64 } };
      s.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
      s.linux!.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o600 }];
    });
    const id = uniqueId("explain-rich");
    try {
      const { plan, mountinfo, status } = await bothWays(b.dir, id, root);
      const [realStatus, probed] = status.split(`${SPLIT}\n`);
      assertPlanMatches(plan, mountinfo, realStatus);
      assert.deepEqual(probed.trim().split("\n"), ["33554432", "1", "100", "600 a:e5", "planned"]);
      const wrapper = opsOf(plan, "wrapper"), init = opsOf(plan, "init");
      assert.ok(
        wrapper.includes(`cgroup memory.limit_in_bytes=33554432 in ${defaultCgroupDir("memory", id)}`),
      );
      assert.ok(wrapper.includes(`cgroup pids.max=64 in ${defaultCgroupDir("pids", id)}`));
      for (const t of ["sysctl net.ipv4.ip_forward=1", "oom_score_adj 100", 'sethostname "planned"']) {
        assert.ok(init.includes(t), t);
      }
      assert.ok(init.includes("mknod /dev/fuse c 10:229 (mode 0600)"));
      assert.ok(init.includes("setresuid 1000 (real, effective and saved uid)"));
      assert.ok(
        init.some((t) =>
          /^seccomp: load \d+ BPF instructions: default ERRNO\(EPERM\); ALLOW: \d+ rules/.test(t)
        ),
      );
    } finally {
      b.cleanup();
      Deno.removeSync(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "explain: every hostile or malformed config of the security corpus shows create's refusal",
  ignore: skip !== null,
  fn: async () => {
    const root = Deno.makeTempDirSync({ prefix: "runts-explain-root-" });
    const dir = Deno.makeTempDirSync({ prefix: "runts-explain-corpus-" });
    const failures: string[] = [];
    try {
      // The mount-list cases feed boot a list of their own; explain plans the wrapper's. A terminal without a
      // console socket is planned as engines run it, with one.
      const cases = makeCorpus(Deno.realPathSync(cachedRootfs()))
        .filter((c) => !c.mounts && c.name !== "spec-terminal-without-console");
      assert.ok(cases.length > 100, `${cases.length} cases`);
      for (const c of cases) {
        Deno.writeTextFileSync(`${dir}/config.json`, c.config);
        const plan = await explainBundle({ bundle: dir, id: "corpus-explain", conf: confAt(root) });
        if (!plan.refusal || !new RegExp(c.expect).test(plan.refusal.message)) {
          failures.push(`${c.name}: ${JSON.stringify(plan.refusal)} does not match /${c.expect}/`);
        }
        // A late case fails once boot runs (boot compiles the seccomp filter; init does the rest).
        if (c.late && plan.refusal?.stage === "wrapper") failures.push(`${c.name}: refused in the wrapper`);
      }
      assert.deepEqual(failures, []);
      assert.deepEqual([...Deno.readDirSync(root)], [], "no state was made");
    } finally {
      Deno.removeSync(dir, { recursive: true });
      Deno.removeSync(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "explain: a user-namespace bundle shows what runts does with it (today: init's refusal)",
  ignore: skip !== null,
  fn: async () => {
    const root = Deno.makeTempDirSync({ prefix: "runts-explain-root-" });
    const b = runcSpecBundle((s) => {
      s.process!.terminal = false;
      s.linux!.namespaces!.push({ type: "user" });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    try {
      const plan = await explainBundle({ bundle: b.dir, id: uniqueId("explain-userns"), conf: confAt(root) });
      if (plan.refusal) {
        assert.equal(plan.refusal.stage, "init");
        assert.match(plan.refusal.message, /user namespace/);
        // Everything before the refusal is planned; nothing after it.
        assert.ok(opsOf(plan, "init").some((t) => t.startsWith("cgroup: join")));
        assert.ok(!opsOf(plan, "init").some((t) => t.startsWith("execve")));
        assert.equal(plan.process, null);
      } else {
        // User namespaces are supported: the plan makes one.
        assert.ok(opsOf(plan, "init").some((t) => /CLONE_NEWUSER/.test(t)), opsOf(plan, "init").join("\n"));
      }
    } finally {
      b.cleanup();
      Deno.removeSync(root, { recursive: true });
    }
  },
});
