/**
 * `deno task conformance`: runs the opencontainers/runtime-tools validation programs against runtimes and
 * prints a pass/fail table, one row per program and one column per runtime.
 *
 * The suite is not part of this repository, which neither contains nor builds it: build its validation
 * programs and a static runtimetest in a runtime-tools checkout of your own, as that project documents
 * (commit 260e151 is the last that builds with Go 1.19), and name the checkout with RUNTIME_TOOLS_DIR. The programs run with
 * that directory as their working directory: they unpack its rootfs-<arch>.tar.gz into each bundle and copy
 * its runtimetest there, and they call the runtime named by RUNTIME with runc's command line.
 *
 * Usage: deno task conformance [--runtime NAME|PATH]... [--timeout SECONDS] [--out DIR] [PROGRAM...]
 *   --runtime  runts (bin/runts of this checkout, the default), runc, crun, or a path; repeat it for
 *              columns side by side
 *   --timeout  seconds per program (default 300)
 *   --out      where each program's stdout and stderr are kept (default: a new directory under /tmp)
 *   PROGRAM    program names (e.g. mounts pidfile); default: every validation/<name>/<name>.t
 * Exit status: 0 when every program passed (or skipped) under every runtime, 1 when any failed, 2 when
 * there is no built suite to run (RUNTIME_TOOLS_DIR unset or incomplete), 128 for a usage error. Needs root.
 */
import { parseArgs } from "node:util";

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** How one program ended under one runtime. */
export type Verdict = "pass" | "fail" | "skip";

/** What a program printed, reduced to what the table needs. */
export interface Outcome {
  verdict: Verdict;
  /** Results counted: passed, failed (`not ok` without TODO), skipped. */
  ok: number;
  notOk: number;
  skipped: number;
  /** The first failure's description, or why the program itself failed. */
  reason: string;
}

const SKIP = /#\s*skip\b/i;
const TODO = /#\s*todo\b/i;

/**
 * Judges a validation program from its TAP output and exit code. It fails when it exits non-zero, when a
 * result is `not ok` (TODO results aside), when it planned tests it did not report, or when it reported no
 * result but a diagnostic with an `"error"`: the lifecycle programs (hooks, poststop, …) report only their
 * failures, that way, and print a bare `1..0` when all went well; the `*_fail` programs print nothing and
 * exit 0 when the runtime refused the bad config as it should. It is skipped when every result it
 * reported is a SKIP.
 */
export function judge(stdout: string, stderr: string, code: number | string): Outcome {
  const out: Outcome = { verdict: "pass", ok: 0, notOk: 0, skipped: 0, reason: "" };
  let plan: number | null = null;
  let firstError = "";
  let inYaml = false;
  for (const line of stdout.split("\n")) {
    if (/^\s+---\s*$/.test(line)) inYaml = true;
    else if (/^\s+\.\.\.\s*$/.test(line)) inYaml = false;
    else if (inYaml) {
      const e = /^\s+"error":\s*"(.*)",?\s*$/.exec(line);
      if (e && !firstError) firstError = e[1].replace(/\\n.*/, "");
    } else if (/^not ok\b/.test(line)) {
      if (TODO.test(line)) continue;
      out.notOk++;
      if (!out.reason) out.reason = line.replace(/^not ok \d+\s*-?\s*/, "");
    } else if (/^ok\b/.test(line)) {
      if (SKIP.test(line)) out.skipped++;
      else out.ok++;
    } else {
      const p = /^1\.\.(\d+)/.exec(line);
      if (p) plan = Number(p[1]);
    }
  }
  const reported = out.ok + out.notOk + out.skipped;
  const lastStderr = stderr.trim().split("\n").filter((l) => l.trim()).slice(-2).join(" / ");
  if (typeof code === "string") {
    out.verdict = "fail";
    out.reason = code;
  } else if (code !== 0) {
    out.verdict = "fail";
    out.reason ||= `exit ${code}${lastStderr ? `: ${lastStderr}` : ""}`;
  } else if (out.notOk > 0) {
    out.verdict = "fail";
  } else if (plan === null && stdout.trim() !== "") {
    out.verdict = "fail";
    out.reason = "no TAP plan";
  } else if (plan !== null && reported < plan) {
    out.verdict = "fail";
    out.reason = `planned ${plan} results, reported ${reported}`;
  } else if (reported === 0 && firstError) {
    out.verdict = "fail";
    out.reason = firstError;
  } else if (reported > 0 && out.ok === 0) {
    out.verdict = "skip";
  }
  return out;
}

/** One table cell: `pass 309/309`, `FAIL 1/3`, `skip`; `pass` alone for a program that reports only failures. */
export function cell(o: Outcome): string {
  const total = o.ok + o.notOk;
  if (o.verdict === "skip") return "skip";
  if (o.verdict === "pass") return total > 0 ? `pass ${o.ok}/${total}` : "pass";
  return total > 0 ? `FAIL ${o.ok}/${total}` : "FAIL";
}

/** The path of the runtime called `name`: runts is this checkout's bin/runts; others are looked up on PATH. */
export function resolveRuntime(name: string): string {
  if (name === "runts") return `${repo}/bin/runts`;
  if (name.includes("/")) return name;
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin"]);
  for (const dir of dirs) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  throw new Error(`runtime ${name} not found on PATH`);
}

/** Why `dir` is not a built runtime-tools checkout, or null when it is. */
export function missingPieces(dir: string): string | null {
  const arch = Deno.build.arch === "x86_64" ? "amd64" : Deno.build.arch === "aarch64" ? "arm64" : "386";
  for (const f of ["runtimetest", `rootfs-${arch}.tar.gz`, "validation"]) {
    try {
      Deno.statSync(`${dir}/${f}`);
    } catch {
      return `${dir}/${f} is missing`;
    }
  }
  if (listPrograms(dir).length === 0) return `${dir}/validation has no built programs (*.t)`;
  return null;
}

