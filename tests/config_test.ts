/** The global flags: defaults, validation, and the round trip through toFlags(). */
import assert from "node:assert/strict";
import { Config, ConfigError, registerFlags } from "../src/config/config.ts";
import { FlagError, FlagSet } from "../src/flag/flag.ts";

function parse(args: string[]): { conf: Config; f: FlagSet } {
  const f = new FlagSet("runts");
  const build = registerFlags(f);
  f.parse(args);
  return { conf: build(), f };
}

Deno.test("config: defaults", () => {
  const { conf, f } = parse(["state", "x"]);
  assert.equal(conf.root, "/run/runts");
  assert.equal(conf.log, "");
  assert.equal(conf.logFormat, "text");
  assert.equal(conf.debug, false);
  assert.equal(conf.debugLog, "");
  assert.equal(conf.platform, "native");
  assert.equal(conf.rootless, false);
  assert.equal(conf.network, "sandbox");
  assert.equal(conf.traceback, "system");
  assert.equal(conf.systemdCgroup, false);
  assert.deepEqual(f.args(), ["state", "x"]);
  assert.deepEqual(conf.toFlags(), []);
  assert.deepEqual(new Config().toFlags(), []);
});

Deno.test("config: every global flag", () => {
  const { conf } = parse([
    "--root=/tmp/r",
    "--log",
    "/tmp/l.json",
    "--log-format=json",
    "--debug",
    "--debug-log=/tmp/d/",
    "--platform=native",
    "--rootless",
    "--network=none",
    "--traceback=all",
    "--systemd-cgroup",
    "run",
  ]);
  assert.equal(conf.root, "/tmp/r");
  assert.equal(conf.log, "/tmp/l.json");
  assert.equal(conf.logFormat, "json");
  assert.equal(conf.debug, true);
  assert.equal(conf.debugLog, "/tmp/d/");
  assert.equal(conf.rootless, true);
  assert.equal(conf.network, "none");
  assert.equal(conf.traceback, "all");
  assert.equal(conf.systemdCgroup, true);
});

Deno.test("config: toFlags lists only non-default values, in field order, and round-trips", () => {
  const { conf } = parse([
    "--network=host",
    "--debug",
    "--root",
    "/tmp/rr",
    "--systemd-cgroup",
    "--log-format=json",
    "--platform=native",
  ]);
  const flags = conf.toFlags();
  assert.deepEqual(flags, [
    "--root=/tmp/rr",
    "--log-format=json",
    "--debug=true",
    "--network=host",
    "--systemd-cgroup=true",
  ]);
  assert.deepEqual(parse(flags).conf, conf);
});

Deno.test("config: bad values name the flag", () => {
  assert.throws(() => parse(["--log-format=xml"]), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /--log-format/);
    assert.match(e.message, /"xml"/);
    return true;
  });
  assert.throws(() => parse(["--network", "bridge"]), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /--network/);
    assert.match(e.message, /"bridge"/);
    return true;
  });
  // A bad bool is a flag error (Go's flag package rejects it while parsing).
  assert.throws(() => parse(["--debug=maybe"]), FlagError);
});

Deno.test("config: runc's --criu is accepted and ignored", () => {
  const { conf, f } = parse(["--criu", "/usr/sbin/criu", "state", "id"]);
  assert.equal(f.isSet("criu"), true);
  assert.deepEqual(conf.toFlags(), []);
  assert.deepEqual(f.args(), ["state", "id"]);
});
