/**
 * The rootless pieces that need no user of their own: which ids a caller owns (/etc/subuid), the state
 * root's default, the user namespace test, and rootless cgroups on a model cgroupfs.
 */
import assert from "node:assert/strict";
import { checkOwnedMap, parseSubids } from "../../src/boot/rootless.ts";
import { defaultRoot, SYSTEM_ROOT } from "../../src/config/config.ts";
import { inInitialUserNamespace } from "../../src/util/privilege.ts";
import { asksForLimits, setUpCgroups } from "../../src/cgroups/container.ts";
import type { Layout } from "../../src/cgroups/layout.ts";
import type { Spec } from "../../src/specutils/spec.ts";
import { fakeKernel } from "../../ffi/fake.ts";
import { Errno } from "../../ffi/mod.ts";
import { FakeCgroupFs, HYBRID } from "../cgroups/fake_cgroupfs.ts";
import { takeSourcesByPath } from "../../src/init/rootless.ts";
import type { CreateInitConfig } from "../../src/protocol/init_config.ts";

Deno.test("rootless ids: /etc/subuid ranges by name or uid, and what a caller may map", () => {
  const text = "alice:100000:65536\n1000:300000:10\nbob:200000:65536\nbad:x:1\nalice:500000\n";
  assert.deepEqual(parseSubids(text, "alice", 1000), [
    { start: 100000, size: 65536 },
    { start: 300000, size: 10 },
  ]);
  assert.deepEqual(parseSubids(text, "carol", 1001), []);
  const subs = parseSubids(text, "alice", 1000);
  const m = (containerID: number, hostID: number, size: number) => ({ containerID, hostID, size });
  // Its own id alone needs no helper; subordinate ids do.
  assert.equal(checkOwnedMap([m(0, 1000, 1)], 1000, subs, "linux.uidMappings", "uid"), true);
  assert.equal(checkOwnedMap([m(0, 1000, 1), m(1, 100000, 65536)], 1000, subs, "f", "uid"), false);
  assert.equal(checkOwnedMap([m(0, 300000, 10)], 1000, subs, "f", "uid"), false);
  assert.throws(
    () => checkOwnedMap([m(0, 1000, 1), m(1, 0, 1)], 1000, subs, "linux.uidMappings", "uid"),
    /^Error: linux\.uidMappings\[1\]: host uid 0 is not the caller's: an unprivileged user may map its own uid \(1000\) and its subordinate uids from \/etc\/subuid \(100000-165535, 300000-300009\)$/,
  );
  // A range may not run past the end of a subordinate range, nor join two of them.
  assert.throws(
    () => checkOwnedMap([m(0, 100000, 65537)], 1000, subs, "f", "uid"),
    /host uids 100000-165536 are/,
  );
  assert.throws(
    () => checkOwnedMap([m(0, 999, 2)], 1000, subs, "f", "gid"),
    /^Error: f\[0\]: host gids 999-1000 are not/,
  );
  assert.throws(
    () => checkOwnedMap([m(0, 5, 1)], 7, [], "linux.gidMappings", "gid"),
    /subordinate gids .*\(none\)/,
  );
});

Deno.test("rootless: the state root is $XDG_RUNTIME_DIR/runts only for a caller that is not root of the host", () => {
  // These tests run as root of the host: runc's rule keeps /run/runts then, whatever XDG_RUNTIME_DIR says.
  if (Deno.uid() === 0 && inInitialUserNamespace()) {
    assert.equal(defaultRoot({ XDG_RUNTIME_DIR: "/run/user/1000" }), SYSTEM_ROOT);
  } else {
    assert.equal(defaultRoot({ XDG_RUNTIME_DIR: "/run/user/1000/" }), "/run/user/1000/runts");
  }
  assert.equal(defaultRoot({}), SYSTEM_ROOT);
  assert.equal(inInitialUserNamespace("         0          0 4294967295\n"), true);
  assert.equal(inInitialUserNamespace("         0       1000          1\n"), false);
  assert.equal(inInitialUserNamespace("         0          0      65536\n"), false);
});

function hybridLayout(unifiedOwn: string): Layout {
  return {
    mode: "hybrid",
    hierarchies: HYBRID.map((h) => ({
      key: h.version === 2 ? "unified" : h.controllers.join(","),
      version: h.version,
      controllers: h.controllers,
      mountpoint: h.mountpoint,
      mountRoot: "/",
      own: h.version === 2 ? unifiedOwn : "/",
    })),
  };
}

