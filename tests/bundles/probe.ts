/**
 * The corpus's probe: what a container sees of itself (ids, HOME, capability sets and no_new_privs,
 * hostname, pid, /dev, mounts), printed in sections by a busybox shell, and a run of one config.json
 * under a runtime with only `terminal`, `process.args` and `root.path` changed.
 */
import { runts } from "../cli/helpers.ts";
import type { Spec } from "../../src/specutils/spec.ts";

/** The exit code the probe ends with, so that the runtime's own failures show. */
export const PROBE_EXIT = 7;

/** What the corpus compares, one entry per field. */
export type Seen = Record<Field, string>;

/** The compared fields. */
export const FIELDS = [
  "exit",
  "id",
  "HOME",
  "caps",
  "NoNewPrivs",
  "hostname",
  "pid",
  "dev",
  "mounts",
] as const;
export type Field = typeof FIELDS[number];

const SCRIPT = [
  "echo '## id'; id",
  "echo '## HOME'; echo \"${HOME-<unset>}\"",
  "echo '## caps'; grep '^Cap' /proc/self/status",
  "echo '## NoNewPrivs'; grep '^NoNewPrivs' /proc/self/status",
  "echo '## hostname'; hostname",
  "echo '## pid'; echo $$",
  'echo \'## dev\'; for f in /dev/* /dev/.[!.]*; do [ -e "$f" ] || [ -L "$f" ] || continue; ' +
  'if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else stat -c \'%n %F %t:%T %a\' "$f"; fi; done',
  "echo '## mounts'; cat /proc/self/mounts",
  `exit ${PROBE_EXIT}`,
].join("; ");

/** `spec` with the probe as its process (no terminal) and `rootfs` as its root; nothing else changes. */
export function probeSpec(spec: Spec, rootfs: string): Spec {
  const s = structuredClone(spec);
  s.process = { ...s.process!, terminal: false, args: ["sh", "-c", SCRIPT] };
  s.root = { ...s.root, path: rootfs };
  return s;
}

/**
 * /proc/self/mounts without the source column (device names and bind sources differ between hosts and
 * runtimes, not what the container gets), sorted: runtime-spec orders the spec's mounts, not the masked
 * and read-only paths runc and runts add at different points.
 */
export function normalizeMounts(text: string): string {
  return text.trim().split("\n").filter(Boolean).map((l) => {
    const f = l.split(" ");
    return `${f[1]} ${f[2]} ${f[3]}`;
  }).sort().join("\n");
}

/** The probe's output split into fields; `exit` is the runtime's exit code. */
export function parseProbe(stdout: string, code: number): Seen {
  const seen = Object.fromEntries(FIELDS.map((f) => [f, ""])) as Seen;
  seen.exit = String(code);
  let field: Field | null = null;
  const lines: Record<string, string[]> = {};
  for (const line of stdout.replaceAll("\r", "").split("\n")) {
    const m = /^## (\w+)$/.exec(line);
    if (m && (FIELDS as readonly string[]).includes(m[1])) {
      field = m[1] as Field;
      lines[field] = [];
    } else if (field) {
      lines[field].push(line);
    }
  }
  for (const [f, ls] of Object.entries(lines)) seen[f as Field] = ls.join("\n").trim();
  seen.mounts = normalizeMounts(seen.mounts);
  return seen;
}

/** The result of running one probe bundle. */
export interface ProbeRun {
  seen: Seen;
  /** The probe printed its sections: the runtime ran it. */
  ran: boolean;
  stderr: string;
}

/** Runs `spec` (already a probe spec) with `binary` (runts or runc) in a fresh bundle and state root. */
export async function runProbe(binary: string, spec: Spec): Promise<ProbeRun> {
  const bundle = Deno.makeTempDirSync({ prefix: "runts-corpus-bundle-" });
  const root = Deno.makeTempDirSync({ prefix: "runts-corpus-root-" });
  const id = `corpus-${crypto.randomUUID().slice(0, 8)}`;
  try {
    Deno.writeTextFileSync(`${bundle}/config.json`, JSON.stringify(spec, null, 2));
    const r = await runts(root, ["run", "--bundle", bundle, id], { binary });
    return { seen: parseProbe(r.stdout, r.code), ran: r.stdout.includes("## mounts"), stderr: r.stderr };
  } finally {
    await runts(root, ["delete", "--force", id], { binary });
    Deno.removeSync(bundle, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
}
