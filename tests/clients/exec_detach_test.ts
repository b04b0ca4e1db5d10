/**
 * The process contract engines build exec on (podman's conmon, the containerd shim): `exec --detach`
 * writes the exec'd process's host pid, and that process ends up with the caller's subreaper, which reaps
 * it and reads its exit code. Non-detached exec goes through boot (ExecuteAsync + WaitPID).
 */
import assert from "node:assert/strict";
import { Fixture, ok, runts } from "../cli/helpers.ts";

const HELPER = new URL("./exec_subreaper.ts", import.meta.url).pathname;

Deno.test("exec --detach: the caller's subreaper reaps the exec'd process and gets its exit code", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "--detach", "--bundle", fx.bundle(["sleep", "60"]), "x1"]);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", HELPER, fx.root, "x1", "sh", "-c", "sleep 0.2; exit 9"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const report = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(report.execCode, 0, stderr);
    assert.match(report.pidFile, /^[1-9][0-9]*$/, "decimal, no trailing newline");
    assert.equal(report.exitCode, 9, JSON.stringify(report));

    // Non-detached: boot spawns and reaps it, and exec's own exit code is the process's.
    const r = await runts(fx.root, ["exec", "x1", "sh", "-c", "exit 5"]);
    assert.equal(r.code, 5, r.stderr);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("exec -t: the terminal is made inside the container and has a name there", async () => {
  const fx = new Fixture();
  try {
    await ok(fx.root, ["run", "--detach", "--bundle", fx.bundle(["sleep", "60"]), "x2"]);
    const r = await runts(fx.root, ["exec", "-t", "x2", "sh", "-c", "tty; exit 3"], { tty: "pty" });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n$/);
  } finally {
    await fx.cleanup();
  }
});