Deno.test("rootless cgroups: hierarchies the caller may not write are left out with one warning; a delegated one is used", () => {
  const fs = new FakeCgroupFs(HYBRID);
  // The user owns /sys/fs/cgroup/unified/user (it runs in user/caller); every v1 root is the host's.
  fs.mkdir("/sys/fs/cgroup/unified/user");
  fs.mkdir("/sys/fs/cgroup/unified/user/caller");
  for (const h of HYBRID) if (h.version === 1) fs.failMkdirIn.set(h.mountpoint, Errno.EACCES);
  const k = fakeKernel({ getuid: 1000 }).kernel;
  const spec = { ociVersion: "1.2.0", linux: { resources: { pids: { limit: 10 } } } } as Spec;
  const warnings: string[] = [];
  const rec = setUpCgroups(k, spec, "c1", {
    systemd: false,
    rootless: true,
    warn: (w) => warnings.push(w),
    layout: hybridLayout("/user/caller"),
    fs,
  });
  assert.deepEqual(rec?.dirs, { unified: "/sys/fs/cgroup/unified/user/c1" }, "next to the caller, as on v2");
  assert.deepEqual(rec?.created, ["/sys/fs/cgroup/unified/user/c1"]);
  assert.match(
    warnings[0],
    /^rootless: container c1 has no cgroup in name=systemd, pids, blkio, .*cpu \(mkdirat \/sys\/fs\/cgroup\/systemd\/c1: EACCES\): limits there are not enforced/,
  );
  assert.equal(warnings[1], "pids.limit is not enforced: no pids controller in this cgroup layout");
  assert.equal(warnings.length, 2);
  assert.ok(!fs.writes.some((w) => w.path.includes("devices")), "no device rules rootless");

  // Nothing delegated at all: no cgroups, not an error.
  const none = new FakeCgroupFs(HYBRID);
  for (const h of HYBRID) none.failMkdirIn.set(h.mountpoint, Errno.EACCES);
  const nothing = setUpCgroups(k, spec, "c2", {
    systemd: false,
    rootless: true,
    warn: () => {},
    layout: hybridLayout("/"),
    fs: none,
  });
  assert.equal(nothing, null);

  // Root of the host is not rootless: the same refusal is an error.
  assert.throws(
    () =>
      setUpCgroups(fakeKernel({ getuid: 0 }).kernel, spec, "c3", {
        systemd: false,
        rootless: false,
        warn: () => {},
        layout: hybridLayout("/"),
        fs: none,
      }),
    /setting up cgroups: mkdirat \/sys\/fs\/cgroup\/systemd\/c3: EACCES/,
  );
});

Deno.test("rootless cgroups: only limits the spec asks for are worth a warning to the caller", () => {
  assert.equal(asksForLimits(undefined), false);
  assert.equal(asksForLimits({}), false);
  assert.equal(asksForLimits({ devices: [{ allow: false, access: "rwm" }] }), false);
  assert.equal(asksForLimits({ memory: {} }), false);
  assert.equal(asksForLimits({ pids: { limit: 5 } }), true);
});

function byPathConfig(): CreateInitConfig {
  const spec = {
    ociVersion: "1.2.0",
    root: { path: "/b/rootfs" },
    process: { args: ["true"], cwd: "/" },
    linux: { namespaces: [{ type: "user" }, { type: "mount" }] },
  } as Spec;
  return {
    mode: "create",
    id: "c",
    spec,
    process: spec.process!,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/data", type: "bind", source: "/srv/data", options: ["rbind"] },
    ],
    network: "sandbox",
    noPivot: false,
    rootFd: 10,
    bindFds: { "1": 11 },
    sourcesByPath: true,
  } as unknown as CreateInitConfig;
}

/** A fake kernel where path P opens as fd 100+i and every fd is a file named by a table. */
function sourcesKernel(ids: Record<number, string>) {
  let next = 100;
  const opened: Record<string, number> = {};
  const fk = fakeKernel({
    open: (path: unknown) => (opened[path as string] = next++),
    cloneMount: (fd: unknown) => Number(fd) + 100,
    fileId: (fd: unknown) => ids[Number(fd)] ?? "?",
    close: () => {},
  });
  return { fk, opened };
}

Deno.test("rootless sources: init copies the root and bind sources by path, and refuses one that is not the file the wrapper opened", () => {
  // The copies (fd 200, 201) are the files the wrapper opened (fds 10, 11).
  const same = sourcesKernel({ 10: "1:2", 11: "1:3", 200: "1:2", 201: "1:3" });
  const sources = takeSourcesByPath(same.fk.kernel, byPathConfig());
  assert.deepEqual(sources, { root: 200, binds: { "1": 201 }, rootDir: null });
  assert.deepEqual(Object.keys(same.opened), ["/b/rootfs", "/srv/data"]);
  const closed = same.fk.calls.filter((c) => c.name === "close").map((c) => c.args[0]);
  for (const fd of [10, 11, 100, 101]) assert.ok(closed.includes(fd), `fd ${fd} closed`);

  // /srv/data was swapped for another directory after the wrapper opened it.
  const swapped = sourcesKernel({ 10: "1:2", 11: "1:3", 200: "1:2", 201: "1:9" });
  assert.throws(
    () => takeSourcesByPath(swapped.fk.kernel, byPathConfig()),
    /^Error: mount \/data: source \/srv\/data: it is no longer the file the runtime opened$/,
  );
  const gone = swapped.fk.calls.filter((c) => c.name === "close").map((c) => c.args[0]);
  for (const fd of [10, 11, 200, 201]) assert.ok(gone.includes(fd), `fd ${fd} closed after the refusal`);

  // Without a mount namespace of its own init has nowhere to copy them to.
  const shared = byPathConfig();
  shared.spec.linux!.namespaces = [{ type: "user" }];
  assert.throws(
    () => takeSourcesByPath(sourcesKernel({}).fk.kernel, shared),
    /a rootless container needs a mount namespace of its own/,
  );
});
