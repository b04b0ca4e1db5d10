/**
 * `runts explain`: the plan of a bundle is what a real create does. Bundles from `runc spec` are explained
 * and then run for real, and the container's own /proc/self/mountinfo and /proc/self/status are compared
 * with the plan's mount table and app; the hostile corpus shows each refusal; a user-namespace bundle (with
 * an idmapped bind and a time namespace) is compared the same way, maps and offsets included; and
 * explaining changes nothing on the host.
 */
import assert from "node:assert/strict";
import { explainBundle, type Plan } from "../../src/explain/plan.ts";
import { makeCorpus } from "../security/make_corpus.ts";
import { dockerShapedProfile } from "../security/profiles.ts";
import { runts } from "../cli/helpers.ts";
import { cachedRootfs } from "../util/rootfs.ts";
import {
  assertPlanMatches,
  confAt,
  defaultCgroupDir,
  hostSnapshot,
  opsOf,
  parseMountinfo,
  runcSpecBundle,
  uniqueId,
} from "./helpers.ts";
import { parseMapText } from "../../src/specutils/idmap.ts";
import type { LinuxIDMapping, Spec } from "../../src/specutils/spec.ts";

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

/** /proc/self/timens_offsets (or a plan's timeOffsets) as "clock secs nanosecs" lines. */
function offsetLines(text: string): string[] {
  return text.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
}

