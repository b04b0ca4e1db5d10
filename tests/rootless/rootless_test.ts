/**
 * runts run by an unprivileged user (rootless), against runc run by the same user on the same bundle:
 * `runc spec --rootless` bundles, the state under $XDG_RUNTIME_DIR/runts, subordinate ids through
 * newuidmap, mappings the caller may not make, and cgroups where none (or a subtree) is delegated.
 * Each test makes a user of its own and removes it with everything it made.
 */
import assert from "node:assert/strict";
import { hostIds, ID_SCRIPT, rootlessSkip, RootlessUser, RUNC, RUNTS, squeeze } from "./helpers.ts";
import type { Spec } from "../../src/specutils/spec.ts";

const skip = rootlessSkip();
if (skip) console.log(`tests/rootless/rootless_test.ts: skipped: ${skip}`);

function uid(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

async function withUser(fn: (u: RootlessUser) => Promise<void>): Promise<void> {
  const u = new RootlessUser();
  try {
    await fn(u);
  } finally {
    await u.cleanup();
  }
}

/** The test's process for a bundle: `sh -c script`, no terminal. */
function runs(script: string): (s: Spec) => void {
  return (s) => {
    s.process!.terminal = false;
    s.process!.args = ["sh", "-c", script];
  };
}

const opts = { ignore: skip !== null, sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "rootless: a `runc spec --rootless` bundle prints uid 0 inside and the user's uid in /proc/self/uid_map, as with runc",
  opts,
  async () => {
    await withUser(async (u) => {
      for (const generator of ["runc", "runts"] as const) {
        const bundle = await u.runcSpecBundle(runs(ID_SCRIPT), generator);
        const spec = JSON.parse(Deno.readTextFileSync(`${bundle}/config.json`)) as Spec;
        assert.deepEqual(spec.linux?.uidMappings, [{ containerID: 0, hostID: u.uid, size: 1 }], generator);
        assert.deepEqual(spec.linux?.gidMappings, [{ containerID: 0, hostID: u.gid, size: 1 }], generator);
        const want = ["0", "0", `0 ${u.uid} 1`, `0 ${u.gid} 1`];
        for (const rt of [RUNTS, RUNC]) {
          // No --root: the default is $XDG_RUNTIME_DIR/runts (runc: .../runc) for a user.
          const r = await u.run([rt, "run", uid("rl")], { cwd: bundle });
          assert.equal(r.code, 0, `${generator} spec, ${rt}: ${r.stderr}`);
          assert.deepEqual(squeeze(r.stdout), want, `${generator} spec, ${rt}`);
        }
        assert.deepEqual(u.stateEntries(), [], "run leaves no state behind");
      }
    });
  },
);

Deno.test(
  "rootless: create, start, exec, state and delete by the user, with its state under $XDG_RUNTIME_DIR/runts",
  opts,
  async () => {
    await withUser(async (u) => {
      const bundle = await u.runcSpecBundle(runs("sleep 60"));
      const id = uid("rl");
      await u.ok([RUNTS, "create", "--bundle", bundle, id]);
      assert.deepEqual(u.stateEntries(), [id]);
      const st = JSON.parse(await u.ok([RUNTS, "state", id]));
      assert.equal(st.status, "created");
      await u.ok([RUNTS, "start", id]);
      // The host sees the app as the user; inside it is root.
      assert.deepEqual(hostIds(st.pid).uid, [u.uid, u.uid, u.uid, u.uid]);
      const ex = await u.run([RUNTS, "exec", id, "sh", "-c", `${ID_SCRIPT}; readlink /proc/self/ns/user`]);
      assert.equal(ex.code, 0, ex.stderr);
      const lines = squeeze(ex.stdout);
      assert.deepEqual(lines.slice(0, 4), ["0", "0", `0 ${u.uid} 1`, `0 ${u.gid} 1`]);
      assert.equal(
        lines[4],
        Deno.readLinkSync(`/proc/${st.pid}/ns/user`),
        "exec joins the container's user ns",
      );
      const code = await u.run([RUNTS, "exec", id, "sh", "-c", "exit 5"]);
      assert.equal(code.code, 5, code.stderr);
      await u.ok([RUNTS, "exec", "--detach", id, "sleep", "30"]);
      const ps = await u.ok([RUNTS, "ps", id]);
      assert.match(ps, /sleep 30/);
      await u.ok([RUNTS, "kill", id, "KILL"]);
      await u.ok([RUNTS, "delete", "--force", id]);
      assert.deepEqual(u.stateEntries(), []);
      assert.deepEqual(u.processes(), [], "nothing of the container is left");
    });
  },
);

Deno.test(
  "rootless: subordinate ids through newuidmap/newgidmap when the spec maps more than the caller's id, as runc",
  opts,
  async () => {
    await withUser(async (u) => {
      const sub = u.user.subStart;
      // A file the image gives container uid/gid 1000 is the subordinate id 999 on the host.
      Deno.writeTextFileSync(`${u.rootfs}/owned`, "x");
      Deno.chownSync(`${u.rootfs}/owned`, sub + 999, sub + 999);
      const map = (own: number) => [
        { containerID: 0, hostID: own, size: 1 },
        { containerID: 1, hostID: sub, size: 65536 },
      ];
      const bundle = await u.runcSpecBundle((s) => {
        runs(`${ID_SCRIPT}; stat -c '%u:%g' /owned`)(s);
        s.linux!.uidMappings = map(u.uid);
        s.linux!.gidMappings = map(u.gid);
      });
      const want = [
        "0",
        "0",
        `0 ${u.uid} 1`,
        `1 ${sub} 65536`,
        `0 ${u.gid} 1`,
        `1 ${sub} 65536`,
        "1000:1000",
      ];
      for (const rt of [RUNTS, RUNC]) {
        const r = await u.run([rt, "run", uid("rl")], { cwd: bundle });
        assert.equal(r.code, 0, `${rt}: ${r.stderr}`);
        assert.deepEqual(squeeze(r.stdout), want, rt);
      }
    });
  },
);

Deno.test(
  "rootless: a mapping of host ids the caller does not own gets a clear error and leaves nothing behind",
  opts,
  async () => {
    await withUser(async (u) => {
      const sub = u.user.subStart, size = u.user.subSize;
      const cases: Array<{ name: string; mutate: (s: Spec) => void; error: RegExp }> = [
        {
          name: "host root",
          mutate: (s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }]),
          error: /linux\.uidMappings\[0\]: host uid 0 is not the caller's.*its own uid \(\d+\)/,
        },
        {
          name: "past the subordinate range",
          mutate: (s) => s.linux!.gidMappings!.push({ containerID: 1, hostID: sub, size: size + 1 }),
          error: new RegExp(
            `linux\\.gidMappings\\[1\\]: host gids ${sub}-${sub + size} are not the caller's`,
          ),
        },
        {
          name: "another user's uid",
          mutate: (s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: u.uid + 1, size: 1 }]),
          error: /linux\.uidMappings\[0\]: host uid \d+ is not the caller's/,
        },
        {
          name: "no user namespace",
          mutate: (s) => {
            s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "user");
            delete s.linux!.uidMappings;
            delete s.linux!.gidMappings;
          },
          error: /a rootless runtime needs a user namespace/,
        },
      ];
      for (const c of cases) {
        const bundle = await u.runcSpecBundle((s) => (runs("echo ran")(s), c.mutate(s)));
        for (const cmd of ["run", "create"]) {
          const r = await u.run([RUNTS, cmd, "--bundle", bundle, uid("bad")]);
          assert.notEqual(r.code, 0, `${c.name}, ${cmd}`);
          assert.doesNotMatch(r.stdout, /ran/, `${c.name}, ${cmd}`);
          assert.match(r.stderr, c.error, `${c.name}, ${cmd}`);
          assert.deepEqual(u.stateEntries(), [], `${c.name}, ${cmd}: no state left`);
          assert.deepEqual(u.processes().map(cmdline), [], `${c.name}, ${cmd}: no process left`);
        }
        // runc refuses them too.
        const rc = await u.run([RUNC, "run", "--bundle", bundle, uid("bad")]);
        assert.notEqual(rc.code, 0, `runc, ${c.name}`);
        assert.doesNotMatch(rc.stdout, /ran/, `runc, ${c.name}`);
      }
    });
  },
);

