/**
 * Bad input: every case of the generated corpus (make_corpus.ts: malformed JSON, fields of the wrong type,
 * hostile settings, broken mount lists) goes through `runts boot`, the seed command, which must exit 128, and
 * through `runts create`, which exits with the CLI's failure code; both must print the expected error. When
 * all have run, nothing may be left: no process, no mount, no state directory, no cgroup.
 */
import assert from "node:assert/strict";
import { makeCorpus } from "./make_corpus.ts";
import { pool } from "./helpers.ts";
import { runts } from "../cli/helpers.ts";
import { BootRun, pidsWithArg, pidsWithEnv } from "../boot/harness.ts";
import { cachedRootfs } from "../util/rootfs.ts";

/** boot's (runsc's) failure exit code. */
const BOOT_FAILURE = 128;
/** create's failure exit code: runc's 1, which engines expect (src/cmd/oci.ts). */
const CREATE_FAILURE = 1;

function mountLines(): Set<string> {
  return new Set(Deno.readTextFileSync("/proc/self/mountinfo").trim().split("\n"));
}

function cgroupDirsNamed(fragment: string, dir = "/sys/fs/cgroup", depth = 6): string[] {
  if (depth === 0) return [];
  const found: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return found;
  }
  for (const e of entries) {
    if (!e.isDirectory) continue;
    const path = `${dir}/${e.name}`;
    if (e.name.includes(fragment)) found.push(path);
    found.push(...cgroupDirsNamed(fragment, path, depth - 1));
  }
  return found;
}

async function settle(pred: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

Deno.test("corpus: every malformed or hostile config and mount list fails clearly and leaves nothing behind", async () => {
  const rootfs = Deno.realPathSync(cachedRootfs());
  const cases = makeCorpus(rootfs);
  assert.ok(cases.length >= 100, `${cases.length} cases`);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, "case names are unique");
  const tag = `corpus${crypto.randomUUID().slice(0, 8)}`;
  const marker = `RUNTS_CORPUS=${tag}`;
  const stateRoot = Deno.makeTempDirSync({ prefix: "runts-corpus-root-" });
  const bundles = Deno.makeTempDirSync({ prefix: "runts-corpus-bundles-" });
  const mountsBefore = mountLines();
  const failures: string[] = [];
  try {
    await pool(cases.map((c, i) => ({ c, i })), 4, async ({ c, i }) => {
      const id = `${tag}-${i}`;
      const expect = new RegExp(c.expect, "i");
      // The seed command, as any wrapper drives it (no io-fds: boot opens the root and sources itself).
      const b = BootRun.spawn({ specText: c.config, mountsText: c.mounts, ids: [id], ioRoot: false });
      try {
        const sync = await b.waitSync();
        const exit = await b.exit();
        if (sync !== "eof" || exit.code !== BOOT_FAILURE || !expect.test(exit.stderr)) {
          failures.push(
            `boot ${c.name}: sync ${sync}, exit ${exit.code}, stderr ${JSON.stringify(exit.stderr)}`,
          );
        }
      } finally {
        await b.cleanup();
      }
      // The CLI, with the mount list (when it is JSON at all) in the spec.
      let config = c.config;
      if (c.mounts !== undefined) {
        let list: unknown;
        try {
          list = JSON.parse(c.mounts);
        } catch {
          return; // only boot takes a mount list apart from the spec
        }
        config = JSON.stringify({ ...JSON.parse(c.config), mounts: list });
      }
      const dir = `${bundles}/${i}`;
      Deno.mkdirSync(dir);
      Deno.writeTextFileSync(`${dir}/config.json`, config);
      const r = await runts(stateRoot, ["create", "--bundle", dir, id], { env: { RUNTS_CORPUS: tag } });
      if (r.code !== CREATE_FAILURE || !expect.test(r.stderr) || r.stdout !== "") {
        failures.push(`create ${c.name}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
      }
    });
    assert.deepEqual(failures, []);

    // Nothing left behind.
    assert.deepEqual([...Deno.readDirSync(stateRoot)], [], "state directories");
    assert.ok(
      await settle(() => pidsWithArg(tag).length === 0 && pidsWithEnv(marker).length === 0),
      `processes: ${[...pidsWithArg(tag), ...pidsWithEnv(marker)].join(" ")}`,
    );
    const added = [...mountLines()].filter((l) => !mountsBefore.has(l));
    assert.deepEqual(added.filter((l) => l.includes(rootfs) || l.includes(bundles) || l.includes(tag)), []);
    assert.deepEqual(cgroupDirsNamed(tag), [], "cgroups");
  } finally {
    Deno.removeSync(stateRoot, { recursive: true });
    Deno.removeSync(bundles, { recursive: true });
  }
});
