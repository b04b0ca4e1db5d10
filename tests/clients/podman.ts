/**
 * podman (Debian's, with conmon) with private state for the tests: --root/--runroot/--tmpdir under a
 * namespace holder's temp dir (engines.ts), the vfs driver, cgroupfs, the file events backend, and the
 * containers.conf next to this file (CONTAINERS_CONF) naming runts and runc. The image is `podman import`
 * of the test rootfs.
 */
import { Holder, type Result, rootfsTarball, type ScenarioContext, which } from "./engines.ts";
import { SubidUser } from "../util/subids.ts";

/** The subordinate ids --userns=auto takes ranges from (a user of the test's own, see Podman.start). */
export const AUTO_SUBIDS = { start: 0, size: 0 };

/** The test rootfs as podman's image. */
export const IMAGE = "localhost/busybox:runts-test";
const CONF_TEMPLATE = new URL("./containers.conf", import.meta.url).pathname;

/** podman with private state, inside a namespace holder. */
export class Podman {
  constructor(readonly h: Holder, readonly autoUser: SubidUser | null = null) {}

  get conf(): string {
    return `${this.h.dir}/containers.conf`;
  }

  /** The podman command line (for `script`), global flags included. */
  argv(args: string[]): string[] {
    const d = this.h.dir;
    return [
      "podman",
      "--root",
      `${d}/root`,
      "--runroot",
      `${d}/runroot`,
      "--tmpdir",
      `${d}/tmp`,
      "--storage-driver",
      "vfs",
      "--cgroup-manager",
      "cgroupfs",
      "--events-backend",
      "file",
      ...args,
    ];
  }

  get env(): Record<string, string> {
    return {
      CONTAINERS_CONF: this.conf,
      CONTAINERS_STORAGE_CONF: `${this.h.dir}/storage.conf`,
      TMPDIR: `${this.h.dir}/tmp`,
    };
  }

  run(args: string[], stdin?: string): Promise<Result> {
    return this.h.run(this.argv(args), { env: this.env, stdin });
  }

  /** run() that must exit 0; its stdout. */
  async ok(args: string[], stdin?: string): Promise<string> {
    const r = await this.run(args, stdin);
    if (r.code !== 0) throw new Error(`podman ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** `podman --runtime RT run --rm IMAGE cmd...` with `flags` before the image. */
  runRm(ctx: ScenarioContext, flags: string[], cmd: string[], stdin?: string): Promise<Result> {
    return this.run(["--runtime", ctx.rt.name, "run", "--rm", ...flags, IMAGE, ...cmd], stdin);
  }

  /** Starts a detached container named ctx.name running `cmd`; returns its host pid. */
  async detached(ctx: ScenarioContext, cmd: string[], flags: string[] = []): Promise<number> {
    await this.ok(["--runtime", ctx.rt.name, "run", "-d", "--name", ctx.name, ...flags, IMAGE, ...cmd]);
    return Number((await this.ok(["inspect", "-f", "{{.State.Pid}}", ctx.name])).trim());
  }

  /** Removes container `name` whatever its state. */
  async remove(name: string): Promise<void> {
    await this.run(["rm", "-f", "-t", "0", name]);
  }

  async inspect(name: string, format: string): Promise<string> {
    return (await this.ok(["inspect", "-f", format, name])).trim();
  }

  static async start(): Promise<Podman> {
    const h = await Holder.start("podman");
    try {
      const runc = which("runc") ?? "/usr/sbin/runc";
      const runts = new URL("../../bin/runts", import.meta.url).pathname;
      const conf = Deno.readTextFileSync(CONF_TEMPLATE).replaceAll("@DIR@", h.dir).replaceAll(
        "@RUNTS@",
        runts,
      )
        .replaceAll("@RUNC@", runc);
      for (const d of ["root", "runroot", "tmp", "cni"]) Deno.mkdirSync(`${h.dir}/${d}`);
      Deno.writeTextFileSync(`${h.dir}/containers.conf`, conf);
      // --userns=auto takes its ranges from this user's /etc/subuid and /etc/subgid entries.
      const auto = new SubidUser("runtsauto");
      AUTO_SUBIDS.start = auto.subStart;
      AUTO_SUBIDS.size = auto.subSize;
      Deno.writeTextFileSync(
        `${h.dir}/storage.conf`,
        `[storage]\ndriver = "vfs"\nrunroot = "${h.dir}/runroot"\ngraphroot = "${h.dir}/root"\n` +
          `[storage.options]\nroot-auto-userns-user = "${auto.name}"\n`,
      );
      const pm = new Podman(h, auto);
      await rootfsTarball(`${h.dir}/rootfs.tar`);
      await pm.ok(["import", `${h.dir}/rootfs.tar`, IMAGE]);
      return pm;
    } catch (e) {
      await h.stop();
      throw e;
    }
  }
}
