import { deepEqual, equal, throws } from "node:assert/strict";
import { CLONE, linux, MS, O, PR } from "../ffi/mod.ts";
import { fakeKernel } from "../ffi/fake.ts";
import { parseMountOptions } from "../src/init/mount_options.ts";
import { enterNamespaces, mountNamespaceKind, planNamespaces } from "../src/init/namespaces.ts";
import { ensureInRoot, openInRoot } from "../src/init/paths.ts";
import { attachInPlace, enterRoot } from "../src/init/rootfs.ts";
import { makedev } from "../src/init/devices.ts";
import type { CreateInitConfig, ExecInitConfig, InitConfig } from "../src/protocol/init_config.ts";
import { waitStatus } from "../src/boot/loader.ts";
import { exitCodeFromWaitStatus as exitCodeOf } from "../src/cmd/cmd.ts";
import { applyCaps, prepareArgs } from "../src/boot/capability.ts";
import { applyCredentials } from "../src/credentials/credentials.ts";
import { capMask, capNumber, lastCap } from "../src/specutils/capabilities.ts";
import { FlagSet } from "../src/flag/flag.ts";
import { defaultSpec } from "../src/specutils/default_spec.ts";

function cfg(over: Partial<CreateInitConfig> | Partial<ExecInitConfig> = {}): InitConfig {
  const spec = defaultSpec();
  const common = { id: "c", spec, process: spec.process!, readyFd: 4, startFd: 5, cpuNum: 0, preserveFds: 0 };
  if (over.mode === "exec") return { ...common, cgroupFds: [], join: [], ...over, mode: "exec" };
  return {
    ...common,
    mode: "create",
    mounts: [],
    rootFd: null,
    bindFds: {},
    network: "sandbox",
    noPivot: false,
    cgroupFds: [],
    ...over as Partial<CreateInitConfig>,
  };
}

Deno.test("mount options: flags, clears, propagation and data", () => {
  const p = parseMountOptions("tmpfs", ["nosuid", "noexec", "mode=755", "size=64k", "rprivate", "rw"]);
  equal(p.flags, MS.NOSUID | MS.NOEXEC);
  deepEqual(p.propagation, [MS.PRIVATE | MS.REC]);
  equal(p.data, "mode=755,size=64k");
  equal(p.bind, false);
  const b = parseMountOptions("none", ["rbind", "ro"]);
  equal(b.bind, true);
  equal(b.flags, MS.BIND | MS.REC | MS.RDONLY);
  equal(parseMountOptions("bind", []).flags, MS.BIND, "type bind without rbind is not recursive (runc)");
});

Deno.test("namespaces: pid is boot's, mount joins last, --network none forces a new netns", () => {
  const spec = defaultSpec();
  spec.linux!.namespaces = [
    { type: "mount", path: "/proc/1/ns/mnt" },
    { type: "pid" },
    { type: "network", path: "/run/netns/x" },
    { type: "uts" },
    { type: "ipc" },
  ];
  const plan = planNamespaces(cfg({ spec }));
  deepEqual(plan.join.map((j) => j.path), ["/run/netns/x", "/proc/1/ns/mnt"]);
  equal(plan.unshare, CLONE.NEWUTS | CLONE.NEWIPC, "a joined mount namespace is joined, not copied");
  const none = planNamespaces(cfg({ spec, network: "none" }));
  deepEqual(none.join.map((j) => j.path), ["/proc/1/ns/mnt"]);
  equal(none.unshare & CLONE.NEWNET, CLONE.NEWNET);
});

Deno.test("namespaces: a new user namespace is the clone's, a joined one comes first; time is always new", () => {
  const spec = defaultSpec();
  spec.linux!.namespaces = [{ type: "user" }, { type: "uts" }, { type: "time" }];
  const fresh = planNamespaces(cfg({ spec }));
  equal(fresh.user, true);
  equal(
    fresh.unshare,
    CLONE.NEWUTS | CLONE.NEWTIME,
    "no CLONE_NEWUSER: the clone made it (no mount entry: no NEWNS)",
  );
  deepEqual(fresh.join, []);
  spec.linux!.namespaces = [
    { type: "network", path: "/n" },
    { type: "mount", path: "/m" },
    { type: "user", path: "/u" },
  ];
  const joined = planNamespaces(cfg({ spec }));
  equal(joined.user, true);
  deepEqual(joined.join.map((j) => [j.path, j.flag]), [
    ["/u", CLONE.NEWUSER],
    ["/n", CLONE.NEWNET],
    ["/m", CLONE.NEWNS],
  ]);
  const exec = planNamespaces(cfg({ mode: "exec", join: [], timeOffsets: { boottime: { secs: 1 } } }));
  equal(exec.unshare, CLONE.NEWTIME, "an exec gets a time namespace of its own with the container's offsets");
  spec.linux!.namespaces = [{ type: "uts" }];
  equal(planNamespaces(cfg({ spec })).user, false);
});

