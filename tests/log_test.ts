/** The logger: levels per --debug, --log formats, --debug-log file naming, and fatal records. */
import assert from "node:assert/strict";
import { Config } from "../src/config/config.ts";
import { configureLogging, debugLogPath, log, recordFatal, rfc3339Nano } from "../src/log/log.ts";

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

function withDir(fn: (dir: string) => void) {
  const dir = Deno.makeTempDirSync({ prefix: "runts-log-test-" });
  try {
    fn(dir);
  } finally {
    configureLogging(new Config(), "test");
    Deno.removeSync(dir, { recursive: true });
  }
}

function lines(path: string): string[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "");
}

Deno.test("log: --log json gets warnings and errors only, without --debug", () => {
  withDir((dir) => {
    const conf = new Config();
    conf.log = `${dir}/log.json`;
    conf.logFormat = "json";
    configureLogging(conf, "state");
    log.debug("d");
    log.info("i");
    log.warning("w");
    log.error('e "quoted"');
    const got = lines(conf.log).map((l) => JSON.parse(l));
    assert.deepEqual(got.map((r) => [r.level, r.msg]), [["warning", "w"], ["error", 'e "quoted"']]);
    for (const r of got) {
      assert.deepEqual(Object.keys(r), ["level", "msg", "time"]);
      assert.match(r.time, RFC3339_NANO);
    }
    assert.ok(Deno.readTextFileSync(conf.log).endsWith("}\n"));
    assert.equal(Deno.statSync(conf.log).mode! & 0o777, 0o644);
  });
});

Deno.test("log: --debug adds debug lines; text format; appends", () => {
  withDir((dir) => {
    const path = `${dir}/log.txt`;
    Deno.writeTextFileSync(path, "existing\n");
    const conf = new Config();
    conf.log = path;
    conf.debug = true;
    configureLogging(conf, "create");
    log.debug("hello world");
    const got = lines(path);
    assert.equal(got[0], "existing");
    assert.match(got[1], /^time="[^"]+" level=debug msg="hello world"$/);
  });
});

Deno.test("log: --debug-log directory gets a per-command file", () => {
  withDir((dir) => {
    const conf = new Config();
    conf.debugLog = `${dir}/sub/dir/`;
    configureLogging(conf, "boot");
    log.info("started");
    log.debug("not without --debug");
    const files = [...Deno.readDirSync(`${dir}/sub/dir`)].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.match(files[0], /^runts\.log\.\d{8}-\d{6}\.\d{6}\.boot$/);
    const got = lines(`${dir}/sub/dir/${files[0]}`);
    assert.equal(got.length, 1);
    assert.match(got[0], /^I\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+\] started$/);
  });
});

Deno.test("log: debugLogPath substitutes the pattern", () => {
  assert.equal(debugLogPath("/x/%COMMAND%.log", "gofer"), "/x/gofer.log");
  assert.match(debugLogPath("/x/%TIMESTAMP%", "a"), /^\/x\/\d{8}-\d{6}\.\d{6}$/);
  assert.equal(debugLogPath("/x/plain.log", "a"), "/x/plain.log");
});

Deno.test("log: recordFatal writes a JSON error line even in text mode", () => {
  withDir((dir) => {
    const conf = new Config();
    conf.log = `${dir}/log`;
    conf.debugLog = `${dir}/debug.log`;
    configureLogging(conf, "start");
    recordFatal("container not found");
    const rec = JSON.parse(lines(conf.log)[0]);
    assert.equal(rec.level, "error");
    assert.equal(rec.msg, "container not found");
    assert.match(lines(conf.debugLog)[0], /^W.*\] FATAL ERROR: container not found$/);
  });
});

Deno.test("log: RFC3339Nano trims trailing zeros", () => {
  const d = new Date(Date.UTC(2026, 10, 29, 3, 41, 38));
  assert.equal(rfc3339Nano(d, 609460), "2026-11-29T03:41:38.60946Z");
  assert.equal(rfc3339Nano(d, 0), "2026-11-29T03:41:38Z");
  assert.equal(rfc3339Nano(d, 5), "2026-11-29T03:41:38.000005Z");
});

Deno.test("log: unconfigured logging writes nothing and does not throw", () => {
  configureLogging(new Config(), "x");
  log.error("nowhere");
});
