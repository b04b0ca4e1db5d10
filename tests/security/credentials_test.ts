/**
 * Credentials: the five capability sets exactly as specified (the CVE-2022-29162 class: a runtime that
 * fills the inheritable set lets a non-root user gain capabilities through a binary with file capabilities),
 * no_new_privs against a set-uid binary, and the supplementary groups exactly as specified.
 */
import assert from "node:assert/strict";
import { addToolbox, expectCode, Fixture, PrivateRootfs, run, runts } from "./helpers.ts";
import { exists } from "../util/rootfs.ts";
import { capMask } from "../../src/specutils/capabilities.ts";

const USER = { uid: 1000, gid: 1000 };

function status(stdout: string, field: string): string {
  const m = new RegExp(`^${field}:[ \\t]*(.*)$`, "m").exec(stdout);
  if (!m) throw new Error(`no ${field} in ${stdout}`);
  return m[1].trim();
}

function hex(names: string[]): string {
  return capMask(names).toString(16).padStart(16, "0");
}

function which(tool: string): string | null {
  for (const d of ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    try {
      Deno.statSync(`${d}/${tool}`);
      return `${d}/${tool}`;
    } catch { /* next */ }
  }
  return null;
}

Deno.test("credentials: the capability sets of a non-root app are exactly the spec's", async () => {
  const fx = new Fixture();
  try {
    const r = await run(fx, ["grep", "^Cap", "/proc/self/status"], (s) => {
      s.process!.user = USER;
      s.process!.capabilities = {
        bounding: ["CAP_NET_RAW", "CAP_KILL", "CAP_CHOWN"],
        effective: ["CAP_KILL"],
        permitted: ["CAP_KILL", "CAP_NET_RAW"],
        inheritable: ["CAP_NET_RAW"],
        ambient: ["CAP_NET_RAW"],
      };
    });
    expectCode(r, 0, "caps");
    // A non-root execve keeps only the ambient set in permitted and effective.
    assert.equal(status(r.stdout, "CapInh"), hex(["CAP_NET_RAW"]));
    assert.equal(status(r.stdout, "CapPrm"), hex(["CAP_NET_RAW"]));
    assert.equal(status(r.stdout, "CapEff"), hex(["CAP_NET_RAW"]));
    assert.equal(status(r.stdout, "CapBnd"), hex(["CAP_NET_RAW", "CAP_KILL", "CAP_CHOWN"]));
    assert.equal(status(r.stdout, "CapAmb"), hex(["CAP_NET_RAW"]));
  } finally {
    await fx.cleanup();
  }
});

Deno.test({
  name:
    "credentials attack: file capabilities give a non-root user nothing the inheritable set does not allow",
  ignore: which("setcap") === null,
  fn: async () => {
    const fx = new Fixture();
    const rootfs = new PrivateRootfs();
    try {
      // A copy of busybox named grep whose file capabilities are inheritable (+ effective) only: the app gets
      // cap_net_raw from it exactly when the process's inheritable set holds it too.
      Deno.mkdirSync(`${rootfs.dir}/opt`);
      Deno.copyFileSync(`${rootfs.dir}/bin/busybox`, `${rootfs.dir}/opt/grep`);
      const set = new Deno.Command(which("setcap")!, { args: ["cap_net_raw+ei", `${rootfs.dir}/opt/grep`] })
        .outputSync();
      assert.ok(set.success, new TextDecoder().decode(set.stderr));
      const attempt = (inheritable: string[]) =>
        run(fx, ["/opt/grep", "^CapEff", "/proc/self/status"], (s) => {
          s.root = { path: rootfs.dir, readonly: false };
          s.process!.user = USER;
          s.process!.noNewPrivileges = false; // with it, file capabilities would be ignored altogether
          s.process!.capabilities = { bounding: ["CAP_NET_RAW"], inheritable };
        });
      // The spec gives no inheritable caps, though the bounding set allows the cap: a runtime that filled
      // the inheritable set (from the bounding set, say) would hand it out here.
      const denied = await attempt([]);
      expectCode(denied, 0, "no inheritable");
      assert.equal(status(denied.stdout, "CapEff"), hex([]), "no capability through the file");
      const granted = await attempt(["CAP_NET_RAW"]);
      expectCode(granted, 0, "inheritable NET_RAW");
      assert.equal(status(granted.stdout, "CapEff"), hex(["CAP_NET_RAW"]), "control: the route exists");

      // Without the cap in the bounding set, neither route works, whatever the inheritable set says.
      const bounded = await run(fx, ["/opt/grep", "-E", "^Cap(Eff|Inh)", "/proc/self/status"], (s) => {
        s.root = { path: rootfs.dir, readonly: false };
        s.process!.user = USER;
        s.process!.noNewPrivileges = false;
        s.process!.capabilities = { bounding: ["CAP_KILL"], inheritable: [] };
      });
      expectCode(bounded, 0, "bounded");
      assert.equal(status(bounded.stdout, "CapEff"), hex([]));
      assert.equal(
        status(bounded.stdout, "CapInh"),
        hex([]),
        "the inheritable set is empty, not the bounding set",
      );
    } finally {
      rootfs.cleanup();
      await fx.cleanup();
    }
  },
});