Deno.test("namespaces: the spec's mount entry decides: own, joined, or the runtime's (none)", () => {
  const spec = defaultSpec();
  spec.linux!.namespaces = [{ type: "pid" }, { type: "uts" }];
  equal(mountNamespaceKind(spec), "shared");
  equal(planNamespaces(cfg({ spec })).unshare & CLONE.NEWNS, 0, "no entry: the runtime's mount namespace");
  deepEqual(planNamespaces(cfg({ spec })).join, []);
  spec.linux!.namespaces.push({ type: "mount" });
  equal(mountNamespaceKind(spec), "own");
  equal(planNamespaces(cfg({ spec })).unshare & CLONE.NEWNS, CLONE.NEWNS);
  spec.linux!.namespaces[2] = { type: "mount", path: "/proc/7/ns/mnt" };
  equal(mountNamespaceKind(spec), "joined");
  equal(planNamespaces(cfg({ spec })).unshare & CLONE.NEWNS, 0);
  deepEqual(planNamespaces(cfg({ spec })).join.map((j) => j.path), ["/proc/7/ns/mnt"]);
  equal(
    planNamespaces(cfg({ spec, mode: "exec", join: [] })).unshare & CLONE.NEWNS,
    0,
    "exec joins, never unshares",
  );
});

Deno.test("namespaces: an exec into a chroot'ed container opens its root first and chroots after the setns", () => {
  const fake = fakeKernel({ open: 42 });
  const join = [{ type: "mount", path: "/proc/9/ns/mnt" }];
  const plan = planNamespaces(cfg({ mode: "exec", join, joinRoot: "/proc/9/root" }));
  enterNamespaces(fake.kernel, plan);
  deepEqual(fake.names(), [
    "unshare",
    "open",
    "open",
    "setns",
    "close",
    "fchdir",
    "chroot",
    "chdir",
    "close",
  ]);
  deepEqual(fake.calls[1].args[0], "/proc/9/root");
  deepEqual(fake.calls[6].args, ["."]);
});

Deno.test("namespaces: entering opens every path before the first setns, with CLONE_FS first", () => {
  const fake = fakeKernel({ open: 42 });
  const spec = defaultSpec();
  spec.linux!.namespaces = [{ type: "mount", path: "/m" }, { type: "network", path: "/n" }, { type: "uts" }];
  enterNamespaces(fake.kernel, planNamespaces(cfg({ spec })));
  deepEqual(fake.names(), ["unshare", "open", "open", "setns", "setns", "close", "close", "unshare"]);
  deepEqual(fake.calls[0].args, [CLONE.FS]);
  deepEqual(fake.calls[3].args, [42, CLONE.NEWNET]);
  deepEqual(fake.calls[4].args, [42, CLONE.NEWNS]);
  deepEqual(fake.calls[7].args, [CLONE.NEWUTS]);
});

