/**
 * Where the corpus's config.json files come from: the `spec` command of runc, crun, runsc and runts, and
 * the bundles podman and containerd write for a real run, copied by a runtime wrapper that execs runc.
 */
import { RUNTS } from "../cli/helpers.ts";
import { Containerd } from "../clients/containerd.ts";
import { ensureInstalled, which } from "../clients/engines.ts";
import { IMAGE, Podman } from "../clients/podman.ts";
import type { Spec } from "../../src/specutils/spec.ts";

/** A config.json and the tool that wrote it. */
export interface Source {
  name: string;
  spec: Spec;
}

/** The outcome of asking for one source: the spec, or why there is none. */
export type Captured = Source | { name: string; skip: string };

function readSpec(path: string): Spec {
  return JSON.parse(Deno.readTextFileSync(path)) as Spec;
}

/** `<tool> spec` in a fresh directory (runts: bin/runts of this checkout). */
export function toolSpec(tool: "runc" | "crun" | "runsc" | "runts"): Captured {
  const name = `${tool} spec`;
  const binary = tool === "runts" ? RUNTS : which(tool);
  if (!binary) return { name, skip: `${tool} is not installed` };
  const dir = Deno.makeTempDirSync({ prefix: `runts-corpus-${tool}-` });
  try {
    const r = new Deno.Command(binary, { args: ["spec"], cwd: dir, stdin: "null", stderr: "piped" })
      .outputSync();
    if (!r.success) throw new Error(`${tool} spec: ${new TextDecoder().decode(r.stderr)}`);
    return { name, spec: readSpec(`${dir}/config.json`) };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Writes `<dir>/runc`: a runtime that copies the config.json of every bundle it is given (`--bundle DIR`,
 * `-b DIR`, `--bundle=DIR`) to `<dir>/config.json`, then execs the real runc. Named runc so that podman
 * treats it as runc (JSON logs).
 */
export function captureWrapper(dir: string, runc: string): string {
  const path = `${dir}/runc`;
  const out = `${dir}/config.json`;
  Deno.writeTextFileSync(
    path,
    `#!/bin/sh
prev=
for a in "$@"; do
  b=
  case "$prev" in --bundle|-bundle|-b) b=$a ;; esac
  case "$a" in --bundle=*|-bundle=*) b=\${a#*=} ;; esac
  if [ -n "$b" ] && [ -f "$b/config.json" ]; then cp "$b/config.json" '${out}'; fi
  prev=$a
done
exec '${runc}' "$@"
`,
  );
  Deno.chmodSync(path, 0o755);
  return path;
}

/**
 * The config.json podman writes for `podman run --network none IMAGE true` (no network: its netns file
 * would live only in podman's private namespaces). The container is removed again; the bind sources its
 * config names (podman's userdata files) are copied into `keep`, which the caller removes.
 */
export async function podmanSpec(keep: string): Promise<Captured> {
  const name = "podman run";
  const skip = await ensureInstalled(["podman", "runc"], ["podman", "conmon", "runc"]);
  if (skip) return { name, skip };
  const pm = await Podman.start();
  try {
    const wrapper = captureWrapper(pm.h.dir, which("runc")!);
    const id = `corpus-${crypto.randomUUID().slice(0, 8)}`;
    await pm.ok(["--runtime", wrapper, "run", "--name", id, "--network", "none", IMAGE, "true"]);
    const spec = readSpec(`${pm.h.dir}/config.json`);
    keepBindSources(spec, pm.h.dir, keep);
    await pm.remove(id);
    return { name, spec };
  } finally {
    await pm.h.stop();
  }
}

/**
 * Copies the sources of `spec`'s bind mounts that lie under `dir` (about to be removed) into `keep`, and
 * points the mounts there. The host's own paths (/etc, /dev/…) are left alone.
 */
function keepBindSources(spec: Spec, dir: string, keep: string): void {
  for (const m of spec.mounts ?? []) {
    if (!m.source?.startsWith(`${dir}/`)) continue;
    const copy = `${keep}/${m.source.slice(dir.length + 1)}`;
    Deno.mkdirSync(copy.slice(0, copy.lastIndexOf("/")), { recursive: true });
    const st = Deno.statSync(m.source);
    if (st.isDirectory) Deno.mkdirSync(copy, { recursive: true });
    else Deno.copyFileSync(m.source, copy);
    m.source = copy;
  }
}

/** The config.json containerd's runc shim writes for `ctr run --runc-binary WRAPPER IMAGE id true`. */
export async function containerdSpec(): Promise<Captured> {
  const name = "ctr run";
  const skip = await ensureInstalled(
    ["containerd", "runc"],
    ["containerd", "ctr", "containerd-shim-runc-v2", "runc"],
  );
  if (skip) return { name, skip };
  const c = await Containerd.start({ namespace: "corpus" });
  try {
    const wrapper = captureWrapper(c.h.dir, which("runc")!);
    await c.importImage(IMAGE, ["true"]);
    const id = `corpus-${crypto.randomUUID().slice(0, 8)}`;
    await c.ok(["run", "--rm", "--runc-binary", wrapper, IMAGE, id, "true"]);
    return { name, spec: readSpec(`${c.h.dir}/config.json`) };
  } finally {
    await c.stop();
  }
}
