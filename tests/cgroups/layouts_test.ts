/**
 * The pure layouts, set up privately: the whole runtime runs under `unshare -m` in a mount namespace
 * whose /sys/fs/cgroup is either the v1 hierarchies alone (no unified mount) or one cgroup2 mount (the
 * unified hierarchy; on this hybrid host it offers no memory/cpu/pids controllers, those are bound to v1,
 * so v2 limits of those are checked against the in-memory model in resources_test.ts instead).
 */
import assert from "node:assert/strict";
import { Fixture, RUNTS } from "../cli/helpers.ts";
import { canUseCgroups, keyed } from "./helpers.ts";
import type { CgroupRecord } from "../../src/cgroups/manager.ts";
import { exists } from "../util/rootfs.ts";

const V1_CONTROLLERS = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"];

function hostHas(what: string): boolean {
  try {
    return Deno.readTextFileSync("/proc/self/mountinfo").split("\n").some((l) => l.includes(what));
  } catch {
    return false;
  }
}

function unshareWorks(): boolean {
  try {
    return new Deno.Command("unshare", { args: ["-m", "true"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** Runs `script` (sh) in a private mount namespace; its variables come from `env`. */
async function inPrivateMounts(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number; err: string }> {
  const r = await new Deno.Command("unshare", {
    args: ["-m", "--propagation", "private", "sh", "-c", `set -u\n${script}`],
    env: { ...env, RUNTS },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: r.code, err: new TextDecoder().decode(r.stderr) };
}

const id = () => `cgl-${crypto.randomUUID().slice(0, 8)}`;
const MiB = 1024 * 1024;

Deno.test({
  name: "cgroups layouts: pure v1 (v1 hierarchies only, in a private mount namespace)",
  ignore: !canUseCgroups() || !unshareWorks() || !V1_CONTROLLERS.every((c) => hostHas(`cgroup rw,${c}`)),
  async fn() {
    const fx = new Fixture();
    const out = Deno.makeTempDirSync({ prefix: "runts-cgl-" });
    const cid = id();
    try {
      const bundle = fx.bundle(
        ["/bin/sh", "-c", "tail /dev/zero; echo hog:$?; nproc; cat /proc/self/cgroup"],
        (s) => {
          s.linux!.resources = { ...s.linux!.resources, memory: { limit: 32 * MiB }, cpu: { cpus: "0" } };
        },
      );
      const mounts = V1_CONTROLLERS.map((c) =>
        `mkdir /sys/fs/cgroup/${c} && mount -t cgroup -o ${c} cgroup /sys/fs/cgroup/${c}`
      )
        .join(" && ");
      const r = await inPrivateMounts(
        `umount -R /sys/fs/cgroup && mount -t tmpfs cgroup /sys/fs/cgroup && ${mounts} || exit 90
"$RUNTS" --root "$ROOT" run --keep --bundle "$BUNDLE" "$ID" >"$OUT/run.out" 2>"$OUT/run.err"; echo $? >"$OUT/rc"
cp "$ROOT/$ID/state.json" "$OUT/state.json"
"$RUNTS" --root "$ROOT" delete "$ID" || exit 91`,
        { ROOT: fx.root, BUNDLE: bundle, ID: cid, OUT: out },
      );
      assert.equal(r.code, 0, r.err + Deno.readTextFileSync(`${out}/run.err`));
      assert.equal(Deno.readTextFileSync(`${out}/rc`).trim(), "0", Deno.readTextFileSync(`${out}/run.err`));
      const lines = Deno.readTextFileSync(`${out}/run.out`).trim().split("\n");
      assert.equal(lines[0], "hog:137");
      assert.equal(lines[1], "1");
      const rec = JSON.parse(Deno.readTextFileSync(`${out}/state.json`)).cgroups as CgroupRecord;
      assert.equal(rec.mode, "v1");
      assert.deepEqual(Object.keys(rec.dirs).sort(), [...V1_CONTROLLERS].sort());
      // Same hierarchies as the host's: the host sees them gone too.
      for (const c of V1_CONTROLLERS) assert.equal(exists(`/sys/fs/cgroup/${c}/${cid}`), false, c);
    } finally {
      Deno.removeSync(out, { recursive: true });
      await fx.cleanup();
    }
  },
});

Deno.test({
  name: "cgroups layouts: pure v2 (one cgroup2 mount, in a private mount namespace)",
  ignore: !canUseCgroups() || !unshareWorks() || !hostHas(" - cgroup2 "),
  async fn() {
    const fx = new Fixture();
    const out = Deno.makeTempDirSync({ prefix: "runts-cgl-" });
    const cid = id();
    // The unified hierarchy of the host, wherever it is mounted.
    const line = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").find((l) =>
      l.includes(" - cgroup2 ")
    )!;
    const hostDir = `${line.split(" ")[4]}/${cid}`;
    const subtree = `${line.split(" ")[4]}/cgroup.subtree_control`;
    const enabledBefore = Deno.readTextFileSync(subtree).trim().split(/\s+/).filter(Boolean);
    try {
      const bundle = fx.bundle(["/bin/sh", "-c", "while :; do sleep 0.1; done"], (s) => {
        s.linux!.resources = { ...s.linux!.resources, pids: { limit: 30 } };
        const caps = s.process!.capabilities!;
        for (const set of [caps.bounding!, caps.effective!, caps.permitted!]) set.push("CAP_MKNOD");
      });
      const r = await inPrivateMounts(
        `umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 90
R() { "$RUNTS" --root "$ROOT" --log "$OUT/log" "$@"; }
R create --bundle "$BUNDLE" "$ID" 2>"$OUT/create.err" || exit 91
R start "$ID" || exit 92
cat "/sys/fs/cgroup/$ID/cgroup.procs" >"$OUT/procs"
R pause "$ID" || exit 93
cat "/sys/fs/cgroup/$ID/cgroup.events" >"$OUT/frozen"
R state "$ID" >"$OUT/paused.json"
R resume "$ID" || exit 94
cat "/sys/fs/cgroup/$ID/cgroup.events" >"$OUT/thawed"
R events --stats "$ID" >"$OUT/stats.json" || exit 95
R exec "$ID" sh -c 'mknod /dev/lc c 10 237; cat /dev/lc; echo x >/dev/null && echo null-ok' >"$OUT/dev.out" 2>"$OUT/dev.err"
cp "$ROOT/$ID/state.json" "$OUT/state.json"
R delete --force "$ID" || exit 96
[ -e "/sys/fs/cgroup/$ID" ] && exit 97
exit 0`,
        { ROOT: fx.root, BUNDLE: bundle, ID: cid, OUT: out },
      );
      const read = (f: string) => Deno.readTextFileSync(`${out}/${f}`);
      assert.equal(r.code, 0, r.err);
      const rec = JSON.parse(read("state.json")).cgroups as CgroupRecord;
      assert.equal(rec.mode, "v2");
      assert.deepEqual(Object.keys(rec.dirs), ["unified"]);
      assert.equal(rec.dirs.unified, `/sys/fs/cgroup/${cid}`);
      // The app is in its cgroup.
      assert.equal(read("procs").trim().split("\n").length >= 1, true);
      // Without a pids controller in this unified hierarchy the limit is reported, not silently dropped.
      if (!Deno.readTextFileSync(`${line.split(" ")[4]}/cgroup.controllers`).includes("pids")) {
        assert.match(read("log"), /pids\.limit is not enforced: no pids controller/);
      }
      assert.equal(keyed(read("frozen")).frozen, 1);
      assert.equal(JSON.parse(read("paused.json")).status, "paused");
      assert.equal(keyed(read("thawed")).frozen, 0);
      assert.ok(JSON.parse(read("stats.json")).data.cpu.usage.total > 0);
      // Device rules as an eBPF program: the node can be made but not opened; /dev/null still works.
      assert.match(read("dev.err"), /can't open '\/dev\/lc': Operation not permitted/);
      assert.match(read("dev.out"), /null-ok/);
      assert.equal(exists(hostDir), false);
    } finally {
      // Put back the root's delegation as it was (v2 mode enables what the root offers).
      const now = Deno.readTextFileSync(subtree).trim().split(/\s+/).filter(Boolean);
      for (const c of now) {
        if (enabledBefore.includes(c)) continue;
        try {
          Deno.writeTextFileSync(subtree, `-${c}`);
        } catch {
          // Someone else's cgroup uses it now; leave it enabled.
        }
      }
      Deno.removeSync(out, { recursive: true });
      await fx.cleanup();
    }
  },
});
