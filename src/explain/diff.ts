/** What changes between two plans: per stage, the operations added, removed, and changed (same key). */
import type { Plan } from "./plan.ts";
import type { PlanOp, Stage } from "./state.ts";

type Op = Omit<PlanOp, "stage">;

/** One stage's differences. */
export interface StageDiff {
  stage: Stage;
  added: Op[];
  removed: Op[];
  /** An operation on the same thing (its key) with a different text. */
  changed: Array<{ key: string; from: string; to: string }>;
}

/** Two plans compared (docs/explain.md). */
export interface PlanDiff {
  schema: 1;
  from: { bundle: string; result: Plan["result"]; refusal: Plan["refusal"] };
  to: { bundle: string; result: Plan["result"]; refusal: Plan["refusal"] };
  stages: StageDiff[];
  warnings: { added: string[]; removed: string[] };
}

/** Longest common subsequence of the texts: the pairs of indices kept unchanged. */
function common(a: readonly string[], b: readonly string[]): Array<[number, number]> {
  const n = a.length, m = b.length;
  const len = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i][j] = a[i] === b[j] ? len[i + 1][j + 1] + 1 : Math.max(len[i + 1][j], len[i][j + 1]);
    }
  }
  const pairs: Array<[number, number]> = [];
  for (let i = 0, j = 0; i < n && j < m;) {
    if (a[i] === b[j]) pairs.push([i++, j++]);
    else if (len[i + 1][j] >= len[i][j + 1]) i++;
    else j++;
  }
  return pairs;
}

function diffOps(stage: Stage, a: readonly Op[], b: readonly Op[]): StageDiff {
  const kept = common(a.map((o) => o.text), b.map((o) => o.text));
  const keptA = new Set(kept.map(([i]) => i));
  const keptB = new Set(kept.map(([, j]) => j));
  const removed = a.filter((_, i) => !keptA.has(i));
  let added = b.filter((_, j) => !keptB.has(j));
  const changed: StageDiff["changed"] = [];
  const stillRemoved: Op[] = [];
  for (const r of removed) {
    const k = added.findIndex((x) => x.key === r.key);
    if (k < 0) {
      stillRemoved.push(r);
      continue;
    }
    changed.push({ key: r.key, from: r.text, to: added[k].text });
    added = added.filter((_, i) => i !== k);
  }
  return { stage, added, removed: stillRemoved, changed };
}

/** The differences from plan `a` to plan `b` (`effectsOnly`: leave lookups out). */
export function diffPlans(a: Plan, b: Plan, effectsOnly = true): PlanDiff {
  const ops = (p: Plan, stage: Stage) =>
    (p.stages.find((s) => s.stage === stage)?.ops ?? []).filter((o) => o.effect || !effectsOnly);
  const stages = (["wrapper", "boot", "init"] as Stage[]).map((stage) =>
    diffOps(stage, ops(a, stage), ops(b, stage))
  );
  const wa = a.warnings.map((w) => w.message), wb = b.warnings.map((w) => w.message);
  return {
    schema: 1,
    from: { bundle: a.bundle, result: a.result, refusal: a.refusal },
    to: { bundle: b.bundle, result: b.result, refusal: b.refusal },
    stages,
    warnings: { added: wb.filter((w) => !wa.includes(w)), removed: wa.filter((w) => !wb.includes(w)) },
  };
}
