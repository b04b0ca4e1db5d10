/**
 * Worker side of the boot tests: makes blocking urpc calls to boot on its own thread (a Wait blocks until
 * the app exits), reporting before each call is sent and after each answer.
 */
/// <reference lib="deno.worker" />
import { linux } from "../../ffi/mod.ts";
import { UrpcClient } from "../../src/urpc/client.ts";

/** What the test asks the worker to do: these calls, in order, on one connection. */
export interface WorkerJob {
  address: string;
  calls: Array<{ method: string; arg: unknown }>;
}

/** A message from the worker. */
export type WorkerMessage =
  | { type: "sending"; index: number }
  | { type: "answer"; index: number; ok: boolean; result?: unknown; error?: string; at: number }
  | { type: "done" };

self.onmessage = (ev: MessageEvent<WorkerJob>) => {
  const job = ev.data;
  let client: UrpcClient | undefined;
  try {
    client = UrpcClient.connect(linux, job.address);
    job.calls.forEach((c, index) => {
      self.postMessage({ type: "sending", index } satisfies WorkerMessage);
      try {
        const result = client!.call(c.method, c.arg);
        self.postMessage({ type: "answer", index, ok: true, result, at: Date.now() } satisfies WorkerMessage);
      } catch (e) {
        const error = `${(e as Error).name}: ${(e as Error).message}`;
        self.postMessage({ type: "answer", index, ok: false, error, at: Date.now() } satisfies WorkerMessage);
      }
    });
  } catch (e) {
    self.postMessage(
      {
        type: "answer",
        index: -1,
        ok: false,
        error: (e as Error).message,
        at: Date.now(),
      } satisfies WorkerMessage,
    );
  } finally {
    client?.close();
    self.postMessage({ type: "done" } satisfies WorkerMessage);
  }
};
