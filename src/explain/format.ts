/** A plan, and a diff of two, as text for people and as JSON (docs/explain.md). */
import type { PlanDiff } from "./diff.ts";
import type { Plan } from "./plan.ts";
import type { Stage } from "./state.ts";

const TITLES: Record<Stage, string> = {
  wrapper: "wrapper (runts create, on the host)",
  boot: "boot (the container's supervisor, on the host)",
  init: "init (boot's clone child, which becomes the app)",
};

/** The plan with lookups left out unless `all`. */
export function filterPlan(p: Plan, all: boolean): Plan {
  return all ? p : { ...p, stages: p.stages.map((s) => ({ ...s, ops: s.ops.filter((o) => o.effect) })) };
}

/** The plan as text. */
export function planText(p: Plan): string {
  const out: string[] = [`bundle ${p.bundle}, container id ${JSON.stringify(p.id)}`];
  out.push(
    p.refusal
      ? `result: REFUSED in ${p.refusal.stage}: ${p.refusal.message}`
      : "result: ok (the container would be created)",
  );
  for (const s of p.stages) {
    if (!s.ops.length) continue;
    out.push("", `${TITLES[s.stage]}:`);
    const width = String(s.ops.length).length;
    s.ops.forEach((o, i) =>
      out.push(`  ${String(i + 1).padStart(width)}. ${o.effect ? "" : "(lookup) "}${o.text}`)
    );
  }
  if (p.refusal) out.push("", `refused: ${p.refusal.message}`);
  if (p.mounts.length) {
    out.push("", "the container's mounts:");
    const w = Math.max(...p.mounts.map((m) => m.destination.length));
    for (const m of p.mounts) {
      const opts = m.options.length ? ` (${m.options.join(",")})` : "";
      out.push(`  ${m.destination.padEnd(w)}  ${m.type} ${m.source}${opts}`);
    }
  }
  const pr = p.process;
  if (pr) {
    const caps = pr.capabilities;
    const list = (l: string[]) => l.length ? l.join(",") : "(none)";
    out.push(
      "",
      "the app, once execve ran:",
      `  ${pr.path} ${JSON.stringify(pr.args)} in ${pr.cwd}`,
      `  uid ${pr.uid}, gid ${pr.gid}, additional gids ${list(pr.additionalGids.map(String))}`,
      `  capabilities: effective ${list(caps.effective)}`,
      `                permitted ${list(caps.permitted)}`,
      `                inheritable ${list(caps.inheritable)}; ambient ${list(caps.ambient)}`,
      `                bounding ${list(caps.bounding)}`,
      `  no_new_privs ${pr.noNewPrivileges ? "yes" : "no"}; seccomp filters ${pr.seccompFilters}; ` +
        `namespaces of its own: ${list(pr.namespaces)}`,
    );
    const u = pr.userNamespace;
    if (u) {
      const map = (m: typeof u.uidMap) => m.map((r) => `${r.containerID} ${r.hostID} ${r.size}`).join(", ");
      out.push(
        `  user namespace: uid_map ${map(u.uidMap)}; gid_map ${map(u.gidMap)}; setgroups ${u.setgroups}`,
      );
    }
    const t = pr.timeOffsets;
    if (t) {
      const off = Object.entries(t).map(([c, o]) => `${c} ${o.secs ?? 0} s ${o.nanosecs ?? 0} ns`);
      out.push(`  time offsets: ${off.join(", ")}`);
    }
  }
  if (p.warnings.length) {
    out.push("", "ignored or not enforced:");
    for (const w of p.warnings) out.push(`  - (${w.stage}) ${w.message}`);
  }
  if (p.notes.length) {
    out.push("", "notes:");
    for (const n of p.notes) out.push(`  - ${n}`);
  }
  return out.join("\n") + "\n";
}

function resultText(r: PlanDiff["from"]): string {
  return r.refusal ? `refused in ${r.refusal.stage}: ${r.refusal.message}` : "ok";
}

/** A diff as text: `-` removed, `+` added, `~` changed (old, then new). */
export function diffText(d: PlanDiff): string {
  const out = [`--- ${d.from.bundle} (${resultText(d.from)})`, `+++ ${d.to.bundle} (${resultText(d.to)})`];
  let same = true;
  for (const s of d.stages) {
    if (!s.added.length && !s.removed.length && !s.changed.length) continue;
    same = false;
    out.push("", `${TITLES[s.stage]}:`);
    for (const o of s.removed) out.push(`  - ${o.text}`);
    for (const o of s.added) out.push(`  + ${o.text}`);
    for (const c of s.changed) out.push(`  ~ ${c.from}`, `    → ${c.to}`);
  }
  if (d.warnings.added.length || d.warnings.removed.length) {
    same = false;
    out.push("", "ignored or not enforced:");
    for (const w of d.warnings.removed) out.push(`  - ${w}`);
    for (const w of d.warnings.added) out.push(`  + ${w}`);
  }
  if (same) out.push("", "the plans are the same");
  return out.join("\n") + "\n";
}
