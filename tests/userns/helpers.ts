/**
 * What the user namespace tests share: the usual mapping (container 0–65535 on host 100000–165535), a
 * private copy of the test rootfs owned by the mapped root (as an image unpacked for such a container
 * would be), spec helpers, and side-by-side runs under runts and runc.
 */
import { cachedRootfs } from "../util/rootfs.ts";
import { Fixture, type Result, RUNC, runc, runts, state } from "../cli/helpers.ts";
import type { LinuxIDMapping, Spec } from "../../src/specutils/spec.ts";
import { CAPABILITIES } from "../../src/specutils/capabilities.ts";

export { Fixture, RUNC, runc, runts, state };
export type { Result };

/** The host id container root maps to. */
export const HOST_ROOT = 100000;
/** The usual map: container ids 0–65535 are host ids 100000–165535. */
export const MAP: LinuxIDMapping[] = [{ containerID: 0, hostID: HOST_ROOT, size: 65536 }];

/** A unique container id. */
export function uid(prefix = "uns"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

function sh(cmd: string, args: string[]): void {
  const r = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

/** A private copy of the test rootfs, chowned to `owner` on the host (default: the mapped root). */
export class MappedRootfs {
  readonly dir: string;

  constructor(owner = HOST_ROOT) {
    this.dir = Deno.makeTempDirSync({ prefix: "runts-userns-rootfs-" });
    sh("cp", ["-a", `${cachedRootfs()}/.`, this.dir]);
    sh("chown", ["-R", `${owner}:${owner}`, this.dir]);
    Deno.chmodSync(this.dir, 0o755);
  }

  /** Removes the copy. */
  cleanup(): void {
    Deno.removeSync(this.dir, { recursive: true });
  }
}

/** Gives `spec` a new user namespace with `uids` and `gids` (default MAP). */
export function withUserns(spec: Spec, uids: LinuxIDMapping[] = MAP, gids: LinuxIDMapping[] = uids): void {
  spec.linux!.namespaces = [...spec.linux!.namespaces!.filter((n) => n.type !== "user"), { type: "user" }];
  spec.linux!.uidMappings = uids;
  spec.linux!.gidMappings = gids;
}

/** Every capability in every set: what root of the user namespace could hold at most. */
export function allCaps(spec: Spec): void {
  const all = [...CAPABILITIES];
  spec.process!.capabilities = {
    bounding: all,
    effective: all,
    permitted: all,
    inheritable: all,
    ambient: all,
  };
}

/** A bundle on `rootfs` running `args` as the mapped root, with `mutate` applied last. */
export function mappedBundle(fx: Fixture, rootfs: MappedRootfs, args: string[], mutate?: (s: Spec) => void) {
  return fx.bundle(args, (s) => {
    s.root = { path: rootfs.dir, readonly: false };
    withUserns(s);
    mutate?.(s);
  });
}

/** Throws with the whole result when `r` did not exit with `code`. */
export function expectCode(r: Result, code: number, what: string): void {
  if (r.code !== code) {
    throw new Error(`${what}: exit ${r.code}, wanted ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/** Uid and Gid lines of /proc/PID/status as the host sees them: [real, effective, saved, fs]. */
export function hostIds(pid: number): { uid: number[]; gid: number[] } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const ids = (k: string) => new RegExp(`^${k}:\\s+(.*)$`, "m").exec(status)![1].split(/\s+/).map(Number);
  return { uid: ids("Uid"), gid: ids("Gid") };
}

/** A state root for runc that deletes what is left in it. */
export class RuncRoot {
  readonly dir = Deno.makeTempDirSync({ prefix: "runts-userns-runc-" });

  /** Force-deletes every container left, then removes the root. */
  async cleanup(): Promise<void> {
    for (const e of Deno.readDirSync(this.dir)) {
      if (e.isDirectory) await runc(this.dir, ["delete", "--force", e.name]);
    }
    Deno.removeSync(this.dir, { recursive: true });
  }
}
