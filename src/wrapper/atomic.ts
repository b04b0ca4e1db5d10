/** Atomic file replacement: write a temporary file next to the target, then rename it over the target. */

/**
 * Writes `data` to `path` so that readers see either the old or the new content, never a partial one.
 * The temporary file lives in the same directory (rename is atomic only within one filesystem).
 */
export function writeFileAtomic(path: string, data: string, mode = 0o644): void {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const base = slash < 0 ? path : path.slice(slash + 1);
  const tmp = `${dir}/.${base}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, data, { mode });
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // the temporary file was never created, or the rename consumed it
    }
    throw e;
  }
}
