/**
 * The README's first command: builds a root filesystem from the host, writes a bundle, and runs a real
 * container that prints its hostname, its pid and `id`. Needs root.
 */
import { buildRootfs, makeBundle } from "../tests/util/rootfs.ts";

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function main(): number {
  if (Deno.uid() !== 0) {
    console.error("demo: run as root (the container needs namespaces and mounts)");
    return 1;
  }
  const work = Deno.makeTempDirSync({ prefix: "runts-demo-" });
  try {
    const rootfs = `${work}/rootfs`;
    console.error(`demo: building a root filesystem in ${rootfs}`);
    buildRootfs(rootfs);
    const bundle = makeBundle({
      args: ["/bin/sh", "-c", "hostname; echo pid=$$; id"],
      rootfs,
      hostname: "runts-demo",
    });
    try {
      const root = `${work}/state`;
      const args = ["--root", root, "run", "--bundle", bundle.dir, `demo-${Deno.pid}`];
      console.error(`demo: bin/runts ${args.join(" ")}`);
      const { code } = new Deno.Command(`${repo}/bin/runts`, {
        args,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).outputSync();
      console.error(`demo: container exited with ${code}`);
      return code;
    } finally {
      bundle.cleanup();
    }
  } finally {
    Deno.removeSync(work, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(main());
