/**
 * init as a clone child of boot (src/boot/start_init.ts): a created container's app exists (its pid, its
 * namespaces) but runs no instruction before start; it never runs if boot dies first; the child's error
 * path names what failed and leaves nothing; an exec'd process is in every namespace and cgroup of the
 * container, with the spec's credentials.
 */
import assert from "node:assert/strict";
import { alive, kill9, sleep, waitFor, World } from "../reliability/helpers.ts";
import { clonedInits } from "../../src/boot/start_init.ts";
import type { Spec } from "../../src/specutils/spec.ts";
import { PrivateRootfs } from "../security/helpers.ts";

/** A private rootfs copy: the mount points these tests add must not land in the shared cached one. */
let rootfs: PrivateRootfs | undefined;
function privateRootfs(): string {
  rootfs ??= new PrivateRootfs();
  return rootfs.dir;
}
globalThis.addEventListener("unload", () => rootfs?.cleanup());

const ignore = !clonedInits();

/** A bundle whose app writes `probe` into a host directory bound at /out, then sleeps. */
function probeBundle(w: World, out: string, mutate?: (s: Spec) => void): string {
  return w.bundle(["sh", "-c", "echo ran > /out/probe; exec sleep 60"], {
    rootfs: privateRootfs(),
    mutate: (s) => {
      s.mounts!.push({ destination: "/out", type: "bind", source: out, options: ["rbind", "rw"] });
      mutate?.(s);
    },
  });
}

/** Runs `fn` on a created probe container "c" of a fresh world, then force-deletes it and checks for leftovers. */
async function withCreatedProbe(
  what: string,
  fn: (w: World, out: string, ids: { pid: number; bootPid: number }) => Promise<void>,
): Promise<void> {
  const w = new World();
  const out = Deno.makeTempDirSync();
  try {
    await w.ok(["create", "--bundle", probeBundle(w, out), "c"]);
    await fn(w, out, w.record("c"));
    await w.ok(["delete", "--force", "c"]);
    await w.assertClean(what);
  } finally {
    await w.cleanup();
    Deno.removeSync(out, { recursive: true });
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function status(pid: number, field: string): string {
  return new RegExp(`^${field}:\\s*(.*)$`, "m").exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1];
}

Deno.test({
  name: "clone init: a created container's app exists but runs nothing before start",
  ignore,
  fn: () =>
    withCreatedProbe("created, started, deleted", async (w, out, { pid, bootPid }) => {
      assert.equal(status(pid, "State")[0], "t", "stopped by its tracer, boot");
      assert.equal(status(pid, "TracerPid"), String(bootPid));
      assert.notEqual(Deno.readLinkSync(`/proc/${pid}/ns/mnt`), Deno.readLinkSync("/proc/self/ns/mnt"));
      await sleep(300);
      assert.equal(exists(`${out}/probe`), false, "the app ran before start");
      await w.ok(["start", "c"]);
      await waitFor(() => exists(`${out}/probe`), "the app to run after start");
      assert.equal(status(pid, "TracerPid"), "0");
    }),
});

Deno.test({
  name: "clone init: boot killed while the container is created → the app never runs",
  ignore,
  fn: () =>
    withCreatedProbe("boot killed while created", async (_w, out, { pid, bootPid }) => {
      kill9(bootPid);
      await waitFor(() => !alive(pid), "the stopped app to die with its tracer");
      await sleep(200);
      assert.equal(exists(`${out}/probe`), false, "the app ran after boot died");
    }),
});

Deno.test({
  name:
    "clone init: a failing execve, a missing program and a failing mount fail create clearly, leave nothing",
  ignore,
  fn: async () => {
    const w = new World();
    const scratch = Deno.makeTempDirSync();
    try {
      const garbage = `${scratch}/garbage`;
      Deno.writeTextFileSync(garbage, "\x01\x02 not a program\n");
      Deno.chmodSync(garbage, 0o755);
      const cases: Array<[string, string, (s: Spec) => void, RegExp]> = [
        ["not a program", "/garbage", (s) => {
          s.mounts!.push({ destination: "/garbage", type: "bind", source: garbage, options: ["bind", "ro"] });
        }, /exec \/garbage: exec format error/],
        ["missing", "/nonexistent", () => {}, /\/nonexistent: no such file or directory/],
        ["bad mount", "/bin/true", (s) => {
          s.mounts!.push({ destination: "/x", type: "no-such-fs", source: "none" });
        }, /mount \/x: .*ENODEV/],
      ];
      for (const [what, prog, mutate, want] of cases) {
        const r = await w.run([
          "create",
          "--bundle",
          w.bundle([prog], { mutate, rootfs: privateRootfs() }),
          `c-${what.replaceAll(" ", "-")}`,
        ]);
        assert.equal(r.code, 1, `${what}: ${r.stderr}`);
        assert.match(r.stderr, want, what);
        await w.assertClean(what);
      }
    } finally {
      await w.cleanup();
      Deno.removeSync(scratch, { recursive: true });
    }
  },
});

const NAMESPACES = ["cgroup", "ipc", "mnt", "net", "pid", "uts"];

Deno.test({
  name:
    "clone init: an exec'd process is in every namespace and cgroup of the container, with its credentials",
  ignore,
  fn: async () => {
    const w = new World();
    try {
      const bundle = w.bundle(["sleep", "60"], {
        mutate: (s) => {
          s.process!.user = { uid: 1000, gid: 1000, additionalGids: [44, 45] };
          s.process!.capabilities = {
            bounding: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            effective: ["CAP_KILL"],
            permitted: ["CAP_KILL"],
            inheritable: [],
            ambient: [],
          };
          s.linux!.namespaces = [...s.linux!.namespaces!.filter((n) => n.type !== "cgroup"), {
            type: "cgroup",
          }];
        },
      });
      await w.ok(["create", "--bundle", bundle, "c"]);
      await w.ok(["start", "c"]);
      const app = w.record("c").pid;
      const pidFile = `${w.pauseDir}/exec.pid`;
      await w.ok(["exec", "--detach", "--pid-file", pidFile, "c", "sleep", "30"]);
      const exec = Number(Deno.readTextFileSync(pidFile));
      for (const ns of NAMESPACES) {
        assert.equal(
          Deno.readLinkSync(`/proc/${exec}/ns/${ns}`),
          Deno.readLinkSync(`/proc/${app}/ns/${ns}`),
          ns,
        );
      }
      assert.equal(
        Deno.readTextFileSync(`/proc/${exec}/cgroup`),
        Deno.readTextFileSync(`/proc/${app}/cgroup`),
      );
      for (
        const f of ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"]
      ) {
        assert.equal(status(exec, f), status(app, f), f);
      }
      assert.equal(Deno.readLinkSync(`/proc/${exec}/root`), "/", "the container's root");
      // The attached exec (boot's ExecuteAsync) sees the same from inside.
      const inside = await w.ok([
        "exec",
        "c",
        "sh",
        "-c",
        "readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid; id -u",
      ]);
      assert.equal(
        inside.trim(),
        [Deno.readLinkSync(`/proc/${app}/ns/mnt`), Deno.readLinkSync(`/proc/${app}/ns/pid`), "1000"].join(
          "\n",
        ),
      );
      await w.ok(["delete", "--force", "c"]);
      await w.assertClean("exec");
    } finally {
      await w.cleanup();
    }
  },
});
