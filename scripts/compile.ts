/**
 * `deno task compile`: builds dist/runts with `deno compile`. deno compile needs the denort base
 * binary: it downloads it, or takes a local copy from the DENORT_BIN environment variable (read by
 * deno itself and passed through unchanged). When neither works this fails with one line saying so.
 */
const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const OUTPUT = `${repo}/dist/runts`;

const DENORT_HINT = "set DENORT_BIN to a local denort binary of the same deno version";

/** The one-line reason when deno compile's failure was about the base binary, else null. */
export function denortFailure(stderr: string): string | null {
  // deno prints "Caused by:" followed by numbered causes; the deepest one says why.
  // deno colours its output unless NO_COLOR is set.
  // deno-lint-ignore no-control-regex
  const plain = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  if (!/denort|base binary/i.test(plain)) return null;
  const causes = [...plain.matchAll(/^\s*\d+: (.*)$/gm)].map((m) => m[1].trim());
  const why = causes.find((c) => /denort|request|dns|download/i.test(c)) ?? causes[0] ?? "unknown error";
  return `compile: cannot get the denort base binary (${why}); ${DENORT_HINT}`;
}

function main(): number {
  Deno.mkdirSync(`${repo}/dist`, { recursive: true });
  const r = new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "-A",
      "--no-prompt",
      "--v8-flags=--single-threaded",
      "--include",
      `${repo}/src`,
      "--include",
      `${repo}/ffi`,
      "-o",
      OUTPUT,
      `${repo}/main.ts`,
    ],
    cwd: repo,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).outputSync();
  const stderr = new TextDecoder().decode(r.stderr);
  if (r.success) {
    console.error(`compile: wrote ${OUTPUT}`);
    return 0;
  }
  const why = denortFailure(stderr);
  if (why) {
    console.error(why);
  } else {
    console.error(stderr.trimEnd());
  }
  return 1;
}

if (import.meta.main) Deno.exit(main());