Deno.test({
  name: "explain: a user-namespace bundle with an idmapped bind and time offsets is planned as a real run " +
    "makes it (maps, mounts, credentials inside), and explaining it changes nothing on the host",
  ignore: skip !== null,
  fn: async () => {
    const root = Deno.makeTempDirSync({ prefix: "runts-explain-root-" });
    const data = Deno.makeTempDirSync({ prefix: "runts-explain-idmap-" });
    Deno.chmodSync(data, 0o755);
    Deno.writeTextFileSync(`${data}/file`, "kept\n");
    const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const probe =
      `echo ${SPLIT}; cat /proc/self/uid_map; echo ${SPLIT}; cat /proc/self/gid_map /proc/self/setgroups; ` +
      `echo ${SPLIT}; cat /proc/self/timens_offsets`;
    const b = runcSpecBundle((s) => {
      s.process!.terminal = false;
      s.process!.args = ["sh", "-c", `${REPORT[2]}; ${probe}`];
      s.linux!.namespaces!.push({ type: "user" }, { type: "time" });
      s.linux!.uidMappings = map;
      s.linux!.gidMappings = map;
      s.linux!.timeOffsets = { monotonic: { secs: 259200, nanosecs: 5 }, boottime: { secs: 432000 } };
      s.mounts!.push({ destination: "/mnt", type: "bind", source: data, options: ["bind", "idmap"] });
    });
    const id = uniqueId("explain-userns");
    const watched = [b.dir, data, Deno.realPathSync(cachedRootfs())];
    try {
      const before = hostSnapshot(id, watched);
      const plan = await explainBundle({ bundle: b.dir, id, conf: confAt(root) });
      assert.deepEqual(hostSnapshot(id, watched), before, "explaining changed the host");
      assert.equal(plan.result, "ok", JSON.stringify(plan.refusal));
      const boot = opsOf(plan, "boot"), init = opsOf(plan, "init");
      assert.ok(
        boot.some((t) => /^clone\(CLONE_VM\|CLONE_VFORK\|CLONE_NEWUSER\|CLONE_NEWPID\): init/.test(t)),
        boot.join("\n"),
      );
      // boot's map writer writes the maps from the host's namespace; the idmapped bind gets a holder's.
      assert.ok(boot.some((t) => t.startsWith("start the map writer")));
      for (const f of ["uid", "gid"]) {
        const want = new RegExp(
          `^write ${f}_map of init \\(pid \\d+\\): ${f}s 0-65535 are host ${f}s 100000-165535$`,
        );
        assert.ok(boot.some((t) => want.test(t)), `${f}_map in\n${boot.join("\n")}`);
      }
      assert.ok(boot.some((t) => /^clone\(CLONE_NEWUSER\): a holder/.test(t)), boot.join("\n"));
      assert.ok(
        boot.some((t) =>
          t.startsWith(`idmap ${data}: files show their owners through uid map "0 100000 65536"`)
        ),
      );
      assert.ok(init.some((t) => /^unshare\(.*CLONE_NEWTIME.*\)/.test(t)), init.join("\n"));
      assert.ok(
        init.includes(
          "time offsets of the new time namespace: monotonic +259200.000000005 s, boottime +432000 s",
        ),
      );
      // In the user namespace mknod is refused: devices are binds of the host's nodes, as for real.
      assert.ok(init.includes("bind /dev/null (host) on /dev/null (bind)"), init.join("\n"));
      assert.ok(plan.mounts.find((m) => m.destination === "/mnt")?.options.includes("idmapped"));

      const r = await runts(root, ["run", "--bundle", b.dir, id]);
      assert.equal(r.code, 0, r.stderr);
      const [mountinfo, status, uidMap, gidSetgroups, offsets] = r.stdout.split(`${SPLIT}\n`);
      assertPlanMatches(plan, mountinfo, status);
      const real = parseMountinfo(mountinfo).find((m) => m.mountpoint === "/mnt")!;
      assert.ok(real.options.has("idmapped"), [...real.options].join(","));
      const u = plan.process!.userNamespace!;
      assert.deepEqual(parseMapText(uidMap), u.uidMap);
      const gidLines = gidSetgroups.trim().split("\n");
      assert.deepEqual(parseMapText(gidLines.slice(0, -1).join("\n")), u.gidMap);
      assert.equal(gidLines.at(-1), u.setgroups);
      const t = plan.process!.timeOffsets!;
      assert.deepEqual(
        offsetLines(offsets),
        Object.entries(t).map(([c, o]) => `${c} ${o.secs} ${o.nanosecs}`),
      );
      assert.ok(plan.process!.namespaces.includes("user") && plan.process!.namespaces.includes("time"));
    } finally {
      b.cleanup();
      Deno.removeSync(data, { recursive: true });
      Deno.removeSync(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "explain: a bundle joining a running container's user namespace plans boot's first child and the " +
    "maps check as a real run does them",
  ignore: skip !== null,
  fn: async () => {
    const root = Deno.makeTempDirSync({ prefix: "runts-explain-root-" });
    const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const mapped = (s: Spec) => {
      s.process!.terminal = false;
      s.linux!.uidMappings = map;
      s.linux!.gidMappings = map;
    };
    const owner = runcSpecBundle((s) => {
      mapped(s);
      s.process!.args = ["sleep", "60"];
      s.linux!.namespaces!.push({ type: "user" });
    });
    const ownerId = uniqueId("explain-owner");
    const joiner = (m: LinuxIDMapping[], userns: string) =>
      runcSpecBundle((s) => {
        mapped(s);
        s.linux!.uidMappings = m;
        s.process!.args = ["sh", "-c", `${REPORT[2]}; echo ${SPLIT}; cat /proc/self/uid_map`];
        s.linux!.namespaces!.push({ type: "user", path: userns });
      });
    const made: Array<{ cleanup: () => void }> = [owner];
    try {
      const started = await runts(root, ["run", "-d", "--bundle", owner.dir, ownerId]);
      assert.equal(started.code, 0, started.stderr);
      const userns = `/proc/${JSON.parse((await runts(root, ["state", ownerId])).stdout).pid}/ns/user`;
      const good = joiner(map, userns),
        bad = joiner([{ containerID: 0, hostID: 200000, size: 65536 }], userns);
      made.push(good, bad);
      const id = uniqueId("explain-joiner");
      const plan = await explainBundle({ bundle: good.dir, id, conf: confAt(root) });
      assert.equal(plan.result, "ok", JSON.stringify(plan.refusal));
      const boot = opsOf(plan, "boot");
      assert.ok(
        boot.some((t) => t.startsWith("clone(CLONE_VM|CLONE_VFORK): boot's first child")),
        boot.join("\n"),
      );
      assert.ok(boot.includes(`setns ${userns} (CLONE_NEWUSER)`), boot.join("\n"));
      assert.ok(boot.includes("unshare(CLONE_NEWPID): new pid namespace"));
      const r = await runts(root, ["run", "--bundle", good.dir, id]);
      assert.equal(r.code, 0, r.stderr);
      const [mountinfo, status, uidMap] = r.stdout.split(`${SPLIT}\n`);
      assertPlanMatches(plan, mountinfo, status);
      assert.deepEqual(parseMapText(uidMap), plan.process!.userNamespace!.uidMap);
      // Maps that disagree with the joined namespace's: the plan shows the refusal the real run gives.
      const refused = await explainBundle({ bundle: bad.dir, id, conf: confAt(root) });
      const real = await runts(root, ["run", "--bundle", bad.dir, uniqueId("explain-joiner")]);
      assert.equal(real.code, 1);
      assert.equal(refused.refusal?.stage, "init");
      assert.match(
        refused.refusal!.message,
        /differ from the joined user namespace's uid_map \(0 100000 65536\)/,
      );
      assert.ok(real.stderr.includes(refused.refusal!.message), real.stderr);
    } finally {
      await runts(root, ["delete", "--force", ownerId]);
      made.forEach((b) => b.cleanup());
      Deno.removeSync(root, { recursive: true });
    }
  },
});
