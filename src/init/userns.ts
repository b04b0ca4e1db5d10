/**
 * The container's user namespace, from init's side. A new one comes from CLONE_NEWUSER in the clone flags
 * (src/boot/userns.ts), so every namespace init creates later is owned by it; its uid and gid maps can
 * only be written from the parent namespace, so init asks boot's map writer and waits (awaitIdMaps)
 * before anything that needs them. A joined one is entered by setns before any other namespace
 * (namespaces.ts). Then init becomes root of the namespace (becomeRoot), as runc does: files and mounts it
 * makes while building the root belong to the container's root, not to an unmapped id.
 */
import { AT, EPOLL, Errno, isErrno, type Kernel } from "../../ffi/mod.ts";
import type { LinuxIDMapping } from "../specutils/spec.ts";
import { mapText, parseMapText, sameMap } from "../specutils/idmap.ts";
import { readText } from "../specutils/read_all.ts";

/** The child's ends of the map handshake (fd numbers of the clone child before its fds move). */
export interface IdMapHandshake {
  /** Write end: init sends its host pid, one line. */
  request: number;
  /** Read end: the writer answers `ok`, or `error: …`. */
  answer: number;
  /** Every fd of the handshake the child inherited, closed once it is done. */
  all: readonly number[];
}

/** How long init waits for its maps before it gives up (the writer is a thread of boot). */
const MAP_TIMEOUT_MS = 30_000;

const decoder = new TextDecoder();

function readLine(k: Kernel, fd: number, timeoutMs: number): string | null {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = end - Date.now();
    if (left <= 0 || k.pollOne(fd, EPOLL.IN, left) === 0) return null;
    if (k.read(fd, one) === 0) return bytes.length ? decoder.decode(new Uint8Array(bytes)) : "";
    if (one[0] === 10) return decoder.decode(new Uint8Array(bytes));
    bytes.push(one[0]);
  }
}

/**
 * Asks for this process's uid/gid maps and waits until they are written. The host pid is what the parent
 * namespace's /proc calls this process: read before any proc of the container is mounted.
 */
export function awaitIdMaps(k: Kernel, h: IdMapHandshake): void {
  try {
    const pid = k.readlinkat(AT.FDCWD, "/proc/self");
    const line = new TextEncoder().encode(`${pid}\n`);
    if (k.write(h.request, line) !== line.length) throw new Error("short write");
    const answer = readLine(k, h.answer, MAP_TIMEOUT_MS);
    if (answer === null) throw new Error(`no answer within ${MAP_TIMEOUT_MS / 1000} s`);
    if (answer !== "ok") throw new Error(answer.replace(/^error: /, "") || "the map writer went away");
  } catch (e) {
    throw new Error(`writing the user namespace's uid/gid maps: ${(e as Error).message}`);
  } finally {
    for (const fd of h.all) k.close(fd);
  }
}

/**
 * Becomes uid and gid 0 of the user namespace just entered, with no supplementary groups. Returns false
 * when setgroups(2) is denied there (its setgroups file says "deny": EPERM although init holds
 * CAP_SETGID in the namespace), which the credential switch must then respect. The namespace's root must
 * be mapped (validation checks the spec's maps).
 */
export function becomeRoot(k: Kernel): boolean {
  let groups = true;
  try {
    try {
      k.setgroups([]);
    } catch (e) {
      if (!isErrno(e, Errno.EPERM)) throw e;
      groups = false;
    }
    k.setresgid(0);
    k.setresuid(0);
  } catch (e) {
    throw new Error(`becoming root of the user namespace: ${(e as Error).message}`);
  }
  return groups;
}

/**
 * Checks a joined user namespace against the spec's maps, when the spec gives any: runc accepts both only
 * when they agree, because the maps of an existing namespace cannot change.
 */
export function checkJoinedMaps(
  k: Kernel,
  uids?: readonly LinuxIDMapping[],
  gids?: readonly LinuxIDMapping[],
): void {
  for (const [name, want] of [["uid", uids], ["gid", gids]] as const) {
    if (!want?.length) continue;
    const have = parseMapText(readText(k, `/proc/self/${name}_map`));
    if (!sameMap(have, want)) {
      throw new Error(
        `linux.${name}Mappings (${
          mapText(want).trim().replaceAll("\n", ", ")
        }) differ from the joined user ` +
          `namespace's ${name}_map (${mapText(have).trim().replaceAll("\n", ", ")})`,
      );
    }
  }
}
