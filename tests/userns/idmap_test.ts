/**
 * Idmapped bind mounts (runtime-spec 1.2: mount options idmap and ridmap, a mount's own uidMappings and
 * gidMappings): the host's files show through the mount as the mapped owners, files made through it are
 * stored with the unmapped ids, and ridmap reaches submounts where idmap does not. runc 1.1 ignores a
 * mount's maps, so runc is compared on the plain bind only.
 */
import assert from "node:assert/strict";
import {
  expectCode,
  Fixture,
  HOST_ROOT,
  mappedBundle,
  MappedRootfs,
  runc,
  RuncRoot,
  runts,
  uid,
} from "./helpers.ts";
import type { Mount } from "../../src/specutils/spec.ts";

/** A host directory with a file of root's and one of uid/gid 1000's; a tmpfs submount with one of root's. */
class HostDir {
  readonly dir = Deno.makeTempDirSync({ prefix: "runts-userns-idmap-" });
  #mounted = false;

  constructor(submount = false) {
    Deno.chmodSync(this.dir, 0o755);
    Deno.writeTextFileSync(`${this.dir}/root-file`, "");
    Deno.writeTextFileSync(`${this.dir}/user-file`, "");
    Deno.chownSync(`${this.dir}/user-file`, 1000, 1000);
    if (!submount) return;
    Deno.mkdirSync(`${this.dir}/sub`);
    const r = new Deno.Command("mount", { args: ["-t", "tmpfs", "runts-idmap-sub", `${this.dir}/sub`] })
      .outputSync();
    if (!r.success) throw new Error(`mount tmpfs: ${new TextDecoder().decode(r.stderr)}`);
    this.#mounted = true;
    Deno.writeTextFileSync(`${this.dir}/sub/root-file`, "");
  }

  /** Owners (uid gid) of `name` on the host. */
  owner(name: string): string {
    const st = Deno.statSync(`${this.dir}/${name}`);
    return `${st.uid} ${st.gid}`;
  }

  cleanup(): void {
    if (this.#mounted) new Deno.Command("umount", { args: [`${this.dir}/sub`] }).outputSync();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

const bind = (source: string, destination: string, options: string[], extra: Partial<Mount> = {}): Mount => ({
  destination,
  type: "bind",
  source,
  options,
  ...extra,
});

/** `stat` lines (`name uid gid`) of the entries of `dirs`, in order. */
const STAT = (dirs: string[]) => dirs.map((d) => `stat -c '%n %u %g' ${d}/*-file`).join("; ");

Deno.test("an idmapped bind shows the host's files as the mapped owners, and stores its files unmapped", async () => {
  const fx = new Fixture(), rc = new RuncRoot(), rootfs = new MappedRootfs(), host = new HostDir();
  try {
    const bundle = mappedBundle(fx, rootfs, [
      "sh",
      "-c",
      `${STAT(["/plain", "/mapped"])}; touch /mapped/made && stat -c '%u %g' /mapped/made`,
    ], (s) => {
      s.mounts!.push(bind(host.dir, "/plain", ["bind"]), bind(host.dir, "/mapped", ["bind", "idmap"]));
    });
    const r = await runts(fx.root, ["run", "--bundle", bundle, uid()]);
    expectCode(r, 0, "runts run");
    const lines = r.stdout.trim().split("\n");
    assert.deepEqual(lines, [
      "/plain/root-file 65534 65534",
      "/plain/user-file 65534 65534",
      "/mapped/root-file 0 0",
      "/mapped/user-file 1000 1000",
      "0 0",
    ]);
    // Through the container's own maps, container root writes as the host's root did.
    assert.equal(host.owner("made"), "0 0");
    // runc 1.1 has no idmapped mounts: the plain bind looks the same there.
    const plain = mappedBundle(fx, rootfs, ["sh", "-c", STAT(["/plain"])], (s) => {
      s.mounts!.push(bind(host.dir, "/plain", ["bind"]));
    });
    const c = await runc(rc.dir, ["run", "--bundle", plain, uid("runc")]);
    expectCode(c, 0, "runc run");
    assert.deepEqual(c.stdout.trim().split("\n"), lines.slice(0, 2));
  } finally {
    await fx.cleanup();
    await rc.cleanup();
    rootfs.cleanup();
    host.cleanup();
  }
});

Deno.test("a mount's own maps: ridmap reaches submounts, idmap only the top; no user namespace needed", async () => {
  const fx = new Fixture(), rootfs = new MappedRootfs(), host = new HostDir(true);
  try {
    // Stored 0 shows as host 101000 (container 1000); stored 1000 as host 100007 (container 7).
    const own = {
      uidMappings: [{ containerID: 0, hostID: HOST_ROOT + 1000, size: 10 }, {
        containerID: 1000,
        hostID: HOST_ROOT + 7,
        size: 1,
      }],
      gidMappings: [{ containerID: 0, hostID: HOST_ROOT + 1000, size: 10 }],
    };
    const bundle = mappedBundle(fx, rootfs, ["sh", "-c", STAT(["/r", "/r/sub", "/i", "/i/sub"])], (s) => {
      s.mounts!.push(
        bind(host.dir, "/r", ["rbind", "ridmap"], own),
        bind(host.dir, "/i", ["rbind", "idmap"], own),
      );
    });
    const r = await runts(fx.root, ["run", "--bundle", bundle, uid()]);
    expectCode(r, 0, "runts run");
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "/r/root-file 1000 1000",
      "/r/user-file 7 65534",
      "/r/sub/root-file 1000 1000",
      "/i/root-file 1000 1000",
      "/i/user-file 7 65534",
      "/i/sub/root-file 65534 65534",
    ]);
    // Without a user namespace the mapped owners are host ids as they are.
    const plain = fx.bundle(["sh", "-c", STAT(["/m"])], (s) => {
      s.mounts!.push(bind(host.dir, "/m", ["bind", "idmap"], {
        uidMappings: [{ containerID: 0, hostID: 1234, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: 1234, size: 1 }],
      }));
    });
    const p = await runts(fx.root, ["run", "--bundle", plain, uid()]);
    expectCode(p, 0, "runts run without a user namespace");
    assert.deepEqual(p.stdout.trim().split("\n"), ["/m/root-file 1234 1234", "/m/user-file 65534 65534"]);
  } finally {
    await fx.cleanup();
    rootfs.cleanup();
    host.cleanup();
  }
});
