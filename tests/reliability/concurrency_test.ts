/**
 * Concurrency: many commands at once on one container, and many containers at once. No command may hang,
 * fail with anything but a clear message, lose an exit status, or see a torn state file. Needs root.
 */
import assert from "node:assert/strict";
import { type Result, sleep, waitFor, World } from "./helpers.ts";

/** No command may take longer than this (a deadlock shows up as this timeout). */
const DEADLINE_MS = 60_000;

/** Resolves `p`, or fails naming `what` after DEADLINE_MS. */
async function inTime<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: still running after ${DEADLINE_MS} ms`)),
      DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads every state.json under `root` in a loop until stopped; counts documents that do not parse (a
 * torn write). Files vanishing meanwhile are fine.
 */
function watchStateFiles(root: string): { stop(): Promise<{ reads: number; torn: string[] }> } {
  let running = true;
  let reads = 0;
  const torn: string[] = [];
  const loop = (async () => {
    while (running) {
      let ids: string[] = [];
      try {
        ids = [...Deno.readDirSync(root)].map((e) => e.name);
      } catch {
        // no root yet
      }
      for (const id of ids) {
        let text: string;
        try {
          text = Deno.readTextFileSync(`${root}/${id}/state.json`);
        } catch {
          continue;
        }
        reads++;
        try {
          JSON.parse(text);
        } catch {
          torn.push(text.slice(0, 200));
        }
      }
      await sleep(2);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { reads, torn };
    },
  };
}

/** One line of stderr, no stack trace: a message a person can act on. */
function assertClearError(r: Result, allowed: RegExp, what: string): void {
  assert.notEqual(r.code, 0, what);
  assert.match(r.stderr, allowed, `${what}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: a stack trace: ${r.stderr}`);
}

Deno.test("20 commands at once on one container: state, kill, exec, delete; then a racing end", async () => {
  const w = new World();
  const watch = watchStateFiles(w.root);
  try {
    await w.ok(["run", "-d", "--bundle", w.bundle(["sleep", "1000"]), "one"]);

    // Round 1: the container survives it all; every exec gets its own exit status.
    const round1: Array<[string, Promise<Result>]> = [];
    for (let i = 0; i < 5; i++) round1.push(["state", w.run(["state", "one"])]);
    for (let i = 0; i < 5; i++) round1.push(["kill", w.run(["kill", "one", "WINCH"])]);
    for (let i = 0; i < 6; i++) {
      round1.push([`exec${i}`, w.run(["exec", "one", "sh", "-c", `exit ${10 + i}`])]);
    }
    for (let i = 0; i < 4; i++) round1.push(["delete", w.run(["delete", "one"])]);
    for (const [what, p] of round1) {
      const r = await inTime(p, what);
      if (what === "state") assert.equal(JSON.parse(r.stdout).status, "running");
      else if (what === "kill") assert.equal(r.code, 0, r.stderr);
      else if (what === "delete") assertClearError(r, /that is not stopped: running/, what);
      else assert.equal(r.code, 10 + Number(what.slice(4)), `${what}: ${r.stderr}`);
    }
    assert.equal((await w.state("one"))?.status, "running");

    // Round 2: waits are in flight first; then state, exec, kill and delete --force race the end.
    const waits = Array.from({ length: 4 }, () => w.run(["wait", "one"]));
    await sleep(300);
    const round2: Array<[string, Promise<Result>]> = [];
    for (let i = 0; i < 4; i++) round2.push(["state", w.run(["state", "one"])]);
    for (let i = 0; i < 4; i++) round2.push(["exec", w.run(["exec", "one", "sleep", "30"])]);
    for (let i = 0; i < 3; i++) round2.push(["kill", w.run(["kill", "one", "KILL"])]);
    for (let i = 0; i < 3; i++) round2.push(["delete", w.run(["delete", "--force", "one"])]);
    for (const p of waits) {
      const r = await inTime(p, "wait");
      assert.equal(r.code, 0, `wait: ${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout), { id: "one", exitStatus: 137 }, "no lost exit status");
    }
    const gone = /does not exist|container not running|cannot exec in a stopped container|not running/;
    for (const [what, p] of round2) {
      const r = await inTime(p, what);
      if (what === "delete") assert.equal(r.code, 0, `delete --force: ${r.stderr}`);
      else if (what === "state" && r.code === 0) {
        assert.ok(["running", "stopped"].includes(JSON.parse(r.stdout).status));
      } else if (what === "exec" && r.code === 137) continue; // started, then killed with the container
      else if (r.code !== 0) assertClearError(r, gone, what);
    }
    assert.equal(await w.state("one"), null);
    const { reads, torn } = await watch.stop();
    assert.deepEqual(torn, [], "no torn state file");
    assert.ok(reads > 0);
    await w.assertClean("20 commands");
  } finally {
    await watch.stop();
    await w.cleanup();
  }
});

