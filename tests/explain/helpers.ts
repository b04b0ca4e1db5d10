/** What the explain tests share: runc-spec bundles, and a real container's mount table and status parsed. */
import assert from "node:assert/strict";
import { Config } from "../../src/config/config.ts";
import { capMask } from "../../src/specutils/capabilities.ts";
import type { Spec } from "../../src/specutils/spec.ts";
import type { Plan } from "../../src/explain/plan.ts";
import { cachedRootfs } from "../util/rootfs.ts";
import { detectLayout, directoryOf } from "../../src/cgroups/layout.ts";

/** A bundle written by `runc spec` (its default config.json), root.path set to the test rootfs. */
export function runcSpecBundle(mutate?: (s: Spec) => void): { dir: string; cleanup: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "runts-explain-bundle-" });
  const out = new Deno.Command("/usr/sbin/runc", {
    args: ["spec"],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  })
    .outputSync();
  if (!out.success) throw new Error(`runc spec: ${new TextDecoder().decode(out.stderr)}`);
  const spec = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`)) as Spec;
  spec.root = { path: Deno.realPathSync(cachedRootfs()), readonly: spec.root?.readonly };
  mutate?.(spec);
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(spec, null, 2));
  return { dir, cleanup: () => Deno.removeSync(dir, { recursive: true }) };
}

/** A Config with its state under `root`. */
export function confAt(root: string): Config {
  const c = new Config();
  c.root = root;
  return c;
}

/** A unique container id. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** One mount of a mountinfo table: where, the mount's root in its file system, and its per-mount options. */
export interface MountLine {
  mountpoint: string;
  root: string;
  options: Set<string>;
}

/** Parses /proc/<pid>/mountinfo. */
export function parseMountinfo(text: string): MountLine[] {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return text.split("\n").filter((l) => l.includes(" - ")).map((l) => {
    const f = l.split(" ");
    return { mountpoint: unescape(f[4]), root: unescape(f[3]), options: new Set(f[5].split(",")) };
  });
}

/** The lines of /proc/<pid>/status as a map. */
export function parseStatus(text: string): Map<string, string> {
  return new Map(
    text.split("\n").filter((l) => l.includes(":")).map((
      l,
    ) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  );
}

const SECURITY = ["ro", "nosuid", "nodev", "noexec"];

/**
 * Asserts that the plan's mount table is the real one (the same mount points, with the same ro, nosuid,
 * nodev and noexec), and that its app has the real process's credentials, capability sets, no_new_privs and
 * seccomp mode.
 */
export function assertPlanMatches(plan: Plan, mountinfo: string, status: string): void {
  const real = parseMountinfo(mountinfo);
  assert.deepEqual(
    plan.mounts.map((m) => m.destination).sort(),
    real.map((m) => m.mountpoint).sort(),
    "the planned mount points are the real ones",
  );
  for (const m of plan.mounts) {
    const r = real.find((x) => x.mountpoint === m.destination)!;
    for (const o of SECURITY) {
      assert.equal(
        m.options.includes(o),
        r.options.has(o),
        `${m.destination}: ${o} (real: ${[...r.options]})`,
      );
    }
    // A cgroup hierarchy bound into the container is the container's own cgroup.
    if (m.destination.startsWith("/sys/fs/cgroup/") && m.type === "bind") {
      assert.ok(m.source.endsWith(r.root), `${m.destination}: ${m.source} shows ${r.root}`);
    }
  }
  const st = parseStatus(status);
  const p = plan.process!;
  assert.equal(st.get("Uid"), `${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}`);
  assert.equal(st.get("Gid"), `${p.gid}\t${p.gid}\t${p.gid}\t${p.gid}`);
  assert.deepEqual((st.get("Groups") ?? "").split(/\s+/).filter(Boolean).map(Number), p.additionalGids);
  const hex = (names: string[]) => capMask(names).toString(16).padStart(16, "0");
  assert.equal(st.get("CapEff"), hex(p.capabilities.effective), "CapEff");
  assert.equal(st.get("CapPrm"), hex(p.capabilities.permitted), "CapPrm");
  assert.equal(st.get("CapInh"), hex(p.capabilities.inheritable), "CapInh");
  assert.equal(st.get("CapBnd"), hex(p.capabilities.bounding), "CapBnd");
  assert.equal(st.get("CapAmb"), hex(p.capabilities.ambient), "CapAmb");
  assert.equal(st.get("NoNewPrivs"), p.noNewPrivileges ? "1" : "0", "NoNewPrivs");
  assert.equal(st.get("Seccomp"), p.seccompFilters ? "2" : "0", "Seccomp");
}

/** The text of every effect of `plan` in `stage`. */
export function opsOf(plan: Plan, stage: "wrapper" | "boot" | "init"): string[] {
  return plan.stages.find((s) => s.stage === stage)!.ops.filter((o) => o.effect).map((o) => o.text);
}

/**
 * Where runts puts container `id` without a cgroupsPath in v1 hierarchy `controller`: below this
 * process's own cgroup there, as runc does (tests/cgroups/default_path_test.ts).
 */
export function defaultCgroupDir(controller: string, id: string): string {
  const line = Deno.readTextFileSync("/proc/self/cgroup").split("\n")
    .find((l) => l.split(":")[1]?.split(",").includes(controller));
  const own = line?.split(":").slice(2).join(":") ?? "/";
  return `/sys/fs/cgroup/${controller}${own === "/" ? "" : own}/${id}`;
}

/** Every file below `dir` with its type, mode, size and mtime. */
function tree(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    const st = Deno.lstatSync(path);
    out.set(
      path,
      `${st.isDirectory ? "d" : st.isSymlink ? "l" : "f"} ${st.mode} ${st.size} ${st.mtime?.getTime()}`,
    );
    if (e.isDirectory) tree(path, out);
  }
  return out;
}

/** What explaining must not change: mounts at the watched places, the container's cgroups, files, oom score. */
export function hostSnapshot(id: string, watched: string[]) {
  const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) => {
    const mp = l.split(" ")[4] ?? "";
    return ["/", "/tmp", "/proc", "/dev", "/sys", "/sys/fs/cgroup"].includes(mp) ||
      watched.some((w) => mp === w || mp.startsWith(w + "/"));
  }).sort();
  const layout = detectLayout();
  const cgroups = layout.hierarchies.map((h) => {
    let sub = "";
    try {
      sub = Deno.readTextFileSync(`${h.mountpoint}/cgroup.subtree_control`);
    } catch { /* v1 */ }
    // At the top and below this process's own cgroup (runts's default place).
    const exists = [`${h.mountpoint}/${id}`, `${directoryOf(h, h.own)}/${id}`].map((d) => {
      try {
        Deno.statSync(d);
        return true;
      } catch {
        return false;
      }
    });
    return `${h.mountpoint} ${exists} ${sub.trim()}`;
  });
  const files = watched.flatMap((w) => {
    try {
      return [...tree(w)].map(([p, v]) => `${p} ${v}`);
    } catch {
      return [`${w} absent`];
    }
  });
  return { mounts, cgroups, files, oom: Deno.readTextFileSync("/proc/self/oom_score_adj") };
}