Deno.test({
  name: "credentials attack: no_new_privs keeps a set-uid-root binary from raising a non-root user",
  ignore: which("id") === null,
  fn: async () => {
    const fx = new Fixture();
    const rootfs = new PrivateRootfs();
    try {
      Deno.mkdirSync(`${rootfs.dir}/opt`);
      Deno.copyFileSync(which("id")!, `${rootfs.dir}/opt/id`);
      Deno.chownSync(`${rootfs.dir}/opt/id`, 0, 0);
      Deno.chmodSync(`${rootfs.dir}/opt/id`, 0o4755);
      const attempt = (nnp: boolean) =>
        run(fx, ["/opt/id", "-u"], (s) => {
          s.root = { path: rootfs.dir, readonly: false };
          addToolbox(s, rootfs);
          s.process!.user = USER;
          s.process!.noNewPrivileges = nnp;
        });
      const withNnp = await attempt(true);
      expectCode(withNnp, 0, "nnp");
      assert.equal(withNnp.stdout.trim(), String(USER.uid));
      const without = await attempt(false);
      expectCode(without, 0, "control");
      assert.equal(without.stdout.trim(), "0", "control: without no_new_privs the set-uid bit works");
    } finally {
      rootfs.cleanup();
      await fx.cleanup();
    }
  },
});

Deno.test("credentials: supplementary groups are exactly the spec's; none of the runtime's leaks", async () => {
  const fx = new Fixture();
  const rootfs = new PrivateRootfs();
  try {
    // Readable by group 0 only: a leaked root group would open it.
    Deno.writeTextFileSync(`${rootfs.dir}/etc/group-zero-only`, "secret\n");
    Deno.chmodSync(`${rootfs.dir}/etc/group-zero-only`, 0o040);
    const script = "grep ^Groups: /proc/self/status; cat /etc/group-zero-only 2>/dev/null || echo denied";
    const r = await run(fx, ["sh", "-c", script], (s) => {
      s.root = { path: rootfs.dir, readonly: false };
      s.process!.user = { ...USER, additionalGids: [5, 7, 1000] };
    });
    expectCode(r, 0, "groups");
    assert.equal(status(r.stdout, "Groups"), "5 7 1000");
    assert.match(r.stdout, /^denied$/m);
    const none = await run(fx, ["sh", "-c", script], (s) => {
      s.root = { path: rootfs.dir, readonly: false };
      s.process!.user = USER;
    });
    expectCode(none, 0, "no groups");
    assert.equal(status(none.stdout, "Groups"), "");
    assert.match(none.stdout, /^denied$/m);
  } finally {
    rootfs.cleanup();
    await fx.cleanup();
  }
});

const SPEC_TOOLS = { runc: "/usr/sbin/runc", crun: "/usr/bin/crun" } as const;
const RUNC = SPEC_TOOLS.runc;

/**
 * A bundle holding the unmodified config.json `tool spec` writes (only process.args and terminal changed)
 * and a private copy of the test rootfs at rootfs/, where the spec expects it.
 */
function foreignBundle(tool: keyof typeof SPEC_TOOLS, args: string[]): string {
  const dir = Deno.makeTempDirSync({ prefix: `runts-${tool}-spec-` });
  const spec = new Deno.Command(SPEC_TOOLS[tool], { args: ["spec"], cwd: dir }).outputSync();
  if (!spec.success) throw new Error(`${tool} spec: ${new TextDecoder().decode(spec.stderr)}`);
  const rootfs = new PrivateRootfs();
  Deno.renameSync(rootfs.dir, `${dir}/rootfs`);
  const config = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
  config.process.args = args;
  config.process.terminal = false;
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(config, null, 2));
  return dir;
}

async function runcRun(bundle: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = Deno.makeTempDirSync({ prefix: "runts-runc-root-" });
  const id = `cred-runc-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const out = await new Deno.Command(RUNC, {
      args: ["--root", root, "run", "--bundle", bundle, id],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
  } finally {
    await new Deno.Command(RUNC, { args: ["--root", root, "delete", "--force", id], stderr: "null" })
      .output();
    Deno.removeSync(root, { recursive: true });
  }
}

const capLines = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("Cap")).join("\n");

Deno.test({
  name:
    "credentials: the `runc spec` and `crun spec` defaults give the Cap* lines runc gives (ambient caps " +
    "that are not inheritable are skipped)",
  ignore: !exists(RUNC) || !exists(SPEC_TOOLS.crun),
  fn: async () => {
    const fx = new Fixture();
    const bundles: string[] = [];
    try {
      for (const tool of ["runc", "crun"] as const) {
        const bundle = foreignBundle(tool, ["grep", "^Cap", "/proc/self/status"]);
        bundles.push(bundle);
        const ours = await runts(fx.root, [
          "run",
          "--bundle",
          bundle,
          `cred-${tool}-${crypto.randomUUID().slice(0, 8)}`,
        ]);
        expectCode(ours, 0, `runts, ${tool} spec`);
        const theirs = await runcRun(bundle);
        expectCode(theirs, 0, `runc, ${tool} spec`);
        assert.equal(capLines(ours.stdout), capLines(theirs.stdout), `${tool} spec: runts against runc`);
        assert.equal(status(ours.stdout, "CapAmb"), hex([]), `${tool} spec: nothing ambient`);
      }
    } finally {
      for (const b of bundles) Deno.removeSync(b, { recursive: true });
      await fx.cleanup();
    }
  },
});
