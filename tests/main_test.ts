/**
 * main.ts through bin/runts, run the way engines run it: from another directory (/) with a minimal
 * environment. Also the exit-code mapping and the compile task's failure message.
 */
import assert from "node:assert/strict";
import { exitCodeFromWaitStatus } from "../src/cmd/cmd.ts";
import { denortFailure } from "../scripts/compile.ts";

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const RUNTS = `${repo}/bin/runts`;
const decoder = new TextDecoder();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function runts(args: string[], env: Record<string, string> = {}): Result {
  const r = new Deno.Command(RUNTS, {
    args,
    cwd: "/",
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  return { code: r.code, stdout: decoder.decode(r.stdout), stderr: decoder.decode(r.stderr) };
}

Deno.test("main: --version", () => {
  const r = runts(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^runts version \S+\nspec: 1\.2\.0\n$/);
});

Deno.test("main: works through a symlink and with an empty environment", () => {
  const dir = Deno.makeTempDirSync({ prefix: "runts-link-" });
  try {
    Deno.symlinkSync(RUNTS, `${dir}/runc-alias`);
    const r = new Deno.Command(`${dir}/runc-alias`, {
      args: ["--version"],
      cwd: "/",
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    assert.equal(r.code, 0, decoder.decode(r.stderr));
    assert.match(decoder.decode(r.stdout), /^runts version/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("main: help lists commands by group", () => {
  const r = runts(["help"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: runts <flags> <subcommand> <subcommand args>\n/);
  assert.match(r.stdout, /\nSubcommands:\n(\t.*\n)*\thelp {11} {2}Print help\.\n/);
  assert.match(r.stdout, /\nSubcommands for internal use only:\n(\t.*\n)*\tboot +launch a sandbox process/);
  assert.match(r.stdout, /\tinit +set up the container and exec its process \(internal use only\)\n/);
});

Deno.test("main: help <cmd> prints its usage; help <unknown> fails", () => {
  const r = runts(["help", "help"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^help \[<subcommand>\]:/);
  const bad = runts(["help", "no-such-command"]);
  assert.equal(bad.code, 128);
  assert.match(bad.stdout, /Subcommand no-such-command not understood/);
});

Deno.test("main: flags lists the global flags with defaults", () => {
  const r = runts(["flags"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(
    r.stdout.includes(
      '  -root string\n    \troot directory for storage of container state. (default "/run/runts")\n',
    ),
    r.stdout,
  );
  assert.ok(
    r.stdout.includes(
      '  -network string\n    \tspecifies which network to use: none, sandbox, host. (default "sandbox")\n',
    ),
  );
  assert.ok(r.stdout.includes("  -version\n    \tshow version and exit.\n"));
});

Deno.test("main: no subcommand and unknown subcommands exit 128 with the list on stderr", () => {
  for (const args of [[], ["no-such-command"], ["--debug"]]) {
    const r = runts(args);
    assert.equal(r.code, 128, `${args}`);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^Usage: runts /);
  }
});

Deno.test("main: a bad global flag exits 2; -h exits 0", () => {
  const r = runts(["--no-such-flag", "help"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^flag provided but not defined: -no-such-flag\nUsage: runts /);
  const bad = runts(["--debug=maybe", "help"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^invalid boolean value "maybe" for -debug: parse error\n/);
  const h = runts(["-h"]);
  assert.equal(h.code, 0);
  assert.match(h.stderr, /^Usage: runts /);
});

Deno.test("main: a subcommand flag error, or -h, exits 128 with the usage", () => {
  const r = runts(["help", "--bogus"]);
  assert.equal(r.code, 128);
  assert.match(r.stderr, /^flag provided but not defined: -bogus\nhelp \[<subcommand>\]:/);
  const h = runts(["help", "-h"]);
  assert.equal(h.code, 128);
  assert.match(h.stderr, /^help \[<subcommand>\]:/);
});

Deno.test("main: a bad config value is fatal: stderr, a JSON line in --log, exit 128", () => {
  const dir = Deno.makeTempDirSync({ prefix: "runts-main-" });
  try {
    const logFile = `${dir}/log.json`;
    Deno.writeTextFileSync(logFile, '{"level":"info","msg":"earlier","time":"x"}\n');
    const r = runts([`--log=${logFile}`, "--log-format=json", "--network=bridge", "state", "x"]);
    assert.equal(r.code, 128);
    assert.match(r.stderr, /^invalid value "bridge" for flag --network: .*\n$/);
    const records = Deno.readTextFileSync(logFile).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(records.length, 2, "appended");
    assert.equal(records[1].level, "error");
    assert.match(records[1].msg, /--network/);
    assert.match(records[1].time, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("main: --debug-log=<dir>/ creates a per-command log", () => {
  const dir = Deno.makeTempDirSync({ prefix: "runts-main-" });
  try {
    const r = runts([`--debug-log=${dir}/logs/`, "--debug", "--criu=/x", "help"]);
    assert.equal(r.code, 0, r.stderr);
    const files = [...Deno.readDirSync(`${dir}/logs`)].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.match(files[0], /^runts\.log\.\d{8}-\d{6}\.\d{6}\.help$/);
    const text = Deno.readTextFileSync(`${dir}/logs/${files[0]}`);
    assert.match(text, /--criu is ignored/);
    assert.match(text, /runts version .*args \[/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: "main: boot without arguments prints its usage and exits 128",
  fn() {
    const r = runts(["boot"]);
    assert.equal(r.code, 128);
    assert.match(r.stderr, /boot \[flags\] <container id>/);
  },
});

Deno.test("main: wait status to exit code", () => {
  assert.equal(exitCodeFromWaitStatus(0), 0);
  assert.equal(exitCodeFromWaitStatus(3 << 8), 3);
  assert.equal(exitCodeFromWaitStatus(255 << 8), 255);
  assert.equal(exitCodeFromWaitStatus(9), 137, "SIGKILL");
  assert.equal(exitCodeFromWaitStatus(10 | 0x80), 138, "SIGUSR1 with a core dump");
  assert.equal(exitCodeFromWaitStatus(0x8a00), 138, "a 128+signal exit code passes through");
});

Deno.test("compile: a missing denort gives one line naming it", () => {
  const r = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${repo}/scripts/compile.ts`],
    cwd: repo,
    env: { DENORT_BIN: "/nonexistent/denort-for-test", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const stderr = decoder.decode(r.stderr);
  assert.equal(r.code, 1);
  assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  assert.match(
    stderr,
    /^compile: cannot get the denort base binary \(.*\/nonexistent\/denort-for-test.*\); set DENORT_BIN/,
  );
});

Deno.test("compile: denortFailure reads deno's error chain", () => {
  const download =
    "\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file 'x'\n\nCaused by:\n" +
    "    0: Setting up base binary.\n    1: error sending request for url (https://dl.deno.land/x.zip)\n" +
    "    2: dns error\n";
  assert.equal(
    denortFailure(download),
    "compile: cannot get the denort base binary (error sending request for url (https://dl.deno.land/x.zip)); " +
      "set DENORT_BIN to a local denort binary of the same deno version",
  );
  assert.equal(denortFailure("error: Module not found"), null);
});
