/**
 * POSIX path helpers with Go `path/filepath` semantics (Clean, Join, IsAbs), so specutils needs no `node:`
 * import. Paths are plain strings; nothing here touches the filesystem.
 */

/** True when `p` starts with "/". */
export function isAbs(p: string): boolean {
  return p.startsWith("/");
}

/**
 * The shortest equivalent path by lexical processing (Go filepath.Clean): repeated slashes collapse, "."
 * elements go, ".." removes the element before it ("/.." is "/"), no trailing slash, and "" becomes ".".
 */
export function clean(p: string): string {
  if (p === "") return ".";
  const rooted = isAbs(p);
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const body = out.join("/");
  if (rooted) return "/" + body;
  return body === "" ? "." : body;
}

/** Joins the non-empty elements with "/" and cleans the result (Go filepath.Join); all empty gives "". */
export function join(...parts: string[]): string {
  const kept = parts.filter((p) => p !== "");
  return kept.length === 0 ? "" : clean(kept.join("/"));
}

/** `p` when it is absolute, otherwise `base` joined with `p` (runsc's specutils abs helper). */
export function absOf(base: string, p: string): string {
  return isAbs(p) ? p : join(base, p);
}
