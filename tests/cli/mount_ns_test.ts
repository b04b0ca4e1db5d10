/**
 * The mount namespace comes from the spec, as runtime-tools' linux_ns_itype and linux_ns_path check, and
 * runts and runc agree on the same bundle: without a mount entry the app is in the runtime's mount
 * namespace (chroot'ed into its root), with a mount entry and a path in exactly that one. Each runtime runs
 * inside a throwaway mount namespace (`unshare -m`), which is "the runtime's" there: runc mounts the
 * container there, changes its propagation and leaves its mounts behind, which must not reach the host.
 */
import assert from "node:assert/strict";
import { RUNTS } from "./helpers.ts";
import { buildRootfs, exists } from "../util/rootfs.ts";
import { defaultSpec } from "../../src/specutils/default_spec.ts";
import type { Spec } from "../../src/specutils/spec.ts";
import { joinMountNs, mountNsHolder } from "../util/mount_ns.ts";

const RUNC = "/usr/sbin/runc";
const HAVE_TOOLS = exists(RUNC) && exists("/usr/bin/unshare");

/** A private rootfs with a marker and a bundle around it; all removed by the returned cleanup. */
function bundle(mutate: (s: Spec) => void): { dir: string; rootfs: string; cleanup: () => void } {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "runts-mntns-" }));
  const rootfs = `${dir}/rootfs`;
  buildRootfs(rootfs);
  Deno.writeTextFileSync(`${rootfs}/marker`, "inside\n");
  const spec = defaultSpec({ terminal: false });
  spec.root = { path: rootfs, readonly: false };
  spec.process!.args = ["sh", "-c", "readlink /proc/self/ns/mnt; cat /marker; readlink /proc/self/root"];
  mutate(spec);
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(spec));
  return { dir, rootfs, cleanup: () => Deno.removeSync(dir, { recursive: true }) };
}

function withoutMountNs(s: Spec): void {
  s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "mount");
  delete s.linux!.maskedPaths;
  delete s.linux!.readonlyPaths;
}

/**
 * Runs `script` (sh, with $ROOTFS and the runtime's argv as "$@") in a new mount namespace; stdout and
 * stderr go through files, since a container may hold them open.
 */
async function inThrowawayNs(script: string, env: Record<string, string>, argv: string[]) {
  const io = Deno.makeTempDirSync({ prefix: "runts-mntns-io-" });
  try {
    const { code } = await new Deno.Command("unshare", {
      args: ["-m", "sh", "-c", `exec >"$IO/out" 2>"$IO/err"; ${script}`, "sh", ...argv],
      env: { ...env, IO: io },
      stdin: "null",
    }).output();
    return { code, out: Deno.readTextFileSync(`${io}/out`), err: Deno.readTextFileSync(`${io}/err`) };
  } finally {
    Deno.removeSync(io, { recursive: true });
  }
}

const RUNTIMES: Array<[string, string[]]> = [["runc", [RUNC]], ["runts", [RUNTS]]];

/** `<runtime> --root STATE run --bundle DIR ID`, the same for runc and runts. */
function runArgv(exe: string[], state: string, dir: string, id: string): string[] {
  return [...exe, "--root", state, "run", "--bundle", dir, id];
}

Deno.test({
  name: "mount ns: without a mount entry runts and runc keep the app in the runtime's namespace",
  ignore: !HAVE_TOOLS,
  fn: async () => {
    const b = bundle(withoutMountNs);
    try {
      for (const [name, exe] of RUNTIMES) {
        const id = `mntns-${name}-${crypto.randomUUID().slice(0, 8)}`;
        const state = Deno.makeTempDirSync({ prefix: "runts-mntns-state-" });
        try {
          const script = 'readlink /proc/self/ns/mnt; "$@"; echo "rc=$?"; ' +
            'echo "left=$(grep -c " $ROOTFS" /proc/self/mountinfo)"';
          const r = await inThrowawayNs(script, { ROOTFS: b.rootfs }, runArgv(exe, state, b.dir, id));
          const [runtimeNs, appNs, marker, root, rc, left] = r.out.trim().split("\n");
          assert.equal(rc, "rc=0", `${name}: ${r.out}${r.err}`);
          assert.match(runtimeNs, /^mnt:\[\d+\]$/);
          assert.equal(appNs, runtimeNs, `${name}: the app's mount namespace is the runtime's`);
          assert.equal(marker, "inside", `${name}: the app runs in its own root`);
          assert.equal(root, "/", `${name}: chroot'ed into it`);
          // runc leaves the container's mounts in the runtime's namespace; runts detaches them.
          if (name === "runts") assert.equal(left, "left=0", "runts left mounts behind");
        } finally {
          Deno.removeSync(state, { recursive: true });
        }
      }
    } finally {
      b.cleanup();
    }
  },
});

Deno.test({
  name: "mount ns: with a mount path runts and runc put the app in exactly that namespace",
  ignore: !HAVE_TOOLS,
  fn: async () => {
    for (const [name, exe] of RUNTIMES) {
      // A namespace of its own per runtime: runc's pivot_root there takes the holder's root with it.
      const holder = await mountNsHolder();
      const b = bundle(joinMountNs(holder.path));
      const state = Deno.makeTempDirSync({ prefix: "runts-mntns-state-" });
      try {
        const id = `mntpath-${name}-${crypto.randomUUID().slice(0, 8)}`;
        const r = await inThrowawayNs('"$@"; echo "rc=$?"', {}, runArgv(exe, state, b.dir, id));
        const [appNs, marker, , rc] = r.out.trim().split("\n");
        assert.equal(rc, "rc=0", `${name}: ${r.out}${r.err}`);
        assert.equal(appNs, holder.id, `${name}: the app is in the given namespace`);
        assert.equal(marker, "inside");
        if (name === "runts") holder.assertRootKept();
      } finally {
        await holder.stop();
        Deno.removeSync(state, { recursive: true });
        b.cleanup();
      }
    }
  },
});

Deno.test({
  name: "mount ns: an exec into a container without a mount namespace runs in the container's root",
  ignore: !HAVE_TOOLS,
  fn: async () => {
    const b = bundle((s) => {
      withoutMountNs(s);
      s.process!.args = ["sleep", "60"];
    });
    const state = Deno.makeTempDirSync({ prefix: "runts-mntns-state-" });
    try {
      const id = `mntexec-${crypto.randomUUID().slice(0, 8)}`;
      const script = '"$@" create --bundle "$B" "$ID" && "$@" start "$ID" && ' +
        '"$@" exec "$ID" sh -c "readlink /proc/self/ns/mnt; cat /marker; readlink /proc/self/root"; ' +
        'echo "rc=$?"; "$@" delete --force "$ID"; readlink /proc/self/ns/mnt';
      const r = await inThrowawayNs(script, { B: b.dir, ID: id }, [RUNTS, "--root", state]);
      const [appNs, marker, root, rc, runtimeNs] = r.out.trim().split("\n");
      assert.equal(rc, "rc=0", r.out + r.err);
      assert.equal(appNs, runtimeNs);
      assert.equal(
        marker,
        "inside",
        "the exec'd process sees the container's files (runc's sees the host's /)",
      );
      assert.equal(root, "/");
    } finally {
      Deno.removeSync(state, { recursive: true });
      b.cleanup();
    }
  },
});