Deno.test(
  "rootless: without a delegated cgroup the container runs, and the limits it asked for are skipped with a warning on stderr",
  opts,
  async () => {
    await withUser(async (u) => {
      const plain = await u.runcSpecBundle(runs("echo ran"));
      const r = await u.run([RUNTS, "run", "--bundle", plain, uid("cg")]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "ran\n");
      assert.equal(r.stderr, "", "no limits asked for: nothing to warn about");
      const limited = await u.runcSpecBundle((s) => {
        runs("echo ran")(s);
        s.linux!.resources = { pids: { limit: 64 }, memory: { limit: 256 * 1024 * 1024 } };
      });
      const l = await u.run([RUNTS, "run", "--bundle", limited, uid("cg")]);
      assert.equal(l.code, 0, l.stderr);
      assert.equal(l.stdout, "ran\n");
      assert.match(l.stderr, /level=warning msg="rootless: container \S+ has no cgroup in [^"]*pids/);
      assert.match(l.stderr, /limits there are not enforced/);
      // With --log the warning goes there instead, as engines expect.
      const log = `${u.user.home}/runts.log`;
      const g = await u.run([RUNTS, "--log", log, "run", "--bundle", limited, uid("cg")]);
      assert.equal(g.code, 0, g.stderr);
      assert.equal(g.stderr, "");
      assert.match(Deno.readTextFileSync(log), /rootless: container \S+ has no cgroup in/);
    });
  },
);

