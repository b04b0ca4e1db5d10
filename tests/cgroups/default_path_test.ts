/**
 * The default cgroup (no linux.cgroupsPath) on this host, for real: the wrapper runs from inside a test
 * cgroup made in every hierarchy, and the container must land where runc puts it from the same place
 * (below the caller's cgroup in each v1 hierarchy; at the unified root on a hybrid host), so a limit put
 * on the caller still holds for the container. On a private pure-v2 view (one cgroup2 mount), runc's fs2
 * rule: below the parent of the caller's cgroup.
 */
import assert from "node:assert/strict";
import { RUNTS } from "../cli/helpers.ts";
import { makeBundle } from "../util/rootfs.ts";
import { which } from "../clients/engines.ts";
import { canUseCgroups } from "./helpers.ts";
import { cgroupHierarchies } from "../reliability/helpers.ts";

const decoder = new TextDecoder();

/** Runs `cmd` with its process moved first into `procs` (cgroup.procs files); stdout, stderr, code. */
async function runIn(procs: string[], cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("/bin/sh", {
    args: ["-c", 'for f in $PROCS; do echo $$ >"$f" || exit 90; done; exec "$@"', "sh", ...cmd],
    env: { PROCS: procs.join(" ") },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: decoder.decode(r.stdout), err: decoder.decode(r.stderr) };
}

/** A bundle without cgroupsPath and without a cgroup namespace (the app reads its host cgroup paths). */
function catCgroupBundle(): { dir: string; cleanup(): void } {
  return makeBundle({
    args: ["cat", "/proc/self/cgroup"],
    mutate: (s) => {
      delete s.linux!.cgroupsPath;
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "cgroup");
    },
  });
}

/** The /proc/self/cgroup lines with `id` written as ID, sorted. */
function normalized(text: string, id: string): string[] {
  return text.trim().split("\n").map((l) => l.replaceAll(id, "ID")).sort();
}

Deno.test({
  name: "cgroups: with no cgroupsPath the container nests in the caller's cgroup as under runc",
  ignore: !canUseCgroups(),
  async fn() {
    const tag = crypto.randomUUID().slice(0, 8);
    const test = `runts-test-${tag}`;
    const hierarchies = cgroupHierarchies();
    const made: string[] = [];
    const root = Deno.makeTempDirSync({ prefix: "runts-cgdef-" });
    const bundle = catCgroupBundle();
    try {
      for (const h of hierarchies) {
        const dir = `${h}/${test}`;
        Deno.mkdirSync(dir);
        made.push(dir);
        for (const f of ["cpuset.cpus", "cpuset.mems"]) {
          try {
            Deno.writeTextFileSync(`${dir}/${f}`, Deno.readTextFileSync(`${h}/${f}`));
          } catch (e) {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          }
        }
      }
      const procs = made.map((d) => `${d}/cgroup.procs`);
      const id = `cgdef-${tag}`;
      const r = await runIn(procs, [RUNTS, "--root", root, "run", "--bundle", bundle.dir, id]);
      assert.equal(r.code, 0, r.err);
      const lines = normalized(r.out, id);
      // Every v1 hierarchy: below the caller's cgroup.
      const v1 = lines.filter((l) => !l.startsWith("0::"));
      assert.ok(v1.length > 0, r.out);
      for (const l of v1) assert.match(l, new RegExp(`^\\d+:[^:]+:/${test}/ID$`), r.out);
      const runc = which("runc");
      if (runc) {
        const rid = `cgdef-runc-${tag}`;
        const rr = await runIn(procs, [runc, "--root", `${root}/runc`, "run", "--bundle", bundle.dir, rid]);
        assert.equal(rr.code, 0, rr.err);
        assert.deepEqual(lines, normalized(rr.out, rid), "runts and runc place the container alike");
      }
      for (const d of made) assert.deepEqual([...Deno.readDirSync(d)].filter((e) => e.isDirectory), [], d);
    } finally {
      for (const d of made.reverse()) {
        try {
          Deno.removeSync(d);
        } catch (e) {
          console.error(`removing ${d}: ${(e as Error).message}`);
        }
      }
      bundle.cleanup();
      Deno.removeSync(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "cgroups: with no cgroupsPath on pure v2 the container goes below the caller's parent as under runc",
  ignore: !canUseCgroups() || !hostUnified(),
  async fn() {
    const tag = crypto.randomUUID().slice(0, 8);
    const test = `runts-test-${tag}`;
    const hostDir = `${hostUnified()}/${test}`;
    const root = Deno.makeTempDirSync({ prefix: "runts-cgdef-" });
    const bundle = catCgroupBundle();
    const runc = which("runc");
    try {
      const script = `umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 90
mkdir -p "/sys/fs/cgroup/$T/inner" && echo $$ >"/sys/fs/cgroup/$T/inner/cgroup.procs" || exit 91
"$RUNTS" --root "$ROOT" run --bundle "$BUNDLE" "runts-$T" || exit 92
[ -z "$RUNC" ] || "$RUNC" --root "$ROOT/runc" run --bundle "$BUNDLE" "runc-$T" || exit 93`;
      const r = await new Deno.Command("unshare", {
        args: ["-m", "--propagation", "private", "sh", "-c", script],
        env: { T: test, RUNTS, ROOT: root, BUNDLE: bundle.dir, RUNC: runc ?? "" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = decoder.decode(r.stdout).trim().split("\n").filter((l) => l.startsWith("0::"));
      assert.equal(r.code, 0, decoder.decode(r.stderr));
      assert.equal(out[0], `0::/${test}/runts-${test}`);
      if (runc) assert.equal(out[1], `0::/${test}/runc-${test}`);
    } finally {
      for (const d of [`${hostDir}/inner`, hostDir]) {
        try {
          Deno.removeSync(d);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) console.error(`removing ${d}: ${(e as Error).message}`);
        }
      }
      bundle.cleanup();
      Deno.removeSync(root, { recursive: true });
    }
  },
});

/** Where this host mounts its unified (cgroup2) hierarchy, if it has one and unshare works. */
function hostUnified(): string | null {
  const line = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").find((l) =>
    l.includes(" - cgroup2 ")
  );
  if (!line || !which("unshare")) return null;
  return line.split(" ")[4];
}
