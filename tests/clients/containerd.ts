/**
 * A private containerd for the engine tests: its own root, state and sockets under a temp dir, inside a
 * namespace holder (engines.ts) whose tmpfs over /run takes the paths the 1.6 shim and ctr insist on
 * (/run/containerd/s, /run/containerd/fifo) and the runtime's --root (/run/containerd/runc/<namespace>).
 */
import { Holder, type Result, rootfsTarball, waitFor } from "./engines.ts";
import { writeOciArchive } from "./oci_image.ts";

/** Options of Containerd.start. */
export interface ContainerdOptions {
  /** The containerd namespace ctr uses (CRI's is "k8s.io"). */
  namespace: string;
  /**
   * TOML appended to the config, given containerd's private directory. Without it the CRI plugin is
   * disabled; with it, it runs with this configuration (runtimes, sandbox image, CNI directories).
   */
  criToml?: (dir: string) => string;
}

/** A containerd running inside its own namespace holder. */
export class Containerd {
  private constructor(readonly h: Holder, readonly pid: number, readonly namespace: string) {}

  /** containerd's gRPC socket (also the CRI endpoint when the CRI plugin runs). */
  get socket(): string {
    return `${this.h.dir}/containerd.sock`;
  }

  /** The ctr command line (for `script`). */
  argv(args: string[]): string[] {
    return ["ctr", "--address", this.socket, "--namespace", this.namespace, ...args];
  }

  ctr(args: string[], stdin?: string): Promise<Result> {
    return this.h.run(this.argv(args), { stdin });
  }

  /** ctr() that must exit 0; its stdout. */
  async ok(args: string[], stdin?: string): Promise<string> {
    const r = await this.ctr(args, stdin);
    if (r.code !== 0) throw new Error(`ctr ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** The task's row of `ctr task ls`: [pid, status], or null. */
  async task(id: string): Promise<[number, string] | null> {
    for (const line of (await this.ok(["task", "ls"])).split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f[0] === id) return [Number(f[1]), f[2]];
    }
    return null;
  }

  /** Entries the shim's runtime left under its --root for this namespace. */
  async runtimeState(): Promise<string[]> {
    const r = await this.h.run(["ls", "-A", `/run/containerd/runc/${this.namespace}`]);
    return r.code === 0 ? r.stdout.split("\n").filter(Boolean) : [];
  }

  /** Kills and deletes task and container `id`, whatever their state. */
  async remove(id: string): Promise<void> {
    await this.ctr(["task", "kill", "--all", "--signal", "SIGKILL", id]);
    await this.ctr(["task", "delete", "--force", id]);
    await this.ctr(["container", "delete", id]);
  }

  /** Imports the test rootfs as image `ref` (an OCI archive) with `cmd` as its default command. */
  async importImage(ref: string, cmd: string[]): Promise<void> {
    const d = Deno.makeTempDirSync({ dir: this.h.dir, prefix: "image-" });
    await rootfsTarball(`${d}/rootfs.tar`);
    await writeOciArchive(`${d}/rootfs.tar`, ref, `${d}/image.tar`, cmd);
    await this.ok(["images", "import", `${d}/image.tar`]);
    Deno.removeSync(d, { recursive: true });
  }

  /** containerd's own log so far. */
  log(): string {
    try {
      return Deno.readTextFileSync(`${this.h.dir}/containerd.log`);
    } catch {
      return "";
    }
  }

  /** Starts containerd and waits until it serves. */
  static async start(opts: ContainerdOptions): Promise<Containerd> {
    const h = await Holder.start("containerd");
    try {
      const d = h.dir;
      const config = [
        "version = 2",
        `root = "${d}/root"`,
        `state = "${d}/state"`,
        opts.criToml === undefined ? `disabled_plugins = ["io.containerd.grpc.v1.cri"]` : "",
        "[grpc]",
        `  address = "${d}/containerd.sock"`,
        "[ttrpc]",
        `  address = "${d}/containerd.sock.ttrpc"`,
        "[debug]",
        `  address = ""`,
        "[metrics]",
        `  address = ""`,
        opts.criToml?.(d) ?? "",
      ].join("\n");
      Deno.writeTextFileSync(`${d}/config.toml`, config + "\n");
      const pid = h.daemon(["containerd", "--config", `${d}/config.toml`], `${d}/containerd.log`);
      const c = new Containerd(h, pid, opts.namespace);
      await waitFor(async () => (await c.ctr(["version"])).code === 0, "containerd to serve", 30_000);
      return c;
    } catch (e) {
      await h.stop();
      throw e;
    }
  }

  /** Stops everything in the holder (containerd, shims, containers) by pid. */
  async stop(): Promise<void> {
    await this.h.stop();
  }
}
