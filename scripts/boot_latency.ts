/**
 * Measures `runts boot` start-up (run as root): spawn to sync byte, StartRoot to the Wait answer for
 * `/bin/true`, and boot's RSS/PSS while its app sleeps. Prints each sample and the medians.
 *
 *   deno run -A scripts/boot_latency.ts [runs=10]
 */
import { type LatencySample, measureOnce } from "../tests/boot/latency.ts";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const runs = Number(Deno.args[0] ?? 10);
if (!Number.isInteger(runs) || runs < 1) {
  throw new Error(`runs: want a positive integer, got ${Deno.args[0]}`);
}
await measureOnce(); // warm-up: module cache, rootfs build
const samples: LatencySample[] = [];
for (let i = 0; i < runs; i++) {
  const s = await measureOnce();
  samples.push(s);
  console.log(
    `#${i + 1}: sync ${s.syncMs.toFixed(1)} ms, run ${
      s.runMs.toFixed(1)
    } ms, RSS ${s.rssKb} kB, PSS ${s.pssKb} kB`,
  );
}
const m = (f: (s: LatencySample) => number) => median(samples.map(f));
console.log(
  `median of ${runs}: spawn->sync ${m((s) => s.syncMs).toFixed(1)} ms, ` +
    `StartRoot->Wait(true) ${m((s) => s.runMs).toFixed(1)} ms, ` +
    `boot RSS ${m((s) => s.rssKb)} kB, PSS ${m((s) => s.pssKb)} kB`,
);
