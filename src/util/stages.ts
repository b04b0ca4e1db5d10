/**
 * Stage timings for the debug log: `stage("x")` records the moment a hot path reaches step x, and
 * `flushStages` writes them as `stage x: +1.2 ms (at 14.0 ms)` lines (the time since the previous mark,
 * and since the process's time origin). Nothing is recorded unless debug logging is on, so the marks cost
 * one branch. A clone child may mark too: it shares its parent's memory, and the parent flushes.
 */

const marks: Array<[string, number]> = [];
let on = false;

/** Turns recording on or off (main.ts: on with --debug and a debug sink). */
export function recordStages(enabled: boolean): void {
  on = enabled;
}

/** Records that the process reached `label` now. */
export function stage(label: string): void {
  if (on) marks.push([label, performance.now()]);
}

/** Writes the recorded marks through `write` and forgets them. */
export function flushStages(write: (line: string) => void): void {
  let prev = marks.length ? marks[0][1] : 0;
  for (const [label, t] of marks) {
    write(`stage ${label}: +${(t - prev).toFixed(1)} ms (at ${t.toFixed(1)} ms)`);
    prev = t;
  }
  marks.length = 0;
}
