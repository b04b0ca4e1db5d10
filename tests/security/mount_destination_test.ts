/**
 * Mount destinations that resolve onto the root itself, or onto /proc, /dev or /sys without naming them:
 * with `rootfs/data -> /`, openat2(RESOLVE_IN_ROOT) resolves /data to the root, and a volume mounted
 * there covers the container's / (every later exec, which enters the mount namespace's root, then runs
 * binaries from the volume). runts refuses such a destination, as runc does, planted in the image or
 * swapped in while init works (the CVE-2021-30465 class).
 */
import assert from "node:assert/strict";
import { expectCode, Fixture, PrivateRootfs, type Result, run, RUNC, runc } from "./helpers.ts";
import { exists } from "../util/rootfs.ts";
import type { Mount, Spec } from "../../src/specutils/spec.ts";

/** Prints the marker file of the rootfs, then how many mounts sit on "/" (1 unless one covers the root). */
const PROBE = ["sh", "-c", "cat /marker; awk '$5 == \"/\"' /proc/self/mountinfo | wc -l"];

function lines(r: Result): string[] {
  return r.stdout.trim().split("\n").map((l) => l.trim());
}

Deno.test("mount attack: a destination that is a symlink to /, /proc, /dev or /sys is refused (runc refuses the first two)", async () => {
  const fx = new Fixture();
  const rootfs = new PrivateRootfs();
  const vol = Deno.makeTempDirSync({ prefix: "runts-sec-vol-" });
  try {
    Deno.writeTextFileSync(`${rootfs.dir}/marker`, "rootfs\n");
    Deno.writeTextFileSync(`${vol}/marker`, "volume\n");
    for (
      const [name, target] of [["sec-data", "/"], ["sec-up", "../.."], ["sec-proc", "/proc"], [
        "sec-dev",
        "/dev",
      ]]
    ) {
      Deno.symlinkSync(target, `${rootfs.dir}/${name}`);
    }
    Deno.symlinkSync("/sys/", `${rootfs.dir}/sec-sys`);
    const tmpfs = (destination: string): Mount => ({ destination, type: "tmpfs", source: "tmpfs" });
    const bind = (destination: string): Mount => ({
      destination,
      type: "bind",
      source: vol,
      options: ["rbind"],
    });
    const cases: Array<[Mount, RegExp]> = [
      [tmpfs("/sec-data"), /the container's root/],
      [bind("/sec-data"), /the container's root/],
      [bind("/sec-up"), /the container's root/],
      [tmpfs("/"), /the container's root/],
      [{ ...bind("/sec-data/"), options: ["rbind", "ro"] }, /the container's root/],
      [tmpfs("/sec-proc"), /the container's \/proc/],
      [bind("/sec-proc"), /the container's \/proc/],
      [tmpfs("/sec-dev"), /the container's \/dev/],
      [bind("/sec-sys"), /the container's \/sys/],
    ];
    for (const [m, why] of cases) {
      const what = `${m.type} at ${m.destination}`;
      const mutate = (s: Spec) => {
        s.root = { path: rootfs.dir, readonly: false };
        s.mounts!.push(m);
      };
      const r = await run(fx, PROBE, mutate);
      assert.notEqual(r.code, 0, `${what}: ran: ${r.stdout}`);
      assert.match(
        r.stderr,
        new RegExp(`mount ${m.destination}: destination .*resolves to ${why.source}`),
        what,
      );
      if (exists(RUNC)) {
        // runc (1.1) refuses the root and /proc; it lets a symlink put a mount over /dev or /sys, which
        // runts refuses as well, since the spec did not ask for it.
        const ref = await runc(fx.bundle(PROBE, mutate));
        if (!/dev|sys/.test(why.source)) assert.notEqual(ref.code, 0, `${what}: runc ran it: ${ref.stdout}`);
        else console.log(`${what}: runc exit ${ref.code}, runts refuses`);
      }
    }
    // Controls: the same mounts at real directories, and the kernel directories where the spec names them.
    const ok = await run(fx, [...PROBE.slice(0, 2), `${PROBE[2]}; cat /root/marker`], (s) => {
      s.root = { path: rootfs.dir, readonly: false };
      s.mounts!.push(tmpfs("/mnt"), bind("/root"), tmpfs("/proc/../dev/./shm/"), tmpfs("/sys/"));
    });
    expectCode(ok, 0, "mounts at real directories");
    assert.deepEqual(lines(ok), ["rootfs", "1", "volume"]);
  } finally {
    rootfs.cleanup();
    Deno.removeSync(vol, { recursive: true });
    await fx.cleanup();
  }
});

Deno.test("mount attack: a directory swapped with a symlink to / during setup never puts a mount over the root", async () => {
  const fx = new Fixture();
  const rootfs = new PrivateRootfs();
  const vol = Deno.makeTempDirSync({ prefix: "runts-sec-vol-" });
  Deno.writeTextFileSync(`${rootfs.dir}/marker`, "rootfs\n");
  Deno.writeTextFileSync(`${vol}/marker`, "volume\n");
  // `race/d` flips between a directory and a symlink to / (the container's own root, inside it).
  const racer = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./racer.ts", import.meta.url).pathname, `${rootfs.dir}/race`, "/"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const outcomes = { mounted: 0, refused: 0 };
  try {
    const reader = racer.stdout.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /racing/);
    reader.releaseLock();
    for (let i = 0; i < 40; i++) {
      const m: Mount = i % 2
        ? { destination: "/race/d", type: "tmpfs", source: "tmpfs", options: ["ro"] }
        : { destination: "/race/d", type: "bind", source: vol, options: ["rbind", "ro"] };
      const r = await run(fx, PROBE, (s) => {
        s.root = { path: rootfs.dir, readonly: false };
        s.mounts!.push(m);
      });
      if (r.code === 0) {
        assert.deepEqual(lines(r), ["rootfs", "1"], `run ${i} (${m.type}): a mount covers the root`);
        outcomes.mounted++;
      } else {
        // Refused, or the swap made another step fail (e.g. the symlink was there for mkdir): always clear.
        assert.match(r.stderr, /creating container: mount \/race\/d: \S+/, `run ${i}: ${r.stderr}`);
        outcomes.refused++;
      }
    }
    console.log(`40 runs under the race: ${JSON.stringify(outcomes)}`);
  } finally {
    racer.kill("SIGKILL");
    await racer.status;
    await racer.stdout.cancel().catch(() => {});
    rootfs.cleanup();
    Deno.removeSync(vol, { recursive: true });
    await fx.cleanup();
  }
});
