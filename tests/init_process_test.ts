/**
 * The process side of init, unit by unit: HOME from the container's /etc/passwd (runc's rule), finding
 * args[0] with Go's exec.LookPath errors, and what an execve failure reports and exits with.
 */
import assert from "node:assert/strict";
import { Errno, linux, O, RESOLVE, S_IF, SyscallError } from "../ffi/mod.ts";
import { fakeKernel } from "../ffi/fake.ts";
import { execFailure, lookPath, passwdHome, withHome } from "../src/init/process.ts";

/** A fake kernel whose /etc/passwd (opened inside the root) is `text`, or fails with `errno`. */
function passwdKernel(text: string | null, mode: number = S_IF.REG | 0o644, errno: number = Errno.ENOENT) {
  const bytes = new TextEncoder().encode(text ?? "");
  let at = 0;
  return fakeKernel({
    open: 3,
    openat2: () => {
      if (text === null) throw new SyscallError("openat2", "(dirfd 3) etc/passwd", errno);
      return 4;
    },
    fstatMode: mode,
    read: (_fd: unknown, buf: unknown) => {
      const n = Math.min((buf as Uint8Array).length, bytes.length - at);
      (buf as Uint8Array).set(bytes.subarray(at, at + n));
      at += n;
      return n;
    },
  });
}

const PASSWD = [
  "# a comment line is no entry (runc's parser would take it for uid 0)",
  "root:x:0:0:root:/root:/bin/sh",
  "  u1:x:1234:1234::/home/u1:/bin/sh  ",
  "u2:x:1234:1234::/second:/bin/sh",
  "empty:x:2000:2000:::/bin/sh",
  "short:x:3000",
  "",
].join("\n");

Deno.test("passwdHome: the first entry of the uid, read inside the root without following links out", () => {
  const cases: Array<[number, string | null]> = [[0, "/root"], [1234, "/home/u1"], [2000, ""], [3000, ""], [
    4321,
    null,
  ]];
  for (const [uid, want] of cases) {
    const fake = passwdKernel(PASSWD);
    assert.equal(passwdHome(fake.kernel, uid), want, `uid ${uid}`);
    const open = fake.calls.find((c) => c.name === "openat2")!;
    assert.equal(open.args[1], "etc/passwd");
    assert.ok((open.args[2] as number) & O.NONBLOCK, "a FIFO cannot block init");
    assert.equal(open.args[4], RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
    assert.deepEqual(fake.names().filter((n) => n === "close").length, 2, "both fds closed");
  }
  assert.equal(passwdHome(passwdKernel(null).kernel, 0), null, "no /etc/passwd");
  assert.equal(passwdHome(passwdKernel(null, 0, Errno.ELOOP).kernel, 0), null, "a link out of the root");
  assert.equal(passwdHome(passwdKernel(PASSWD, S_IF.FIFO | 0o644).kernel, 0), null, "not a regular file");
});

Deno.test("withHome: HOME from passwd when the env has none or an empty one, else / (runc's rule)", () => {
  const fake = passwdKernel(PASSWD);
  assert.deepEqual(withHome(fake.kernel, ["PATH=/bin", "HOME=/x"], 0), ["PATH=/bin", "HOME=/x"]);
  assert.equal(fake.calls.length, 0, "a HOME of its own: passwd is not read");
  assert.deepEqual(withHome(passwdKernel(PASSWD).kernel, ["PATH=/bin"], 0), ["PATH=/bin", "HOME=/root"]);
  assert.deepEqual(
    withHome(passwdKernel(PASSWD).kernel, ["HOME=", "PATH=/bin", "HOME="], 1234),
    ["HOME=/home/u1", "PATH=/bin"],
    "an empty HOME is replaced in place",
  );
  assert.deepEqual(withHome(passwdKernel(PASSWD).kernel, [], 4321), ["HOME=/"], "no entry");
  assert.deepEqual(withHome(passwdKernel(null).kernel, [], 0), ["HOME=/"], "no passwd file");
  assert.deepEqual(withHome(passwdKernel(PASSWD).kernel, [], 2000), ["HOME="], "an entry with no home");
});

Deno.test("lookPath: Go's exec.LookPath errors, so engines tell not-found (127) from not-executable (126)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "runts-lookpath-" });
  try {
    Deno.writeTextFileSync(`${dir}/data`, "not a program\n");
    Deno.writeTextFileSync(`${dir}/prog`, "#!/bin/sh\n");
    Deno.chmodSync(`${dir}/prog`, 0o755);
    Deno.mkdirSync(`${dir}/sub`);
    Deno.chmodSync(`${dir}/sub`, 0o755);
    const env = [`PATH=/nonexistent:${dir}/sub:${dir}`];
    assert.equal(lookPath(linux, `${dir}/prog`, env, "/"), `${dir}/prog`);
    assert.equal(lookPath(linux, "./prog", env, dir), `${dir}/./prog`);
    assert.equal(lookPath(linux, "prog", env, "/"), `${dir}/prog`);
    const fails: Array<[string, string]> = [
      [`${dir}/data`, `exec: "${dir}/data": permission denied`],
      [`${dir}/sub`, `exec: "${dir}/sub": permission denied`],
      ["./data", `exec: "./data": permission denied`],
      [`${dir}/none`, `exec: "${dir}/none": stat ${dir}/none: no such file or directory`],
      ["./none", `exec: "./none": stat ./none: no such file or directory`],
      [`${dir}/data/x`, `exec: "${dir}/data/x": stat ${dir}/data/x: not a directory`],
      ["data", `exec: "data": executable file not found in $PATH`],
      ["sub", `exec: "sub": executable file not found in $PATH`],
    ];
    for (const [file, message] of fails) {
      assert.throws(() => lookPath(linux, file, env, dir), { message }, file);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("execFailure: runc's text for execve errors, 127 for a missing file, 126 for one that cannot run", () => {
  const err = (errno: number) => new SyscallError("execve", "/app", errno);
  assert.deepEqual(execFailure("/app", err(Errno.ENOENT)), {
    message: "exec /app: no such file or directory",
    code: 127,
  });
  assert.deepEqual(execFailure("/app", err(Errno.EACCES)), {
    message: "exec /app: permission denied",
    code: 126,
  });
  assert.deepEqual(execFailure("/app", err(8)), { message: "exec /app: exec format error", code: 126 });
  const other = new SyscallError("seccomp", "SET_MODE_FILTER", Errno.EINVAL);
  assert.deepEqual(execFailure("/app", other), { message: other.message, code: 127 }, "not execve's");
});