Deno.test("the lock under load: of 10 concurrent starts exactly one wins; 10 concurrent deletes all succeed", async () => {
  const w = new World();
  try {
    await w.ok(["create", "--bundle", w.bundle(["sleep", "1000"]), "c"]);
    const starts = await inTime(
      Promise.all(Array.from({ length: 10 }, () => w.run(["start", "c"]))),
      "starts",
    );
    assert.equal(starts.filter((r) => r.code === 0).length, 1, JSON.stringify(starts.map((r) => r.stderr)));
    for (const r of starts.filter((r) => r.code !== 0)) assertClearError(r, /already running/, "start");
    assert.equal((await w.state("c"))?.status, "running");
    const deletes = await inTime(
      Promise.all(Array.from({ length: 10 }, () => w.run(["delete", "--force", "c"]))),
      "deletes",
    );
    for (const r of deletes) assert.equal(r.code, 0, r.stderr);
    await w.assertClean("10 starts, 10 deletes");
  } finally {
    await w.cleanup();
  }
});

Deno.test("50 containers at once: each run returns its own exit code; then create/start/kill/wait/delete in waves", async () => {
  const w = new World();
  const watch = watchStateFiles(w.root);
  const n = 50;
  try {
    const ids = Array.from({ length: n }, (_, i) => `c${i}`);
    const runs = await inTime(
      Promise.all(
        ids.map((id, i) => w.run(["run", "--bundle", w.bundle(["sh", "-c", `exit ${i + 1}`]), id])),
      ),
      "50 runs",
    );
    runs.forEach((r, i) => assert.equal(r.code, i + 1, `run ${ids[i]}: ${r.stderr}`));
    await w.assertClean("50 runs");

    const sleeper = w.bundle(["sleep", "1000"]);
    const wave = async (args: (id: string) => string[], what: string) => {
      const rs = await inTime(Promise.all(ids.map((id) => w.run(args(id)))), what);
      rs.forEach((r, i) => assert.equal(r.code, 0, `${what} ${ids[i]}: ${r.stderr}`));
      return rs;
    };
    await wave((id) => ["create", "--bundle", sleeper, id], "create");
    await wave((id) => ["start", id], "start");
    const waits = ids.map((id) => w.run(["wait", id]));
    await wave((id) => ["kill", id, "KILL"], "kill");
    const statuses = await inTime(Promise.all(waits), "wait");
    statuses.forEach((r, i) => {
      assert.equal(r.code, 0, `wait ${ids[i]}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).exitStatus, 137);
    });
    await waitFor(async () => {
      const docs = await Promise.all(ids.map((id) => w.state(id)));
      return docs.every((d) => d?.status === "stopped");
    }, "all stopped");
    await wave((id) => ["delete", id], "delete");
    const { torn } = await watch.stop();
    assert.deepEqual(torn, [], "no torn state file");
    await w.assertClean("50 containers");
  } finally {
    await watch.stop();
    await w.cleanup();
  }
});
