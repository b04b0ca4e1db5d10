/**
 * Small root filesystems and OCI bundles built from the host, for tests and the demo.
 * Everything here is synchronous.
 */
import { defaultSpec } from "../../src/specutils/default_spec.ts";
import type { Spec } from "../../src/specutils/spec.ts";

/** Bump when the layout buildRootfs produces changes, so cached copies are rebuilt. */
const LAYOUT_VERSION = 1;

const BUSYBOX = "/bin/busybox";

/** Tools copied (with their libraries) when there is no busybox, so a shell can do a little. */
const FALLBACK_TOOLS = ["id", "hostname", "cat", "ls", "echo", "sleep", "true", "false", "mkdir", "rm"];

const decoder = new TextDecoder();

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
  return { ok: r.success, out: decoder.decode(r.stdout) };
}

/** True when `path` exists (following symlinks). */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The absolute paths of the shared libraries (and ELF interpreter) `binary` needs; [] for a static one. */
function sharedLibraries(binary: string): string[] {
  const { ok, out } = run("ldd", [binary]);
  if (!ok) return []; // "not a dynamic executable"
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** Copies host file `src` (following symlinks) to the same path under `root`. */
function copyPreservingPath(root: string, src: string, dest = src): void {
  const target = root + dest;
  Deno.mkdirSync(target.slice(0, target.lastIndexOf("/")), { recursive: true });
  Deno.copyFileSync(src, target);
  Deno.chmodSync(target, Deno.statSync(src).mode! & 0o7777);
}

/** Copies a program and its libraries into `root`, the program as `dest`. */
function copyProgram(root: string, src: string, dest: string): void {
  copyPreservingPath(root, src, dest);
  for (const lib of sharedLibraries(src)) {
    if (!exists(root + lib)) copyPreservingPath(root, lib);
  }
}

function which(tool: string): string | null {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    if (exists(`${dir}/${tool}`)) return `${dir}/${tool}`;
  }
  return null;
}

/** Options for buildRootfs. */
export interface RootfsOptions {
  /** The busybox to copy; null forces the /bin/sh fallback. Default: /bin/busybox when it exists. */
  busybox?: string | null;
}

/**
 * Builds a small root filesystem in `dir` (created if needed): busybox with a symlink per applet when
 * /bin/busybox exists, else /bin/sh (and a few tools) with the libraries ldd lists; plus proc, sys,
 * dev, tmp, etc and root, and etc/passwd, etc/group and etc/hostname.
 */
export function buildRootfs(dir: string, opts: RootfsOptions = {}): void {
  Deno.mkdirSync(`${dir}/bin`, { recursive: true });
  const busybox = opts.busybox === undefined ? (exists(BUSYBOX) ? BUSYBOX : null) : opts.busybox;
  if (busybox) {
    copyProgram(dir, busybox, "/bin/busybox");
    const { ok, out } = run(busybox, ["--list"]);
    if (!ok) throw new Error(`${busybox} --list failed`);
    for (const applet of out.split("\n").map((s) => s.trim())) {
      if (!applet || applet === "busybox" || applet.includes("/")) continue;
      if (!exists(`${dir}/bin/${applet}`)) Deno.symlinkSync("busybox", `${dir}/bin/${applet}`);
    }
  } else {
    copyProgram(dir, "/bin/sh", "/bin/sh");
    for (const tool of FALLBACK_TOOLS) {
      const path = which(tool);
      if (path && !exists(`${dir}/bin/${tool}`)) copyProgram(dir, path, `/bin/${tool}`);
    }
  }
  for (const d of ["proc", "sys", "dev", "etc", "root"]) Deno.mkdirSync(`${dir}/${d}`, { recursive: true });
  Deno.mkdirSync(`${dir}/tmp`, { recursive: true });
  Deno.chmodSync(`${dir}/tmp`, 0o1777);
  Deno.chmodSync(`${dir}/root`, 0o700);
  Deno.writeTextFileSync(
    `${dir}/etc/passwd`,
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
  );
  Deno.writeTextFileSync(`${dir}/etc/group`, "root:x:0:\nnogroup:x:65534:\n");
  Deno.writeTextFileSync(`${dir}/etc/hostname`, "runts\n");
}

/** FNV-1a, enough to name a cache directory. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** What the built rootfs depends on: the layout version and the host programs it copies. */
function rootfsFingerprint(): string {
  const parts = [`v${LAYOUT_VERSION}`];
  for (const p of [BUSYBOX, "/bin/sh"]) {
    try {
      const st = Deno.statSync(p);
      parts.push(`${p}:${st.size}:${st.mtime?.getTime()}`);
    } catch {
      parts.push(`${p}:-`);
    }
  }
  return fnv1a(parts.join("|"));
}

/**
 * A root filesystem shared by all tests: built once into /tmp/runts-test-rootfs-<hash> and reused.
 * Safe when several test processes race: each builds into its own directory and renames it into place.
 */
export function cachedRootfs(): string {
  const dir = `/tmp/runts-test-rootfs-${rootfsFingerprint()}`;
  if (exists(`${dir}/etc/hostname`)) return dir;
  const tmp = Deno.makeTempDirSync({ dir: "/tmp", prefix: "runts-test-rootfs-build-" });
  try {
    buildRootfs(tmp);
    Deno.chmodSync(tmp, 0o755);
    Deno.renameSync(tmp, dir);
  } catch (e) {
    Deno.removeSync(tmp, { recursive: true });
    if (!exists(`${dir}/etc/hostname`)) throw e; // not just a lost race
  }
  return dir;
}

/** Options for makeBundle. */
export interface BundleOptions {
  /** The container process's argv. */
  args: string[];
  /** The root filesystem; cachedRootfs() when absent. */
  rootfs?: string;
  hostname?: string;
  /** Last changes to the spec before it is written. */
  mutate?: (spec: Spec) => void;
}

/** A bundle directory on disk. */
export interface Bundle {
  dir: string;
  /** Removes the bundle directory (not the rootfs). */
  cleanup(): void;
}

/**
 * Writes a bundle: a temporary directory with config.json from defaultSpec(), `args` as the process,
 * and root.path set to the (absolute) rootfs, writable.
 */
export function makeBundle(opts: BundleOptions): Bundle {
  const dir = Deno.makeTempDirSync({ prefix: "runts-bundle-" });
  const rootfs = Deno.realPathSync(opts.rootfs ?? cachedRootfs());
  const spec = defaultSpec({ args: opts.args, terminal: false });
  spec.root = { path: rootfs, readonly: false };
  if (opts.hostname !== undefined) spec.hostname = opts.hostname;
  opts.mutate?.(spec);
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(spec, null, 2) + "\n");
  return { dir, cleanup: () => Deno.removeSync(dir, { recursive: true }) };
}
