/**
 * `deno task bundle` (and `npm install`'s prepare script, with --if-stale): bundles main.ts into dist/bundle/ (main.js plus one chunk per lazily loaded
 * subcommand) with `deno bundle`, which works offline. bin/runts runs the bundle instead of main.ts while
 * no source file is newer than it: every runts process (the CLI, boot, init) then loads a few JavaScript
 * files instead of ~60 TypeScript modules, which saves about 8 ms of start-up each.
 *
 *   deno run -A scripts/bundle.ts [--quiet]
 */

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * Makes each chunk's dynamic imports opaque to Deno's module graph: a literal `import("./x.js")` is
 * fetched and parsed at start-up along with everything it reaches (every subcommand, for every command),
 * an `import(String("./x.js"))` only when it runs. The specifier still resolves against the chunk.
 */
function lazyChunks(dir: string): void {
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.endsWith(".js")) continue;
    const path = `${dir}/${e.name}`;
    const text = Deno.readTextFileSync(path);
    const lazy = text.replace(/\bimport\("(\.\/[\w.-]+\.js)"\)/g, 'import(String("$1"))');
    if (lazy !== text) Deno.writeTextFileSync(path, lazy);
  }
}

/** Builds `root`/dist/bundle/ from `root`/main.ts (this checkout by default); returns the entry point. */
export function buildBundle(root = repo): string {
  const dist = `${root}/dist`;
  Deno.mkdirSync(dist, { recursive: true });
  const tmp = Deno.makeTempDirSync({ dir: dist, prefix: "bundle-new-" });
  const r = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--no-config",
      "--platform=deno",
      "--code-splitting",
      "--outdir",
      tmp,
      "main.ts",
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).outputSync();
  if (!r.success) {
    Deno.removeSync(tmp, { recursive: true });
    const out = new TextDecoder().decode(r.stderr).trim() || new TextDecoder().decode(r.stdout).trim();
    throw new Error(`deno bundle failed: ${out}`);
  }
  lazyChunks(tmp);
  // Swap directories, so a runts starting meanwhile sees the old bundle, the new one, or none.
  const target = `${dist}/bundle`;
  const old = `${dist}/bundle-old-${Deno.pid}`;
  let hadOld = true;
  try {
    Deno.renameSync(target, old);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    hadOld = false;
  }
  Deno.renameSync(tmp, target);
  if (hadOld) Deno.removeSync(old, { recursive: true });
  return `${target}/main.js`;
}

/** True when `root`/dist/bundle/main.js exists and no source file is newer (bin/runts's own test). */
export function bundleFresh(root = repo): boolean {
  let built: number;
  try {
    built = Deno.statSync(`${root}/dist/bundle/main.js`).mtime!.getTime();
  } catch {
    return false;
  }
  const newer = (dir: string): boolean => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory ? newer(p) : e.name.endsWith(".ts") && Deno.statSync(p).mtime!.getTime() > built) {
        return true;
      }
    }
    return false;
  };
  return Deno.statSync(`${root}/main.ts`).mtime!.getTime() <= built && !newer(`${root}/src`) &&
    !newer(`${root}/ffi`);
}

if (import.meta.main) {
  // --if-stale (npm's prepare script): nothing to do while the bundle is fresh.
  if (Deno.args.includes("--if-stale") && bundleFresh()) Deno.exit(0);
  const entry = buildBundle();
  if (!Deno.args.includes("--quiet")) console.log(`wrote ${entry}`);
}
