/**
 * Boot's start-up cost, measured with the test harness: spawn to sync byte, StartRoot to the Wait answer
 * for an app that is `true`, and boot's memory while its app sleeps.
 */
import { encodeRequest } from "../../src/urpc/wire.ts";
import { BootRun, RawCall } from "./harness.ts";

/** One sample. */
export interface LatencySample {
  /** posix_spawn of boot to its sync byte. */
  syncMs: number;
  /** StartRoot sent to Wait answered, the app being /bin/true (Wait already in flight). */
  runMs: number;
  /** boot's RSS and PSS (smaps_rollup) while the app runs `sleep`. */
  rssKb: number;
  pssKb: number;
}

function rollup(pid: number, field: string): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
}

/** Measures one sample (two boots: one for timing, one for memory). */
export async function measureOnce(): Promise<LatencySample> {
  let syncMs: number, runMs: number;
  const b = await BootRun.start({ args: ["/bin/true"] });
  try {
    syncMs = b.syncMs;
    // Wait goes first (it is answered once the app exits, even when sent before StartRoot).
    const wait = RawCall.send(b.address, encodeRequest("containerManager.Wait", b.id));
    try {
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      b.call("StartRoot");
      const reply = await wait.reply(10_000);
      runMs = performance.now() - t0;
      if (JSON.parse(reply).result !== 0) throw new Error(`Wait: ${reply}`);
    } finally {
      wait.close();
    }
    await b.exit();
  } finally {
    await b.cleanup();
  }
  const m = await BootRun.start({ args: ["/bin/sleep", "100"] });
  try {
    m.startRoot();
    return { syncMs, runMs, rssKb: rollup(m.pid, "Rss"), pssKb: rollup(m.pid, "Pss") };
  } finally {
    await m.cleanup();
  }
}
