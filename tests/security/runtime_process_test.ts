/**
 * The runtime's own processes seen from a container (CVE-2019-5736 and CVE-2016-9962 classes): a container
 * that shares the host's pid namespace, and so sees boot and the init of a second, created container, tries
 * to ptrace them, to open their /proc/PID/exe for writing, and to reach their root, cwd, fds and environment.
 * boot is protected by holding capabilities the container lacks. A created container's process is no
 * longer a runtime process: it is the app, stopped by the kernel before its first instruction and traced
 * by boot, holding only its own fds and credentials; no one else can trace it. The clone child that builds
 * the container (runts's fds, root's credentials) is not dumpable until its execve.
 */
import assert from "node:assert/strict";
import { addToolbox, expectCode, Fixture, HAVE_PERL, nr, perl, PrivateRootfs, run } from "./helpers.ts";
import { ok, state } from "../cli/helpers.ts";
import { World } from "../reliability/helpers.ts";

const PTRACE_ATTACH = 16;
const PTRACE_DETACH = 17;

function ppid(pid: number): number {
  return Number(/^PPid:\s+(\d+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);
}

/** Perl that attacks every pid on its command line and reports one line per attempt. */
function attackScript(): string {
  return `
    sub report { my ($what, $pid, $okay) = @_; print "$what $pid ", ($okay ? "SUCCEEDED" : "refused:" . ($!+0)), "\\n"; }
    push @ARGV, getppid();  # without a pid namespace, the app's parent is its boot
    for my $pid (map { $_ + 0 } @ARGV) {  # numbers: syscall() passes strings as pointers
      my $r = syscall(${nr("ptrace")}, ${PTRACE_ATTACH}, $pid, 0, 0);
      report("ptrace", $pid, $r == 0);
      syscall(${nr("ptrace")}, ${PTRACE_DETACH}, $pid, 0, 0) if $r == 0;
      report("exe-write", $pid, sysopen(my $fh, "/proc/$pid/exe", 1));
      report("root", $pid, opendir(my $dh, "/proc/$pid/root/"));
      report("cwd", $pid, opendir(my $ch, "/proc/$pid/cwd/"));
      opendir(my $fd, "/proc/$pid/fd/");
      my @links = grep { defined readlink("/proc/$pid/fd/$_") } grep { !/^[.]/ } readdir($fd);
      report("fd", $pid, @links > 0);
      report("environ", $pid, open(my $eh, "<", "/proc/$pid/environ") && defined(<$eh>));
      report("mem", $pid, open(my $mh, "<", "/proc/$pid/mem"));
    }
  `;
}

Deno.test({
  name: "runtime processes: a container cannot ptrace, or open the exe, root, fds or memory of init and boot",
  ignore: !HAVE_PERL,
  fn: async () => {
    const fx = new Fixture();
    const rootfs = new PrivateRootfs();
    try {
      await ok(fx.root, ["create", "--bundle", fx.bundle(["sleep", "60"]), "victim"]);
      const app = (await state(fx.root, "victim")).pid;
      const boot = ppid(app);
      const status = () => Deno.readTextFileSync(`/proc/${app}/status`);
      assert.equal(status().match(/^State:\s+(\S)/m)![1], "t", "stopped by its tracer");
      assert.match(status(), new RegExp(`^TracerPid:\\s+${boot}$`, "m"));
      assert.deepEqual([...Deno.readDirSync(`/proc/${app}/fd`)].map((e) => e.name).sort(), ["0", "1", "2"]);
      const r = await run(fx, [...perl(attackScript()), "--", String(app), String(boot)], (s) => {
        s.root = { path: rootfs.dir, readonly: false };
        addToolbox(s, rootfs);
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "pid");
        // Hide nothing that would make the attack fail for other reasons: /proc stays fully readable.
        s.linux!.maskedPaths = [];
        s.linux!.readonlyPaths = [];
      });
      expectCode(r, 0, "attacker");
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines.length, 3 * 7, r.stdout);
      for (const line of lines) {
        // The stopped app is the victim's own program: only its tracing and its binary are the runtime's
        // to guard (ETXTBSY: it is being executed).
        if (line.startsWith(`ptrace ${app} `) || line.startsWith(`exe-write ${app} `)) {
          assert.match(line, / refused:\d+$/, line);
        } else if (!line.includes(` ${app} `)) assert.match(line, / refused:\d+$/, line);
      }
      // The victim's app never noticed: it still waits to be started, then runs untraced.
      await ok(fx.root, ["start", "victim"]);
      assert.equal((await state(fx.root, "victim")).status, "running");
      assert.match(status(), /^TracerPid:\s+0$/m);
    } finally {
      rootfs.cleanup();
      await fx.cleanup();
    }
  },
});

Deno.test("runtime processes: init is not dumpable until execve; the app is", async () => {
  const w = new World();
  try {
    // A non-dumpable process's /proc files belong to root:root whatever its credentials; the app's follow
    // its user again after execve.
    const user = 4242;
    w.pauseAt("init-before-exec");
    Deno.chmodSync(w.pauseDir, 0o777); // init writes its marker there as the app's user
    const bundle = w.bundle(["sleep", "60"], { mutate: (s) => (s.process!.user = { uid: user, gid: user }) });
    const create = w.start(["create", "--bundle", bundle, "d2"]);
    const init = await w.paused("init-before-exec");
    assert.match(Deno.readTextFileSync(`/proc/${init}/status`), new RegExp(`^Uid:\\s+${user}\\s`, "m"));
    assert.equal(
      Deno.statSync(`/proc/${init}/environ`).uid,
      0,
      "init, with the app's credentials: not dumpable",
    );
    w.release("init-before-exec");
    const r = await create.done;
    assert.equal(r.code, 0, r.stderr);
    const pid = (await w.state("d2"))!.pid;
    assert.equal(pid, init, "init became the app");
    assert.equal(Deno.statSync(`/proc/${pid}/environ`).uid, user, "the app, stopped before start: dumpable");
    await w.ok(["start", "d2"]);
    assert.equal(Deno.statSync(`/proc/${pid}/environ`).uid, user, "the app: dumpable");
  } finally {
    await w.cleanup();
  }
});
