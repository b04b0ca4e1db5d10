/**
 * SyscallError texts name constants, not numbers: each call that takes an option, flags, a signal, a
 * resource or a policy is made to fail against the real kernel (bad fds, bad values: EBADF, EINVAL, ESRCH,
 * nothing that changes the test process), and no message may show a bare number in those places.
 */
import assert from "node:assert/strict";
import {
  CLONE,
  CLOSE_RANGE_CLOEXEC,
  EPOLL,
  F,
  linux,
  LOCK,
  MNT_DETACH,
  MOUNT_ATTR,
  MS,
  O,
  PR,
  RLIMIT,
  SIGNALS,
  SOCK,
  SyscallError,
  TIOC,
} from "../ffi/mod.ts";
import { CLONE_FLAGS, flagsOf, MOUNT_FLAGS, nameOf, prctlArgs, signalName } from "../ffi/names.ts";
import { capNumber } from "../src/specutils/capabilities.ts";

/** An fd number nothing has open. */
const BAD_FD = 987654;
/** A pid above any pid_max: no such process. */
const NO_PID = 0x7fffffff;

/** The message of the SyscallError `fn` throws. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SyscallError, `not a SyscallError: ${e}`);
    return e.message;
  }
  assert.fail(`${fn} succeeded`);
}

/** A label followed by a plain number: what an error text must not contain where a name belongs. */
const BARE_NUMBER =
  /\b(option|flags?|signal|sig|resource|cmd|op|operation|request|type|nstype|domain|policy|class|how|attr|persona|errno)[ =:]+-?\d+\b/i;