/** The built programs, by name: validation/<name>/<name>.t. */
export function listPrograms(dir: string): string[] {
  const names: string[] = [];
  for (const e of Deno.readDirSync(`${dir}/validation`)) {
    if (!e.isDirectory) continue;
    try {
      if (Deno.statSync(`${dir}/validation/${e.name}/${e.name}.t`).isFile) names.push(e.name);
    } catch {
      // not built, or a helper package (util)
    }
  }
  return names.sort();
}

async function runProgram(
  dir: string,
  name: string,
  runtime: string,
  timeoutSec: number,
  outDir: string,
): Promise<Outcome> {
  const child = new Deno.Command(`${dir}/validation/${name}/${name}.t`, {
    cwd: dir,
    env: { RUNTIME: runtime },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutSec * 1000);
  const r = await child.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(r.stdout);
  const stderr = new TextDecoder().decode(r.stderr);
  Deno.writeTextFileSync(`${outDir}/${name}.out`, stdout);
  Deno.writeTextFileSync(`${outDir}/${name}.err`, stderr);
  return judge(stdout, stderr, timedOut ? `timed out after ${timeoutSec} s` : r.code);
}

function pad(s: string, n: number): string {
  return s + " ".repeat(Math.max(0, n - s.length));
}

const NO_SUITE = `conformance: skipped: no built runtime-tools suite is named.
Set RUNTIME_TOOLS_DIR to a checkout of github.com/opencontainers/runtime-tools in which its validation
programs and a static runtimetest were built, as that project documents (commit 260e151 builds with Go 1.19).
Nothing of the suite is kept in this repository.`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        runtime: { type: "string", multiple: true },
        timeout: { type: "string", default: "300" },
        out: { type: "string" },
      },
    });
  } catch (e) {
    console.error(`conformance: ${(e as Error).message}`);
    return 128;
  }
  const dir = Deno.env.get("RUNTIME_TOOLS_DIR");
  if (!dir) {
    console.error(NO_SUITE);
    return 2;
  }
  const missing = missingPieces(dir);
  if (missing) {
    console.error(`conformance: skipped: RUNTIME_TOOLS_DIR=${dir} is not a built suite: ${missing}.\n`);
    console.error(NO_SUITE.split("\n").slice(1).join("\n"));
    return 2;
  }
  if (Deno.uid() !== 0) {
    console.error("conformance: the validation programs create containers: run as root");
    return 128;
  }
  const timeout = Number(args.values.timeout);
  if (!(timeout > 0)) {
    console.error(`conformance: --timeout ${args.values.timeout} is not a positive number`);
    return 128;
  }
  const names = args.values.runtime?.length ? args.values.runtime : ["runts"];
  let runtimes: Array<{ name: string; path: string }>;
  try {
    runtimes = names.map((n) => ({
      name: n.includes("/") ? n.split("/").pop()! : n,
      path: resolveRuntime(n),
    }));
  } catch (e) {
    console.error(`conformance: ${(e as Error).message}`);
    return 128;
  }
  const all = listPrograms(dir);
  const unknown = args.positionals.filter((p) => !all.includes(p));
  if (unknown.length) {
    console.error(`conformance: no built program named ${unknown.join(", ")} in ${dir}/validation`);
    return 128;
  }
  const programs = args.positionals.length ? args.positionals : all;
  const outRoot = args.values.out ?? Deno.makeTempDirSync({ prefix: "runts-conformance-" });
  const results = new Map<string, Outcome[]>();
  for (const [i, rt] of runtimes.entries()) {
    const outDir = `${outRoot}/${rt.name}`;
    Deno.mkdirSync(outDir, { recursive: true });
    for (const p of programs) {
      const o = await runProgram(dir, p, rt.path, timeout, outDir);
      console.error(`${rt.name} ${p}: ${cell(o)}${o.reason ? ` (${o.reason})` : ""}`);
      const row = results.get(p) ?? [];
      row[i] = o;
      results.set(p, row);
    }
  }
  const w0 = Math.max(7, ...programs.map((p) => p.length));
  const ws = runtimes.map((rt, i) =>
    Math.max(rt.name.length, ...programs.map((p) => cell(results.get(p)![i]).length))
  );
  const line = (cols: string[]) =>
    "| " + cols.map((c, i) => pad(c, i === 0 ? w0 : ws[i - 1])).join(" | ") + " |";
  console.log(line(["program", ...runtimes.map((r) => r.name)]));
  console.log(line(["-".repeat(w0), ...ws.map((w) => "-".repeat(w))]));
  for (const p of programs) console.log(line([p, ...results.get(p)!.map(cell)]));
  let failed = false;
  for (const [i, rt] of runtimes.entries()) {
    const counts = { pass: 0, fail: 0, skip: 0 };
    for (const p of programs) counts[results.get(p)![i].verdict]++;
    if (counts.fail) failed = true;
    console.log(`${rt.name}: ${counts.pass} passed, ${counts.fail} failed, ${counts.skip} skipped`);
  }
  console.log("\nfailures:");
  for (const p of programs) {
    results.get(p)!.forEach((o, i) => {
      if (o.verdict === "fail") console.log(`  ${p} (${runtimes[i].name}): ${o.reason}`);
    });
  }
  console.log(`\noutputs: ${outRoot}/<runtime>/<program>.out|.err`);
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
