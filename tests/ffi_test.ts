/**
 * The libc wrappers against the real kernel: failures become SyscallErrors naming the call, its
 * argument and the errno; a few round trips work; execve replaces the process with clean signals.
 */
import assert from "node:assert/strict";
import { Errno, isErrno, linux, MS, O, SyscallError } from "../ffi/mod.ts";

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const decoder = new TextDecoder();

function assertSyscallError(fn: () => unknown, call: string, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SyscallError, `not a SyscallError: ${e}`);
    assert.equal(e.call, call);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("ffi: mount on a missing directory is ENOENT naming the path", () => {
  const target = `/tmp/runts-ffi-test-missing-${Deno.pid}/dir`;
  assertSyscallError(
    () => linux.mount("tmpfs", target, "tmpfs", MS.NOSUID, "size=1m"),
    "mount",
    "ENOENT",
    new RegExp(`^mount tmpfs on ${target} \\(MS_NOSUID, size=1m\\): ENOENT$`),
  );
  try {
    linux.mount("", target, "", MS.BIND);
    assert.fail("bind mount of a missing source succeeded");
  } catch (e) {
    assert.ok(isErrno(e, Errno.ENOENT), `${e}`);
  }
});

Deno.test("ffi: open, close and read errors carry the errno", () => {
  assertSyscallError(
    () => linux.open("/nonexistent-runts/file", O.RDONLY | O.CLOEXEC),
    "openat",
    "ENOENT",
    /\/nonexistent-runts\/file: ENOENT$/,
  );
  assertSyscallError(() => linux.close(987654), "close", "EBADF", /EBADF/);
  assertSyscallError(() => linux.read(987654, new Uint8Array(1)), "read", "EBADF", /EBADF/);
  assert.equal(isErrno(new Error("x"), Errno.EBADF), false);
});

Deno.test("ffi: pipe2, write, read and getpid round-trip", () => {
  const [r, w] = linux.pipe2(O.CLOEXEC);
  try {
    assert.equal(linux.write(w, new TextEncoder().encode("ping")), 4);
    const buf = new Uint8Array(16);
    const n = linux.read(r, buf);
    assert.equal(decoder.decode(buf.subarray(0, n)), "ping");
  } finally {
    linux.close(r);
    linux.close(w);
  }
  assert.equal(linux.getpid(), Deno.pid);
});

Deno.test("ffi: execve replaces the process, with signal dispositions reset", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "runts-ffi-exec-" });
  try {
    const script = `${dir}/exec.ts`;
    Deno.writeTextFileSync(
      script,
      `import { linux } from ${JSON.stringify(`${repo}/ffi/mod.ts`)};\n` +
        `linux.execve("/bin/sh", ["sh", "-c", "echo exec-ok pid=$$; grep -E '^SigIgn' /proc/self/status"], ` +
        `["PATH=/usr/bin:/bin"]);\n`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", "--quiet", "--no-config", script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pid = child.pid;
    const out = await child.output();
    const stdout = decoder.decode(out.stdout);
    assert.equal(out.code, 0, decoder.decode(out.stderr));
    assert.match(stdout, new RegExp(`^exec-ok pid=${pid}\\n`), "same pid after exec");
    assert.match(stdout, /^SigIgn:\s+0000000000000000$/m, "no ignored signals survive the exec");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