Deno.test("ffi names: failed calls name their options, flags, signals, resources and policies", () => {
  const [r, w] = linux.pipe2(O.CLOEXEC);
  const ep = linux.epollCreate();
  const dir = Deno.makeTempDirSync({ prefix: "runts-ffi-names-" });
  const messages: string[] = [];
  const expect = (fn: () => unknown, exact: string | RegExp) => {
    const m = failure(fn);
    messages.push(m);
    if (typeof exact === "string") assert.equal(m, exact);
    else assert.match(m, exact);
  };
  try {
    // prctl
    const audit = capNumber("CAP_AUDIT_WRITE");
    if (!(linux.capget().inheritable & (1n << BigInt(audit)))) {
      expect(
        () => linux.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, audit, 0, 0),
        "prctl(PR_CAP_AMBIENT_RAISE, CAP_AUDIT_WRITE): EPERM",
      );
    }
    expect(
      () => linux.prctl(PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, 63, 0, 0),
      /^prctl\(PR_CAP_AMBIENT_RAISE, 0x3f\)/,
    );
    expect(() => linux.prctl(PR.CAPBSET_READ, 63), "prctl(PR_CAPBSET_READ, 0x3f): EINVAL");
    expect(() => linux.prctl(PR.SET_PDEATHSIG, 99), "prctl(PR_SET_PDEATHSIG, 0x63): EINVAL");
    expect(() => linux.prctl(999, 1), "prctl(0x3e7, 1): EINVAL");
    // fcntl, flock, ioctl
    expect(() => linux.fcntl(BAD_FD, F.SETFD, F.FD_CLOEXEC), `fcntl(${BAD_FD}, F_SETFD, FD_CLOEXEC): EBADF`);
    expect(
      () => linux.fcntl(BAD_FD, F.SETFL, O.RDWR | O.NONBLOCK),
      `fcntl(${BAD_FD}, F_SETFL, O_RDWR|O_NONBLOCK): EBADF`,
    );
    expect(() => linux.fcntl(r, 999), `fcntl(${r}, 0x3e7, 0): EINVAL`);
    expect(() => linux.flock(BAD_FD, LOCK.EX | LOCK.NB), `flock(${BAD_FD}, LOCK_EX|LOCK_NB): EBADF`);
    expect(() => linux.ioctl(BAD_FD, TIOC.SWINSZ, new Uint8Array(8)), `ioctl(${BAD_FD}, TIOCSWINSZ): EBADF`);
    expect(
      () => linux.ioctl(r, TIOC.GPTPEER, BigInt(O.RDWR | O.NOCTTY | O.CLOEXEC)),
      `ioctl(${r}, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC): ENOTTY`,
    );
    expect(() => linux.ioctl(r, 0x1234, 0n), `ioctl(${r}, 0x1234): ENOTTY`);
    expect(() => linux.linkUp("runts-no-if"), /^ioctl\(\d+, SIOCGIFFLAGS, runts-no-if\): ENODEV$/);
    // sockets and epoll
    expect(() => linux.socket(999, SOCK.STREAM, 0), "socket(0x3e7, SOCK_STREAM, 0): EAFNOSUPPORT");
    expect(
      () => linux.socket(SOCK.AF_UNIX, 0x7 | SOCK.CLOEXEC, 0),
      /^socket\(AF_UNIX, 0x7\|SOCK_CLOEXEC, 0\): E/,
    );
    expect(() => linux.socketpair(0x7), /^socketpair\(AF_UNIX, 0x7, 0\): E/);
    expect(
      () => linux.epollCtl(BAD_FD, EPOLL.CTL_ADD, r, EPOLL.IN | EPOLL.RDHUP),
      `epoll_ctl(${BAD_FD}, EPOLL_CTL_ADD, ${r}, EPOLLIN|EPOLLRDHUP): EBADF`,
    );
    expect(() => linux.epollCtl(ep, 99, r, EPOLL.IN), `epoll_ctl(${ep}, 0x63, ${r}, EPOLLIN): EINVAL`);
    // namespaces (a new user namespace is refused to a multi-threaded process before anything changes)
    expect(() => linux.unshare(CLONE.NEWNS | CLONE.NEWUSER), "unshare(CLONE_NEWNS|CLONE_NEWUSER): EINVAL");
    expect(
      () => linux.unshare(CLONE.NEWNS | CLONE.NEWUTS | 0x1),
      "unshare(CLONE_NEWNS|CLONE_NEWUTS|0x1): EINVAL",
    );
    expect(() => linux.setns(BAD_FD, CLONE.NEWNET), `setns(${BAD_FD}, CLONE_NEWNET): EBADF`);
    expect(() => linux.setns(BAD_FD, 0), `setns(${BAD_FD}, 0): EBADF`);
    // signals, rlimits, scheduling
    expect(() => linux.kill(NO_PID, SIGNALS.TERM), `kill(${NO_PID}, SIGTERM): ESRCH`);
    expect(() => linux.kill(Deno.pid, 99), `kill(${Deno.pid}, 0x63): EINVAL`);
    expect(
      () => linux.setrlimit(RLIMIT.RLIMIT_NOFILE, 2n, 1n),
      "prlimit64(RLIMIT_NOFILE, soft=2, hard=1): EINVAL",
    );
    expect(
      () => linux.setrlimit(RLIMIT.RLIMIT_CORE, 0xffffffffffffffffn, 0n),
      "prlimit64(RLIMIT_CORE, soft=RLIM_INFINITY, hard=0): EINVAL",
    );
    expect(() => linux.setrlimit(99, 0n, 0n), "prlimit64(0x63, soft=0, hard=0): EINVAL");
    const attr = { policy: 1, flags: 1n, nice: 0, priority: 5, runtime: 0n, deadline: 0n, period: 0n };
    expect(
      () => linux.schedSetattr(NO_PID, attr),
      `sched_setattr(${NO_PID}, SCHED_FIFO, priority=5, flags=SCHED_FLAG_RESET_ON_FORK): ESRCH`,
    );
    expect(
      () => linux.schedSetattr(0, { ...attr, policy: 99, flags: 0n }),
      /^sched_setattr\(0, 0x63, priority=5\): EINVAL$/,
    );
    expect(() => linux.ioprioSet(NO_PID, 2, 4), `ioprio_set(${NO_PID}, IOPRIO_CLASS_BE, 4): ESRCH`);
    expect(() => linux.ioprioSet(NO_PID, 5, 0), `ioprio_set(${NO_PID}, 0x5, 0): EINVAL`);
    // mounts
    expect(
      () => linux.mount("tmpfs", `${dir}/missing`, "tmpfs", MS.NOSUID | MS.STRICTATIME, "mode=755"),
      `mount tmpfs on ${dir}/missing (MS_NOSUID|MS_STRICTATIME, mode=755): ENOENT`,
    );
    expect(
      () => linux.mount(`${dir}/a`, `${dir}/b`, "", MS.BIND | MS.REC),
      `mount ${dir}/a on ${dir}/b (MS_BIND|MS_REC): ENOENT`,
    );
    expect(() => linux.umount2(dir, MNT_DETACH), `umount2 ${dir} (MNT_DETACH): EINVAL`);
    expect(
      () => linux.mountSetattr(BAD_FD, true, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, 0),
      `mount_setattr(${BAD_FD}, AT_RECURSIVE, set MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID, clear 0): EBADF`,
    );
    // fds
    expect(
      () => linux.closeRange(5, 3, CLOSE_RANGE_CLOEXEC),
      "close_range(5, 3, CLOSE_RANGE_CLOEXEC): EINVAL",
    );
    expect(
      () => linux.dup3(BAD_FD, BAD_FD + 1, O.CLOEXEC),
      `dup3(${BAD_FD}, ${BAD_FD + 1}, O_CLOEXEC): EBADF`,
    );
    expect(() => linux.pipe2(0x1), "pipe2(0x1): EINVAL");
  } finally {
    linux.close(ep);
    linux.close(r);
    linux.close(w);
    Deno.removeSync(dir, { recursive: true });
  }
  for (const m of messages) assert.doesNotMatch(m, BARE_NUMBER, m);
});

Deno.test("ffi names: values and bitmasks render from their tables, unknown bits in hex", () => {
  assert.equal(
    flagsOf(MOUNT_FLAGS, MS.NOSUID | MS.NODEV | MS.NOEXEC | 0x40000000),
    "MS_NOSUID|MS_NODEV|MS_NOEXEC|0x40000000",
  );
  assert.equal(flagsOf(CLONE_FLAGS, 0), "0");
  assert.equal(nameOf(CLONE_FLAGS, CLONE.NEWPID), "CLONE_NEWPID");
  assert.equal(prctlArgs(PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL), "(PR_CAP_AMBIENT_CLEAR_ALL)");
  assert.equal(prctlArgs(PR.CAPBSET_DROP, capNumber("CAP_SYS_ADMIN")), "(PR_CAPBSET_DROP, CAP_SYS_ADMIN)");
  assert.equal(
    prctlArgs(PR.SET_SECUREBITS, 0x41),
    "(PR_SET_SECUREBITS, SECBIT_NOROOT|SECBIT_NO_CAP_AMBIENT_RAISE)",
  );
  assert.equal(prctlArgs(PR.SET_NO_NEW_PRIVS, 1), "(PR_SET_NO_NEW_PRIVS, 1)");
  assert.equal(signalName(SIGNALS.KILL), "SIGKILL");
  assert.equal(signalName(34), "SIGRT_2");
  assert.equal(signalName(SIGNALS.IOT), "SIGABRT");
});