/** The cgroup2 mount point, when there is one. */
function unifiedMount(): string | null {
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const [left, right] = line.split(" - ");
    if (right?.startsWith("cgroup2 ")) return left.split(" ")[4];
  }
  return null;
}

Deno.test(
  "rootless: a cgroup v2 subtree delegated to the user holds the container's cgroup, removed again on delete",
  {
    ...opts,
    ignore: opts.ignore || unifiedMount() === null,
  },
  async () => {
    const mount = unifiedMount()!;
    // What systemd's Delegate=yes gives a user: a subtree it owns, with the caller in a leaf of it.
    const top = `/runts-rl-${crypto.randomUUID().slice(0, 8)}`;
    const dir = `${mount}${top}`;
    const u = new RootlessUser();
    try {
      Deno.mkdirSync(`${dir}/caller`, { recursive: true });
      for (const d of [dir, `${dir}/caller`]) {
        for (const f of ["", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"]) {
          Deno.chownSync(`${d}${f}`, u.uid, u.gid);
        }
      }
      const bundle = await u.runcSpecBundle((s) => {
        runs("sleep 60")(s);
        // pids.max is set where the subtree offers the pids controller (pure v2); else only the placement.
        s.linux!.resources = { pids: { limit: 77 } };
      });
      const id = uid("cg");
      const before = `echo $$ > ${dir}/caller/cgroup.procs`;
      const r = await u.run([RUNTS, "run", "-d", "--bundle", bundle, id], { before });
      assert.equal(r.code, 0, r.stderr);
      const pid = JSON.parse(await u.ok([RUNTS, "state", id])).pid as number;
      const own = /^0::(.*)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/cgroup`))![1];
      assert.equal(own, `${top}/${id}`, "the container's cgroup is in the user's subtree");
      const offered = Deno.readTextFileSync(`${dir}/cgroup.controllers`).split(/\s+/);
      if (offered.includes("pids")) assert.equal(Deno.readTextFileSync(`${dir}/${id}/pids.max`).trim(), "77");
      await u.ok([RUNTS, "delete", "--force", id]);
      assert.ok(!exists(`${dir}/${id}`), "delete removes the container's cgroup");
      assert.deepEqual(u.processes(), []);
    } finally {
      await u.cleanup();
      // Deepest first; the container's own directory is there only when the test failed before delete.
      for (const d of exists(dir) ? [...Deno.readDirSync(dir)].filter((e) => e.isDirectory) : []) {
        Deno.removeSync(`${dir}/${d.name}`);
      }
      if (exists(dir)) Deno.removeSync(dir);
    }
  },
);

function cmdline(pid: number): string {
  try {
    return `${pid}: ${Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").trim()}`;
  } catch {
    return `${pid}: (gone)`;
  }
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test(
  "rootless: `runts features` and `runts spec --rootless` tell an unprivileged user the truth",
  opts,
  async () => {
    await withUser(async (u) => {
      const f = JSON.parse(await u.ok([RUNTS, "features"]));
      assert.deepEqual(
        f.linux.mountExtensions,
        { idmap: { enabled: false } },
        "no idmapped mounts without root",
      );
      assert.ok(!f.mountOptions.includes("idmap") && !f.mountOptions.includes("ridmap"));
      assert.ok(f.linux.namespaces.includes("user"));
      const dir = `${u.user.home}/spec`;
      await u.ok(["mkdir", dir]);
      await u.ok([RUNTS, "spec", "--rootless"], { cwd: dir });
      const spec = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`)) as Spec;
      const types = spec.linux!.namespaces!.map((n) => n.type);
      assert.ok(types.includes("user") && !types.includes("network"), types.join());
      assert.deepEqual(spec.linux!.uidMappings, [{ containerID: 0, hostID: u.uid, size: 1 }]);
      assert.deepEqual(spec.linux!.gidMappings, [{ containerID: 0, hostID: u.gid, size: 1 }]);
      assert.equal(spec.linux!.resources, undefined, "no limits a rootless runtime could not enforce");
    });
  },
);
