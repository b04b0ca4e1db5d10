/**
 * The uid/gid map writer of a new user namespace: a Worker thread of this process. A clone child's maps
 * must be written from the parent namespace while this process's main thread sleeps in the vfork clone,
 * and a Worker keeps running then. Its code is a blob, not a module file, so it loads inside boot's
 * --setup-root chroot too, and it uses no FFI: it reopens its pipe ends through /proc/self/fd.
 */
import type { IdMaps } from "./kernel.ts";

// One request per line (a host pid); one answer per line.
const WRITER_SOURCE = `
const enc = new TextEncoder(), dec = new TextDecoder();
function helper(cmd, pid, args) {
  let out;
  try {
    out = new Deno.Command(cmd, { args: [pid, ...args], stdin: "null", stdout: "null", stderr: "piped" }).outputSync();
  } catch (e) {
    throw new Error(cmd + ": " + (e.code ?? e.message));
  }
  if (!out.success) throw new Error(cmd + " " + args.join(" ") + ": " + dec.decode(out.stderr).trim());
}
function put(path, text) {
  try {
    Deno.writeTextFileSync(path, text);
  } catch (e) {
    throw new Error("write " + path + " " + JSON.stringify(text.trim()) + ": " + (e.code ?? e.message));
  }
}
self.onmessage = (e) => {
  const { request, answer, maps } = e.data;
  let req, ack;
  try {
    req = Deno.openSync("/proc/self/fd/" + request, { read: true });
    ack = Deno.openSync("/proc/self/fd/" + answer, { write: true });
    const buf = new Uint8Array(64);
    let pending = "";
    for (;;) {
      const n = req.readSync(buf);
      if (!n) break;
      pending += dec.decode(buf.subarray(0, n));
      for (let i = pending.indexOf("\\n"); i >= 0; i = pending.indexOf("\\n")) {
        const pid = pending.slice(0, i).trim();
        pending = pending.slice(i + 1);
        let reply = "ok";
        try {
          if (!/^[0-9]+$/.test(pid)) throw new Error("bad request " + JSON.stringify(pid));
          if (maps.helpers) {
            helper(maps.helpers.newuidmap, pid, maps.helpers.uid);
            helper(maps.helpers.newgidmap, pid, maps.helpers.gid);
          } else {
            put("/proc/" + pid + "/uid_map", maps.uidMap);
            if (maps.setgroups) put("/proc/" + pid + "/setgroups", maps.setgroups);
            put("/proc/" + pid + "/gid_map", maps.gidMap);
          }
        } catch (err) {
          reply = "error: " + String(err.message ?? err).replaceAll("\\n", " ");
        }
        ack.writeSync(enc.encode(reply + "\\n"));
      }
    }
  } catch (_) {
    // the caller closed the pipes first; nothing is waiting for an answer.
  } finally {
    req?.close();
    ack?.close();
    self.close();
  }
};
`;

let writerUrl: string | undefined;

/** Starts a map writer on the pipe ends `request` (read) and `answer` (write); see ProcCalls.startMapWriter. */
export function startMapWriter(
  request: number,
  answer: number,
  maps: IdMaps,
  onError: (message: string) => void,
): () => void {
  writerUrl ??= URL.createObjectURL(new Blob([WRITER_SOURCE], { type: "application/javascript" }));
  const worker = new Worker(writerUrl, { type: "module" });
  worker.onerror = (e) => {
    e.preventDefault();
    onError(e.message);
  };
  worker.postMessage({ request, answer, maps });
  return () => worker.terminate();
}
