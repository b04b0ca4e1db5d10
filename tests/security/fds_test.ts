/**
 * fds and the working directory (the CVE-2024-21626 class): the app, and every exec'd process, holds only
 * stdio and the --preserve-fds, and a working directory of /proc/self/fd/N cannot put a process on a
 * directory outside the container (before the fix, one of init's fds was the host's rootfs directory, and
 * `ls ..` from there listed the host's /tmp).
 */
import assert from "node:assert/strict";
import { Fixture, pool, run } from "./helpers.ts";
import { ok, runts, state } from "../cli/helpers.ts";

/** "fd -> target" for every fd in a `ls -l /proc/N/fd` listing. */
function fdTable(listing: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of listing.matchAll(/\s(\d+) -> (.*)$/gm)) out.set(Number(m[1]), m[2]);
  return out;
}

Deno.test("fds: the app and exec'd processes hold stdio and --preserve-fds only", async () => {
  const fx = new Fixture();
  const extra = Deno.makeTempFileSync({ prefix: "runts-sec-preserved-" });
  try {
    const bundle = fx.bundle(["sleep", "60"]);
    await ok(fx.root, ["create", "--bundle", bundle, "--preserve-fds", "1", "fds"], {
      redirect: `3<${extra}`,
    });
    await ok(fx.root, ["start", "fds"]);
    const app = fdTable(await ok(fx.root, ["exec", "fds", "ls", "-l", "/proc/1/fd"]));
    assert.deepEqual([...app.keys()].sort((a, b) => a - b), [0, 1, 2, 3], [...app].join(", "));
    assert.equal(app.get(3), extra, "the preserved fd is the one we passed");
    assert.equal((await ok(fx.root, ["exec", "fds", "readlink", "/proc/1/cwd"])).trim(), "/");

    // The host's view agrees, and the cwd is the container's root.
    const pid = (await state(fx.root, "fds")).pid;
    assert.deepEqual([...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => Number(e.name)).sort(), [
      0,
      1,
      2,
      3,
    ]);
    assert.equal(Deno.realPathSync(`/proc/${pid}/cwd`), Deno.realPathSync(`/proc/${pid}/root`));

    // An exec'd shell: 0–2, and busybox ash's own copy of stdin at 10.
    const sh = fdTable(await ok(fx.root, ["exec", "fds", "sh", "-c", "ls -l /proc/$$/fd"]));
    assert.deepEqual([...sh.keys()].filter((fd) => fd !== 10).sort(), [0, 1, 2], [...sh].join(", "));
    if (sh.has(10)) assert.equal(sh.get(10), sh.get(0));
    await ok(fx.root, ["delete", "--force", "fds"]);
  } finally {
    Deno.removeSync(extra);
    await fx.cleanup();
  }
});

Deno.test("fds attack: a working directory of /proc/self/fd/N never leaves the container", async () => {
  const fx = new Fixture();
  try {
    const results = await pool([3, 4, 5, 6, 7, 8, 9, 10], 3, async (n) => {
      const r = await run(fx, ["sh", "-c", "pwd; ls .."], (s) => (s.process!.cwd = `/proc/self/fd/${n}`));
      return { n, ...r };
    });
    for (const r of results) {
      assert.notEqual(r.code, 0, `cwd /proc/self/fd/${r.n} started: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`process\\.cwd "/proc/self/fd/${r.n}"`), r.stderr);
      assert.equal(r.stdout, "");
    }

    // The same through exec, into a running container.
    const bundle = fx.bundle(["sleep", "60"]);
    await ok(fx.root, ["run", "--detach", "--bundle", bundle, "cw"]);
    for (const n of [3, 4, 5, 6, 7]) {
      const r = await runts(fx.root, ["exec", "--cwd", `/proc/self/fd/${n}`, "cw", "sh", "-c", "pwd; ls .."]);
      assert.notEqual(r.code, 0, `exec --cwd /proc/self/fd/${n}: ${r.stdout}`);
      assert.match(r.stderr, /process\.cwd/);
    }
    // A cwd that climbs with .. stays at the container's root.
    assert.equal((await ok(fx.root, ["exec", "--cwd", "/../../../..", "cw", "pwd"])).trim(), "/");
    await ok(fx.root, ["delete", "--force", "cw"]);
  } finally {
    await fx.cleanup();
  }
});
