/** A throwaway mount namespace held by a sleeping process, for tests that join one by path. */
import assert from "node:assert/strict";

/** A process sitting in a mount namespace of its own (a copy of ours, private propagation). */
export interface MountNsHolder {
  pid: number;
  /** `/proc/<pid>/ns/mnt`, for a spec's mount entry. */
  path: string;
  /** Its readlink (`mnt:[…]`). */
  id: string;
  /** Asserts that the holder's root is still the host's `/` (nothing pivoted it away). */
  assertRootKept(): void;
  /** Kills and reaps the holder; the namespace goes with it. */
  stop(): Promise<void>;
}

/** Starts `unshare -m sleep` and waits until it is in its new namespace. */
export async function mountNsHolder(): Promise<MountNsHolder> {
  const child = new Deno.Command("unshare", {
    args: ["-m", "--propagation", "private", "sleep", "600"],
    stdin: "null",
  })
    .spawn();
  const path = `/proc/${child.pid}/ns/mnt`;
  const ours = Deno.readLinkSync("/proc/self/ns/mnt");
  for (let i = 0; i < 200 && Deno.readLinkSync(path) === ours; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const id = Deno.readLinkSync(path);
  const stop = async () => {
    child.kill("SIGKILL");
    await child.status;
  };
  if (id === ours) {
    await stop();
    throw new Error("unshare -m did not enter a new mount namespace");
  }
  return {
    pid: child.pid,
    path,
    id,
    assertRootKept() {
      const host = Deno.statSync("/");
      const theirs = Deno.statSync(`/proc/${child.pid}/root/`);
      assert.deepEqual([theirs.dev, theirs.ino], [host.dev, host.ino], "the holder's root moved");
      assert.ok(Deno.statSync(`/proc/${child.pid}/root/usr`).isDirectory, "the holder lost its files");
    },
    stop,
  };
}

/** A spec mutation: the mount entry becomes a join of `path`. */
export function joinMountNs(
  path: string,
): (s: { linux?: { namespaces?: Array<{ type: string; path?: string }> } }) => void {
  return (s) => {
    s.linux!.namespaces = [...s.linux!.namespaces!.filter((n) => n.type !== "mount"), {
      type: "mount",
      path,
    }];
  };
}
