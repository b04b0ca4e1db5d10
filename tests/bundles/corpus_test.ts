/**
 * Bundles from other tools: the config.json of `runc spec`, `crun spec`, `runsc spec`, `runts spec`, and
 * those podman and containerd write for a real run (captured by a wrapper that execs runc), each run
 * under runts and under runc with only `terminal`, `process.args` (the probe) and `root.path` (a private
 * busybox rootfs) changed. What the container sees must be the same: ids, HOME, the Cap* lines and
 * NoNewPrivs, hostname, pid, the /dev listing, the mounts, and the exit code.
 */
import assert from "node:assert/strict";
import { RUNTS } from "../cli/helpers.ts";
import { which } from "../clients/engines.ts";
import { PrivateRootfs } from "../security/helpers.ts";
import { type Captured, containerdSpec, podmanSpec, type Source, toolSpec } from "./capture.ts";
import { type Field, FIELDS, probeSpec, runProbe } from "./probe.ts";

/**
 * THE list of differences between runts and runc that other work is fixing. Remove an entry once its fix
 * is merged: the test fails on an entry that no longer differs, so the list cannot go stale. `run` means
 * runts does not run the bundle at all (then its other fields are not compared).
 */
const KNOWN_DIFFERENCES: ReadonlyArray<{ source: string; field: Field | "run"; why: string }> = [];

const runc = which("runc");
const skip = Deno.uid() !== 0 ? "needs root" : runc === null ? "runc is not installed" : null;
if (skip) console.log(`tests/bundles/corpus_test.ts: skipped: ${skip}`);

/** One difference found: the source, the field, and what each runtime showed. */
interface Difference {
  source: string;
  field: Field | "run";
  runts: string;
  runc: string;
}

async function compare(src: Source, rootfs: string): Promise<Difference[]> {
  const spec = probeSpec(src.spec, rootfs);
  const ours = await runProbe(RUNTS, spec);
  const ref = await runProbe(runc!, spec);
  assert.ok(ref.ran, `${src.name}: runc did not run the bundle: ${ref.stderr}`);
  if (!ours.ran) {
    return [{
      source: src.name,
      field: "run",
      runts: `exit ${ours.seen.exit}: ${ours.stderr.trim()}`,
      runc: "ran",
    }];
  }
  return FIELDS.filter((f) => ours.seen[f] !== ref.seen[f]).map((f) => ({
    source: src.name,
    field: f,
    runts: ours.seen[f],
    runc: ref.seen[f],
  }));
}

function show(d: Difference): string {
  const indent = (s: string) => s.split("\n").map((l) => `      ${l}`).join("\n");
  return `  ${d.source} / ${d.field}:\n    runts:\n${indent(d.runts)}\n    runc:\n${indent(d.runc)}`;
}

Deno.test({
  name:
    "bundles from runc, crun, runsc, runts, podman and containerd: runts shows the container what runc shows",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rootfs = new PrivateRootfs();
    const keep = Deno.makeTempDirSync({ prefix: "runts-corpus-keep-" });
    try {
      const captured: Captured[] = [
        toolSpec("runc"),
        toolSpec("crun"),
        toolSpec("runsc"),
        toolSpec("runts"),
        await podmanSpec(keep),
        await containerdSpec(),
      ];
      const found: Difference[] = [];
      for (const c of captured) {
        if ("skip" in c) {
          console.log(`  ${c.name}: skipped: ${c.skip}`);
          continue;
        }
        found.push(...await compare(c, rootfs.dir));
      }
      const compared = new Set(found.map((d) => d.source));
      const isKnown = (d: Difference) =>
        KNOWN_DIFFERENCES.some((k) => k.source === d.source && k.field === d.field);
      const unexpected = found.filter((d) => !isKnown(d));
      const failedRun = new Set(found.filter((d) => d.field === "run").map((d) => d.source));
      const stale = KNOWN_DIFFERENCES.filter((k) =>
        captured.some((c) => c.name === k.source && !("skip" in c)) &&
        (k.field === "run" || !failedRun.has(k.source)) &&
        !found.some((d) => d.source === k.source && d.field === k.field)
      );
      if (found.length) console.log(`differences (${compared.size} sources):\n${found.map(show).join("\n")}`);
      assert.deepEqual(
        unexpected.map(show),
        [],
        "differences between runts and runc not in KNOWN_DIFFERENCES",
      );
      assert.deepEqual(
        stale.map((k) => `${k.source} / ${k.field}`),
        [],
        "KNOWN_DIFFERENCES entries that no longer differ: remove them",
      );
    } finally {
      Deno.removeSync(keep, { recursive: true });
      rootfs.cleanup();
    }
  },
});
