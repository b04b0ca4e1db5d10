/**
 * Filesystem and devices: masked and read-only paths hold against a root app, the default devices and
 * /dev/pts, /dev/shm, /dev/mqueue, /dev/console for a terminal, linux.devices (mknod, or a bind of the host's
 * node where mknod is refused) and the device cgroup rules, rootfsPropagation, a read-only root, mount(8) options including rbind and
 * recursive read-only, and idmapped mounts refused.
 */
import assert from "node:assert/strict";
import { expectCode, Fixture, run } from "./helpers.ts";
import { runts } from "../cli/helpers.ts";
import { createDevice } from "../../src/init/devices.ts";
import { fakeKernel } from "../../ffi/fake.ts";
import { Errno, linux, MS, S_IF, SyscallError } from "../../ffi/mod.ts";
import type { Mount } from "../../src/specutils/spec.ts";

function lines(stdout: string): string[] {
  return stdout.replaceAll("\r", "").trim().split("\n");
}

Deno.test("masked and read-only paths hold against a root app", async () => {
  const fx = new Fixture();
  try {
    const script = [
      "echo kcore=$(cat /proc/kcore | wc -c)",
      "echo keys=$(cat /proc/keys | wc -c)",
      "echo firmware=$(ls -A /sys/firmware | wc -l)",
      "touch /sys/firmware/x 2>/dev/null && echo firmware-write=ok || echo firmware-write=denied",
      // ":" opens for writing and writes nothing: safe even if the mount were writable.
      "( : > /proc/sysrq-trigger ) 2>/dev/null && echo sysrq=ok || echo sysrq=denied",
      "( : > /proc/sys/kernel/domainname ) 2>/dev/null && echo procsys=ok || echo procsys=denied",
      "umount /proc/kcore 2>/dev/null && echo umount=ok || echo umount=denied",
      "mount -o remount,rw /proc/sys 2>/dev/null && echo remount=ok || echo remount=denied",
    ].join("; ");
    const r = await run(fx, ["sh", "-c", script]);
    expectCode(r, 0, "masks");
    assert.deepEqual(lines(r.stdout), [
      "kcore=0",
      "keys=0",
      "firmware=0",
      "firmware-write=denied",
      "sysrq=denied",
      "procsys=denied",
      "umount=denied",
      "remount=denied",
    ]);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("default devices, /dev/pts newinstance, /dev/shm and /dev/mqueue", async () => {
  const fx = new Fixture();
  try {
    const script = [
      'for d in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$d; done',
      "for l in ptmx fd stdin stdout stderr; do echo /dev/$l=$(readlink /dev/$l); done",
      "echo pts=$(ls -A /dev/pts | tr '\\n' ' ')",
      "echo shm=$(stat -c %a /dev/shm) $(grep ' /dev/shm ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1)",
      "echo mqueue=$(grep ' /dev/mqueue ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1)",
      "echo x > /dev/full 2>/dev/null && echo full=ok || echo full=ENOSPC",
      "echo urandom=$(head -c 8 /dev/urandom | wc -c)",
      "mknod /tmp/sda b 8 0 2>/dev/null && echo mknod=ok || echo mknod=denied",
    ].join("; ");
    const r = await run(fx, ["sh", "-c", script]);
    expectCode(r, 0, "devices");
    assert.deepEqual(lines(r.stdout), [
      "/dev/null character special file 1:3 666",
      "/dev/zero character special file 1:5 666",
      "/dev/full character special file 1:7 666",
      "/dev/random character special file 1:8 666",
      "/dev/urandom character special file 1:9 666",
      "/dev/tty character special file 5:0 666",
      "/dev/ptmx=pts/ptmx",
      "/dev/fd=/proc/self/fd",
      "/dev/stdin=/proc/self/fd/0",
      "/dev/stdout=/proc/self/fd/1",
      "/dev/stderr=/proc/self/fd/2",
      "pts=ptmx",
      "shm=1777 tmpfs",
      "mqueue=mqueue",
      "full=ENOSPC",
      "urandom=8",
      "mknod=denied",
    ]);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("/dev/console is the container's terminal", async () => {
  const fx = new Fixture();
  try {
    const r = await run(
      fx,
      [
        "sh",
        "-c",
        'echo console=$(stat -c "%F %t:%T" /dev/console) stdin=$(stat -L -c "%F %t:%T" /proc/self/fd/0)',
      ],
      (s) => (s.process!.terminal = true),
      [],
      [],
      { tty: "pty" },
    );
    expectCode(r, 0, "console");
    const m = /console=(.*) stdin=(.*)$/m.exec(r.stdout.replaceAll("\r", ""));
    assert.ok(m, r.stdout);
    assert.equal(m[1], m[2]);
    assert.match(m[1], /^character special file 88:/, "a pty slave (major 136)");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("linux.devices: mknod with the spec's mode and owner, and a bind of the host's node where mknod is refused", async () => {
  const fx = new Fixture();
  try {
    const r = await run(
      fx,
      ["sh", "-c", 'stat -c "%n %F %t:%T %a %u:%g" /dev/sec-null /dev/nested/fifo'],
      (s) => {
        s.linux!.devices = [
          { path: "/dev/sec-null", type: "c", major: 1, minor: 3, fileMode: 0o620, uid: 5, gid: 6 },
          { path: "/dev/nested/fifo", type: "p", fileMode: 0o600, uid: 0, gid: 0 },
        ];
      },
    );
    expectCode(r, 0, "devices");
    assert.deepEqual(lines(r.stdout), [
      "/dev/sec-null character special file 1:3 620 5:6",
      "/dev/nested/fifo fifo 0:0 600 0:0",
    ]);
  } finally {
    await fx.cleanup();
  }

  // Where mknod is refused (a user namespace), the host's node is bound over an empty file instead.
  const fake = fakeKernel({
    open: 40,
    openat2: 41,
    mknodat: () => {
      throw new SyscallError("mknodat", "/dev/fuse", Errno.EPERM);
    },
  });
  createDevice(fake.kernel, 3, { path: "/dev/fuse", type: "c", major: 10, minor: 229 });
  const mknod = fake.calls.find((c) => c.name === "mknodat")!;
  assert.equal((mknod.args[2] as number) & S_IF.CHR, S_IF.CHR);
  const bind = fake.calls.find((c) => c.name === "mount")!;
  assert.deepEqual(bind.args.slice(0, 4), ["/dev/fuse", "/proc/self/fd/41", "", MS.BIND]);
});

Deno.test("device cgroup: a container that may mknod still cannot open a device outside its rules", async () => {
  const fx = new Fixture();
  try {
    const script = "mknod /tmp/sda b 8 0 && (head -c 1 /tmp/sda >/dev/null 2>/tmp/err; cat /tmp/err); " +
      "mknod /tmp/null c 1 3 && echo x > /tmp/null && echo null=ok";
    const r = await run(fx, ["sh", "-c", script], (s) => {
      for (const set of ["bounding", "effective", "permitted"] as const) {
        s.process!.capabilities![set] = [...s.process!.capabilities![set] ?? [], "CAP_MKNOD"];
      }
    });
    expectCode(r, 0, "device cgroup");
    assert.match(r.stdout, /sda: Operation not permitted/, "the default rules deny block devices");
    assert.match(r.stdout, /^null=ok$/m, "and allow the default devices");
  } finally {
    await fx.cleanup();
  }
});

Deno.test("rootfsPropagation and a read-only root", async () => {
  const fx = new Fixture();
  try {
    const root = "grep -E '^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / ' /proc/self/mountinfo";
    const shared = await run(fx, ["sh", "-c", root], (s) => (s.linux!.rootfsPropagation = "shared"));
    expectCode(shared, 0, "shared");
    assert.match(shared.stdout, / shared:\d+/);
    const priv = await run(fx, ["sh", "-c", root], (s) => (s.linux!.rootfsPropagation = "private"));
    expectCode(priv, 0, "private");
    assert.doesNotMatch(priv.stdout, / (shared|master):\d+/);

    const ro = await run(fx, [
      "sh",
      "-c",
      "touch /new 2>/dev/null && echo root=ok || echo root=denied; touch /dev/shm/x && echo shm=ok",
    ], (s) => (s.root!.readonly = true));
    expectCode(ro, 0, "readonly root");
    assert.deepEqual(lines(ro.stdout), ["root=denied", "shm=ok"]);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("mount options: noexec, ro, nosymfollow, nosuid, and rbind with ro versus rro", async () => {
  const fx = new Fixture();
  const src = Deno.makeTempDirSync({ prefix: "runts-sec-rro-" });
  Deno.mkdirSync(`${src}/sub`);
  linux.mount("tmpfs", `${src}/sub`, "tmpfs", 0, "size=1m");
  try {
    const tmpfs = (destination: string, options: string[]): Mount => ({
      destination,
      type: "tmpfs",
      source: "tmpfs",
      options,
    });
    const bind = (destination: string, options: string[]): Mount => ({
      destination,
      type: "bind",
      source: src,
      options,
    });
    const script = [
      "cp /bin/busybox /mnt/noexec/bb && /mnt/noexec/bb true 2>/dev/null && echo noexec=ran || echo noexec=denied",
      "touch /mnt/ro/x 2>/dev/null && echo ro=ok || echo ro=denied",
      "ln -s /etc/hostname /mnt/nosym/l && cat /mnt/nosym/l >/dev/null 2>&1 && echo nosym=followed || echo nosym=denied",
      "grep -q ' /mnt/nosuid .*nosuid' /proc/self/mountinfo && echo nosuid=set",
      "touch /data/ro/x 2>/dev/null && echo ro-top=ok || echo ro-top=denied",
      "touch /data/ro/sub/x 2>/dev/null && echo ro-sub=ok || echo ro-sub=denied",
      "touch /data/rro/x 2>/dev/null && echo rro-top=ok || echo rro-top=denied",
      "touch /data/rro/sub/y 2>/dev/null && echo rro-sub=ok || echo rro-sub=denied",
      "grep -q ' /data/bind/sub ' /proc/self/mountinfo && echo bind-sub=mounted || echo bind-sub=absent",
    ].join("; ");
    const r = await run(fx, ["sh", "-c", script], (s) => {
      s.mounts!.push(
        tmpfs("/mnt/noexec", ["noexec"]),
        tmpfs("/mnt/ro", ["ro"]),
        tmpfs("/mnt/nosym", ["nosymfollow"]),
        tmpfs("/mnt/nosuid", ["nosuid"]),
        bind("/data/ro", ["rbind", "ro"]),
        bind("/data/rro", ["rbind", "rro"]),
        bind("/data/bind", ["bind"]),
      );
    });
    expectCode(r, 0, "mount options");
    assert.deepEqual(lines(r.stdout), [
      "noexec=denied",
      "ro=denied",
      "nosym=denied",
      "nosuid=set",
      "ro-top=denied",
      "ro-sub=ok", // "ro" is the top mount only, as mount(8) and runc have it
      "rro-top=denied",
      "rro-sub=denied", // "rro": mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)
      "bind-sub=absent", // "bind" does not take submounts
    ]);
    assert.deepEqual([...Deno.readDirSync(`${src}/sub`)].map((e) => e.name), ["x"], "only ro-sub wrote");

    const idmap = await run(fx, ["true"], (s) => {
      s.mounts!.push({
        ...bind("/data/idmap", ["rbind"]),
        uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      });
    });
    assert.notEqual(idmap.code, 0);
    // A uid map without its gid map (idmapped mounts: tests/userns/idmap_test.ts).
    assert.match(idmap.stderr, /uidMappings and gidMappings must be given together/);
    assert.deepEqual([...Deno.readDirSync(fx.root)], []);
    assert.equal((await runts(fx.root, ["list", "-q"])).stdout, "");
  } finally {
    linux.umount2(`${src}/sub`, 0);
    Deno.removeSync(src, { recursive: true });
    await fx.cleanup();
  }
});
