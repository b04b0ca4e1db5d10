/**
 * End to end: config shapes engines produce (relative root.path, podman's deny-all device rule, cgroupsPath
 * forms, namespace paths), what leaks from the engine into the container (fds, _OCI_* variables), and a
 * dead boot. Needs root.
 */
import assert from "node:assert/strict";
import { linux, SIGNALS } from "../../ffi/mod.ts";
import { cachedRootfs } from "../util/rootfs.ts";
import { Fixture, ok, runts, state, waitFor } from "./helpers.ts";

Deno.test("config shapes: relative root.path, deny-all devices, cgroupsPath forms", async () => {
  const fx = new Fixture();
  try {
    const forms = ["/runts/c1", "system.slice:runts:c2", "runts-c3"];
    for (const [i, cgroupsPath] of forms.entries()) {
      const bundle = fx.bundle(["sh", "-c", "echo ok"], (s) => {
        s.root = { path: "rootfs", readonly: true };
        s.linux!.cgroupsPath = cgroupsPath;
        s.linux!.resources = { devices: [{ allow: false, access: "rwm" }] };
      });
      // A copy, not a symlink: a rootfs that is a symlink is refused, as runc refuses it.
      const cp = new Deno.Command("cp", { args: ["-a", cachedRootfs(), `${bundle}/rootfs`] }).outputSync();
      assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
      const r = await runts(fx.root, ["run", "--bundle", bundle, `shape${i}`]);
      assert.equal(r.code, 0, `${cgroupsPath}: ${r.stderr}`);
      assert.equal(r.stdout, "ok\n");
    }
  } finally {
    await fx.cleanup();
  }
});

Deno.test("namespace paths: a second container joins the first one's network and ipc namespaces", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sleep", "60"]), "ns1"]);
    const pid = (await state(fx.root, "ns1")).pid;
    const netns = Deno.readLinkSync(`/proc/${pid}/ns/net`);
    const bundle = fx.bundle(["readlink", "/proc/self/ns/net"], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
        n.type === "network" || n.type === "ipc"
          ? { type: n.type, path: `/proc/${pid}/ns/${n.type === "network" ? "net" : "ipc"}` }
          : n
      );
      if (!s.linux!.namespaces.some((n) => n.type === "network")) {
        s.linux!.namespaces.push({ type: "network", path: `/proc/${pid}/ns/net` });
      }
    });
    const r = await runts(fx.root, ["run", "--bundle", bundle, "ns2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), netns);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("namespace paths: a /run/netns bind-mounted namespace (ip netns add)", async () => {
  const fx = new Fixture();
  const name = `runts-test-${Deno.pid}`;
  const add = new Deno.Command("ip", { args: ["netns", "add", name], stderr: "piped" }).outputSync();
  if (!add.success) {
    console.log(`skipped: ip netns add failed: ${new TextDecoder().decode(add.stderr)}`);
    return;
  }
  try {
    const path = `/run/netns/${name}`;
    const want = `net:[${Deno.statSync(path).ino}]`;
    const bundle = fx.bundle(["readlink", "/proc/self/ns/net"], (s) => {
      s.linux!.namespaces = [...s.linux!.namespaces!.filter((n) => n.type !== "network"), {
        type: "network",
        path,
      }];
    });
    const r = await runts(fx.root, ["run", "--bundle", bundle, "netns1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), want);
  } finally {
    new Deno.Command("ip", { args: ["netns", "delete", name] }).outputSync();
    await fx.cleanup();
  }
});

Deno.test("stray fds and _OCI_ variables of the engine reach neither boot nor the container", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sleep", "60"]), "leak1"], {
      redirect: `7</etc/hostname 9</etc/hostname`,
      env: { _OCI_SYNCPIPE: "7", _OCI_STARTPIPE: "9" },
    });
    const pid = (await state(fx.root, "leak1")).pid;
    assert.deepEqual([...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => Number(e.name)).sort(), [0, 1, 2]);
    const rec = JSON.parse(Deno.readTextFileSync(`${fx.root}/leak1/state.json`));
    const bootEnv = Deno.readTextFileSync(`/proc/${rec.bootPid}/environ`).split("\0");
    assert.ok(!bootEnv.some((v) => v.startsWith("_OCI_")), "boot's environment has no _OCI_ variables");
    for (const e of Deno.readDirSync(`/proc/${rec.bootPid}/fd`)) {
      let target = "";
      try {
        target = Deno.readLinkSync(`/proc/${rec.bootPid}/fd/${e.name}`);
      } catch { /* closed meanwhile */ }
      assert.notEqual(target, "/etc/hostname", `boot fd ${e.name} leaked from the engine`);
    }
  } finally {
    await fx.cleanup();
  }
});

Deno.test("a dead boot means stopped; delete still cleans up", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "-d", "--bundle", fx.bundle(["sleep", "60"]), "dead1"]);
    const rec = JSON.parse(Deno.readTextFileSync(`${fx.root}/dead1/state.json`));
    assert.ok(rec.bootPid > 0);
    linux.kill(rec.bootPid, SIGNALS.KILL);
    await waitFor(
      async () => (await state(fx.root, "dead1")).status === "stopped",
      "stopped after boot died",
    );
    await ok(fx.root, ["delete", "--force", "dead1"]);
    assert.equal((await runts(fx.root, ["state", "dead1"])).code, 1);
  } finally {
    await fx.cleanup();
  }
});