Deno.test("paths: a planted symlink and .. resolve inside the root, and missing parents are created", () => {
  const root = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${root}/etc`);
    Deno.symlinkSync("/etc", `${root}/escape`); // absolute link: must land in <root>/etc
    Deno.symlinkSync("../../../../etc", `${root}/up`); // .. cannot climb out
    Deno.symlinkSync("/nowhere", `${root}/dangling`);
    const rootFd = linux.open(root, O.PATH | O.DIRECTORY | O.CLOEXEC);
    try {
      const viaLink = ensureInRoot(linux, rootFd, "/escape/new/dir");
      linux.close(viaLink);
      equal(Deno.statSync(`${root}/etc/new/dir`).isDirectory, true);
      const up = ensureInRoot(linux, rootFd, "/up/x");
      linux.close(up);
      equal(Deno.statSync(`${root}/etc/x`).isDirectory, true, "../.. from the root stays at the root");
      throws(
        () => ensureInRoot(linux, rootFd, "/dangling/y"),
        /ENOENT/,
        "a dangling link is refused, not followed",
      );
      const file = ensureInRoot(linux, rootFd, "/a/b/file", true);
      linux.close(file);
      equal(Deno.statSync(`${root}/a/b/file`).isFile, true);
      throws(() => openInRoot(linux, rootFd, "/missing"), /ENOENT/);
    } finally {
      linux.close(rootFd);
    }
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("devices: makedev matches glibc's encoding", () => {
  equal(makedev(1, 3), 0x103n);
  equal(makedev(5, 0), 0x500n);
  equal(makedev(259, 300), 0x11032cn);
});

Deno.test("wait status encoding and boot's exit code", () => {
  equal(waitStatus(1, /* CLD_EXITED */ 3), 768);
  equal(waitStatus(2, /* CLD_KILLED */ 15), 15);
  equal(waitStatus(3, /* CLD_DUMPED */ 11), 0x8b);
  equal(exitCodeOf(768), 3);
  equal(exitCodeOf(15), 143);
});

Deno.test("prepareArgs drops flags by name with their own tokens; the id and --attached survive", () => {
  const f = new FlagSet("boot");
  for (const b of ["setup-root", "apply-caps", "attached"]) f.bool(b, false, "");
  f.string("bundle", "", "");
  f.intList("io-fds", "");
  f.int("mounts-fd", -1, "");
  const argv = [
    "--io-fds",
    "6",
    "--bundle=/b",
    "--mounts-fd",
    "7",
    "--apply-caps=true",
    "--setup-root",
    "id-setup-root-io-fds",
  ];
  f.parse(argv);
  deepEqual(
    prepareArgs(
      ["--root=/r", "boot", ...argv],
      f,
      true,
      ["setup-root", "apply-caps", "io-fds", "mounts-fd"],
      [
        "--io-fds=9",
      ],
    ),
    ["--root=/r", "boot", "--attached", "--io-fds=9", "--bundle=/b", "id-setup-root-io-fds"],
  );
  deepEqual(
    prepareArgs(["boot", ...argv], f, false, ["setup-root"]),
    ["boot", "--io-fds", "6", "--bundle=/b", "--mounts-fd", "7", "--apply-caps=true", "id-setup-root-io-fds"],
  );
  throws(() => prepareArgs(["boot"], f, false, []), /does not end with the parsed arguments/);
});

Deno.test("rootfs: in a shared mount namespace the root is chroot'ed into, never pivoted or moved", () => {
  for (const noPivot of [false, true]) {
    const fake = fakeKernel();
    enterRoot(fake.kernel, 7, noPivot, "shared");
    deepEqual(fake.names(), ["fchdir", "chroot", "chdir"]);
  }
  const own = fakeKernel();
  enterRoot(own.kernel, 7, false, "own");
  deepEqual(own.names(), ["fchdir", "pivotRoot", "umount2", "chdir"]);
});

Deno.test("rootfs: attachInPlace refuses a namespace's own / and another directory, before mounting", () => {
  const slash = fakeKernel({ open: 9, fileId: "1:2" });
  throws(
    () => attachInPlace(slash.kernel, 5, 6, "/"),
    /is the root of a mount namespace the container shares/,
  );
  deepEqual(slash.names().filter((n) => n === "attachMount" || n === "mount"), []);
  const other = fakeKernel({ open: 9, fileId: (fd: unknown) => (fd === 5 ? "1:2" : "1:3") });
  throws(() => attachInPlace(other.kernel, 5, null, "/b/rootfs"), /is another directory/);
  deepEqual(other.names().filter((n) => n === "attachMount" || n === "mount"), []);
  const fine = fakeKernel({
    open: (p: unknown) => (p === "/" ? 8 : 9),
    fileId: (fd: unknown) => (fd === 8 ? "1:1" : "1:2"),
  });
  equal(attachInPlace(fine.kernel, 5, 6, "/b/rootfs"), 9);
  deepEqual(fine.calls.find((c) => c.name === "attachMount")!.args, [5, 6]);
  deepEqual(fine.calls.find((c) => c.name === "mount")!.args, [
    "",
    "/proc/self/fd/5",
    "",
    MS.PRIVATE | MS.REC,
  ]);
});

/** The caps a fake kernel was asked to raise into the ambient set, by number. */
function raisedAmbient(calls: { name: string; args: unknown[] }[]): number[] {
  return calls.filter((c) =>
    c.name === "prctl" && c.args[0] === PR.CAP_AMBIENT && c.args[1] === PR.CAP_AMBIENT_RAISE
  )
    .map((c) => c.args[2] as number);
}

Deno.test("ambient caps not both permitted and inheritable are skipped, by init and by boot alike", () => {
  const all = (1n << BigInt(lastCap() + 1)) - 1n;
  const caps = {
    bounding: ["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"],
    effective: ["CAP_KILL", "CAP_NET_RAW"],
    permitted: ["CAP_KILL", "CAP_NET_RAW"],
    inheritable: ["CAP_NET_RAW", "CAP_CHOWN"],
    // KILL is not inheritable, CHOWN not permitted: only NET_RAW can be raised.
    ambient: ["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"],
  };
  const init = fakeKernel({ capget: { effective: all, permitted: all, inheritable: 0n } });
  const sets = applyCredentials(init.kernel, { ...defaultSpec().process!, capabilities: caps }, lastCap());
  equal(sets.inheritable, capMask(caps.inheritable));
  deepEqual(raisedAmbient(init.calls), [capNumber("CAP_NET_RAW")], "init");
  const boot = fakeKernel({ capget: { effective: all, permitted: all, inheritable: 0n } });
  applyCaps(boot.kernel, caps);
  deepEqual(raisedAmbient(boot.calls), [capNumber("CAP_NET_RAW")], "boot --apply-caps");
});
