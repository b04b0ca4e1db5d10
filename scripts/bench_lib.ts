/**
 * The pure half of `deno task bench`: statistics, the result model, and the markdown table and SVG chart
 * written to bench/results/. Nothing here touches the system, so tests can check it.
 */

/** One runtime under test, as the report names it. */
export interface RuntimeInfo {
  /** Short name used as a column header and in ratios: "runts", "runc", "runsc", "crun". */
  name: string;
  /** Version line the runtime printed, or "" when it is not available. */
  version: string;
  /** False when the runtime is missing or cannot run a container here; `note` says why. */
  usable: boolean;
  note?: string;
}

/** A target the report checks for runts. */
export type Target =
  | { kind: "max"; value: number }
  | { kind: "ratio"; against: string; max: number };

/** One measured quantity (a table row and a chart group). */
export interface Metric {
  id: string;
  label: string;
  unit: "ms" | "MiB" | "count" | "x";
  /** Median (or single value) per runtime name; null means not measured or unsupported. */
  values: Record<string, number | null>;
  /** Footnote per runtime name, shown next to its cell (e.g. "signal 0 rejected, SIGCONT used"). */
  notes?: Record<string, string>;
  /** Targets for runts; all must hold for the row to pass. */
  targets?: Target[];
  /** Number of samples behind each median, for the table. */
  samples?: number;
  /** Left out of the chart (counts and ratios do not chart well next to latencies). */
  noChart?: boolean;
}

/** Everything one bench run produced. */
export interface BenchReport {
  date: string;
  host: string;
  mode: "quick" | "full";
  runtimes: RuntimeInfo[];
  metrics: Metric[];
  /** Free-form lines printed under the table. */
  remarks: string[];
}

/** The median of `xs` (mean of the middle two for an even count); NaN for an empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `a / b`, or null when either is missing or b is not positive. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null;
  return a / b;
}

/** A number for a table cell: 3 significant digits, at most 2 decimals. */
export function formatNumber(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return "n/a";
  const abs = Math.abs(v);
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** Whether runts meets `t` in `m`; null when it cannot be judged (a value is missing). */
export function targetMet(m: Metric, t: Target, runts = "runts"): boolean | null {
  const v = m.values[runts];
  if (v == null) return null;
  if (t.kind === "max") return v <= t.value;
  const r = ratio(v, m.values[t.against]);
  return r == null ? null : r <= t.max;
}

function describeTarget(t: Target, unit: string): string {
  return t.kind === "max" ? `≤ ${t.value} ${unit}` : `≤ ${t.max}× ${t.against}`;
}

/** The "target" cell: each target with ✅, ❌ or ? (not judged). */
export function targetCell(m: Metric, runts = "runts"): string {
  if (!m.targets?.length) return "";
  return m.targets.map((t) => {
    const ok = targetMet(m, t, runts);
    return `${describeTarget(t, m.unit)} ${ok === null ? "?" : ok ? "✅" : "❌"}`;
  }).join(", ");
}

/** The markdown report: a header, one table row per metric, ratio columns against the other runtimes. */
export function renderMarkdown(r: BenchReport, runts = "runts"): string {
  const usable = r.runtimes.filter((rt) => rt.usable).map((rt) => rt.name);
  const others = usable.filter((n) => n !== runts);
  const lines: string[] = [];
  lines.push(`# runts benchmark (${r.mode})`, "");
  lines.push(`${r.date} on ${r.host}. Medians; lower is better. Ratios are runts ÷ the other runtime.`, "");
  lines.push("| runtime | version | status |", "| --- | --- | --- |");
  for (const rt of r.runtimes) {
    lines.push(
      `| ${rt.name} | ${rt.version || "-"} | ${rt.usable ? "measured" : `not measured: ${rt.note ?? ""}`} |`,
    );
  }
  lines.push("");
  const head = ["scenario", "unit", ...usable, ...others.map((o) => `${runts}/${o}`), "n", "target (runts)"];
  lines.push(`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`);
  for (const m of r.metrics) {
    const cells = [m.label, m.unit];
    for (const n of usable) {
      const note = m.notes?.[n];
      const v = m.values[n];
      const text = m.unit === "count" && v != null ? String(Math.round(v)) : formatNumber(v);
      cells.push(text + (note ? ` (${note})` : ""));
    }
    for (const o of others) {
      const q = m.unit === "count" ? null : ratio(m.values[runts], m.values[o]);
      cells.push(q == null ? "" : `${formatNumber(q)}×`);
    }
    cells.push(m.samples ? String(m.samples) : "");
    cells.push(targetCell(m, runts));
    lines.push(`| ${cells.join(" | ")} |`);
  }
  if (r.remarks.length) {
    lines.push("");
    for (const line of r.remarks) lines.push(`- ${line}`);
  }
  return lines.join("\n") + "\n";
}

/** Colours per runtime, in order of appearance; runts first and strongest. */
const PALETTE = ["#d9480f", "#1c7ed6", "#2f9e44", "#7048e8", "#868e96"];

/** Escapes text for SVG. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * A horizontal bar chart: one group per charted metric, one bar per usable runtime, each group scaled
 * to its own largest value (units differ between groups), with the value printed after each bar.
 */
export function renderSvg(r: BenchReport): string {
  const names = r.runtimes.filter((rt) => rt.usable).map((rt) => rt.name);
  const metrics = r.metrics.filter((m) => !m.noChart);
  const width = 760, labelW = 230, barMax = 400, bar = 14, gap = 4, groupGap = 16, top = 56;
  const groupH = (bar + gap) * names.length + 18 + groupGap;
  const height = top + groupH * metrics.length + 10;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="10" y="20" font-size="15" font-weight="bold">${
      escapeXml(`runts benchmark (${r.mode}), medians, lower is better`)
    }</text>`,
  );
  names.forEach((n, i) => {
    const x = 10 + i * 110;
    out.push(`<rect x="${x}" y="32" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    out.push(`<text x="${x + 16}" y="42">${escapeXml(n)}</text>`);
  });
  metrics.forEach((m, gi) => {
    const y0 = top + gi * groupH;
    out.push(`<text x="10" y="${y0 + 12}" font-weight="bold">${escapeXml(`${m.label} (${m.unit})`)}</text>`);
    const vals = names.map((n) => m.values[n]);
    const max = Math.max(0, ...vals.filter((v): v is number => v != null && Number.isFinite(v)));
    names.forEach((n, i) => {
      const y = y0 + 18 + i * (bar + gap);
      const v = vals[i];
      out.push(`<text x="${labelW - 6}" y="${y + bar - 3}" text-anchor="end">${escapeXml(n)}</text>`);
      if (v == null || !Number.isFinite(v)) {
        out.push(`<text x="${labelW}" y="${y + bar - 3}" fill="#868e96">n/a</text>`);
        return;
      }
      const w = max > 0 ? Math.max(1, (v / max) * barMax) : 1;
      out.push(
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${
          PALETTE[i % PALETTE.length]
        }"/>`,
      );
      out.push(`<text x="${(labelW + w + 5).toFixed(1)}" y="${y + bar - 3}">${formatNumber(v)}</text>`);
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
