import assert from "node:assert/strict";
import {
  type BenchReport,
  escapeXml,
  formatNumber,
  median,
  type Metric,
  ratio,
  renderMarkdown,
  renderSvg,
  targetCell,
} from "../scripts/bench_lib.ts";

Deno.test("median: odd, even, unsorted, empty", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("ratio: null when a side is missing or the divisor is not positive", () => {
  assert.equal(ratio(30, 60), 0.5);
  assert.equal(ratio(null, 3), null);
  assert.equal(ratio(3, undefined), null);
  assert.equal(ratio(3, 0), null);
  assert.equal(ratio(NaN, 2), null);
});

Deno.test("formatNumber: three significant digits, n/a for missing", () => {
  assert.equal(formatNumber(151.4), "151");
  assert.equal(formatNumber(27.04), "27.0");
  assert.equal(formatNumber(5.678), "5.68");
  assert.equal(formatNumber(null), "n/a");
});

const metric = (values: Record<string, number | null>, extra: Partial<Metric> = {}): Metric => ({
  id: "run",
  label: "run <true>",
  unit: "ms",
  values,
  ...extra,
});

Deno.test("targetCell: max and ratio targets, unjudged when a value is missing", () => {
  const m = metric({ runts: 40, runc: 30, runsc: 150 }, {
    targets: [{ kind: "ratio", against: "runsc", max: 0.3 }, { kind: "ratio", against: "runc", max: 1.5 }],
  });
  assert.equal(targetCell(m), "≤ 0.3× runsc ✅, ≤ 1.5× runc ✅");
  m.values.runts = 60;
  assert.equal(targetCell(m), "≤ 0.3× runsc ❌, ≤ 1.5× runc ❌");
  const mem = metric({ runts: 12, runsc: null }, { unit: "MiB", targets: [{ kind: "max", value: 16 }] });
  assert.equal(targetCell(mem), "≤ 16 MiB ✅");
  mem.values.runts = null;
  assert.equal(targetCell(mem), "≤ 16 MiB ?");
});

const report: BenchReport = {
  date: "2026-01-01 00:00 UTC",
  host: "test",
  mode: "quick",
  runtimes: [
    { name: "runts", version: "0.1.0", usable: true },
    { name: "runc", version: "1.1.5", usable: true },
    { name: "crun", version: "1.8.1", usable: false, note: "cgroups" },
  ],
  metrics: [
    metric({ runts: 45, runc: 30 }, { samples: 5, notes: { runc: "1/5 failed" } }),
    metric({ runts: 0, runc: 0 }, { id: "fail", label: "failures", unit: "count", noChart: true }),
  ],
  remarks: ["a remark"],
};

Deno.test("renderMarkdown: a column per usable runtime, ratio columns, notes and remarks", () => {
  const md = renderMarkdown(report);
  assert.match(md, /\| scenario \| unit \| runts \| runc \| runts\/runc \| n \| target \(runts\) \|/);
  assert.ok(md.includes("| run <true> | ms | 45.0 | 30.0 (1/5 failed) | 1.50× | 5 |  |"), md);
  assert.ok(md.includes("| failures | count | 0 | 0 |  |  |  |"), md);
  assert.match(md, /\| crun \| 1\.8\.1 \| not measured: cgroups \|/);
  assert.match(md, /- a remark/);
});

Deno.test("renderSvg: well-formed, escaped, charted metrics only, bars scaled to the group maximum", () => {
  const svg = renderSvg(report);
  assert.ok(svg.startsWith("<svg xmlns="));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, /run &lt;true&gt; \(ms\)/);
  assert.doesNotMatch(svg, /failures/);
  assert.match(svg, /<rect x="230" y="\d+" width="400\.0"/); // runts, the largest
  assert.match(svg, /<rect x="230" y="\d+" width="266\.7"/); // runc: 30/45 of it
  assert.equal(svg.split("<text").length, svg.split("</text>").length);
  assert.equal(escapeXml(`a<b & "c">`), "a&lt;b &amp; &quot;c&quot;&gt;");
});
