/**
 * `deno task bench [--quick] [--runtimes=runts,runc,runsc,crun] [--runts=PATH] [--out=DIR] [--no-bundle]
 * [--note=TEXT] [--extra=NAME=PATH]`: runts against the runtimes installed here (runc and runsc are
 * installed from Debian packages when missing; crun is used when it can run a container on this host), on
 * one busybox root filesystem, runs alternating between runtimes. Writes latest.md, latest.svg and
 * latest.json to bench/results/ (or --out). A checkout's bin/runts gets its bundle built first
 * (scripts/bundle.ts) unless --no-bundle. --extra adds another runts launcher as a column of its own
 * (an older checkout, for a before/after in one run); --note adds a line to the report.
 *
 * Scenarios: `run` of `true`; `create` then `start` (start latency alone); `exec true` in a running
 * container; `state` and `kill 0` round trips; the PSS of the long-lived processes a runtime leaves per
 * idle container; 10/25/50 containers created and started concurrently, then deleted. Run as root.
 */
import { buildBundle, bundleFresh } from "./bundle.ts";

import { type BenchReport, type Metric, renderMarkdown, renderSvg } from "./bench_lib.ts";
import {
  alternate,
  bundle,
  cmd,
  destroy,
  dirs,
  failureNotes,
  findRuntimes,
  firstLine,
  medians,
  newId,
  parseArgs,
  PLANS,
  pssKb,
  rotation,
  runcSpecBundle,
  runSync,
  sleep,
  SLEEP_ARGS,
  startSleeper,
  supervisorPids,
  timed,
  which,
} from "./bench_runtime.ts";

async function main(): Promise<void> {
  const opt = parseArgs(Deno.args);
  const plan = opt.quick ? PLANS.quick : PLANS.full;
  if (Deno.uid() !== 0) throw new Error("bench.ts must run as root");
  const scratch = dirs.scratch = Deno.makeTempDirSync({ prefix: "runts-bench-" });
  const t0 = performance.now();
  // A checkout's bin/runts runs its dist/bundle/main.js while no source file is newer (see bundle.ts).
  const checkout = opt.runts.endsWith("/bin/runts") ? opt.runts.slice(0, -"/bin/runts".length) : null;
  if (checkout && opt.bundle) buildBundle(checkout);

  const trueBundle = bundle(["true"]);
  dirs.trueBundle = trueBundle;
  const sleepBundle = bundle(SLEEP_ARGS);
  const { infos, rts } = await findRuntimes(opt, scratch, trueBundle, sleepBundle);
  if (!rts.length) throw new Error("no runtime can run containers here");
  console.log(`runtimes: ${rts.map((r) => r.name).join(", ")} (${plan.mode} mode)`);
  const metrics: Metric[] = [];
  const remarks: string[] = [];

  // 1. run of true, end to end.
  {
    const { samples, failures } = await alternate(rts, plan.runSamples, async (rt) => {
      const id = newId(rt, "run");
      const r = await timed(cmd(rt, "run", "--bundle", trueBundle, id));
      if (r.code !== 0) {
        await destroy(rt, id);
        return null;
      }
      return r.ms;
    });
    metrics.push({
      id: "run",
      label: "run `true`, end to end",
      unit: "ms",
      values: medians(samples),
      notes: failureNotes(failures, plan.runSamples),
      samples: plan.runSamples,
      targets: [
        { kind: "ratio", against: "runsc", max: 0.25 },
        { kind: "ratio", against: "runc", max: 1.0 },
      ],
    });
    console.log("run done");
  }

  // 1b. the same with the unmodified `runc spec` default (only args, terminal and root changed).
  {
    const runcBin = which("runc");
    const specBundle = runcBin ? runcSpecBundle(runcBin, ["true"]) : null;
    if (specBundle) {
      const { samples, failures } = await alternate(rts, plan.runSamples, async (rt) => {
        const id = newId(rt, "runcspec");
        const r = await timed(cmd(rt, "run", "--bundle", specBundle, id));
        if (r.code !== 0) {
          await destroy(rt, id);
          return null;
        }
        return r.ms;
      });
      metrics.push({
        id: "run-runc-spec",
        label: "run `true`, the `runc spec` bundle",
        unit: "ms",
        values: medians(samples),
        notes: failureNotes(failures, plan.runSamples),
        samples: plan.runSamples,
        targets: [
          { kind: "ratio", against: "runsc", max: 0.25 },
          { kind: "ratio", against: "runc", max: 1.0 },
        ],
      });
      console.log("run (runc spec) done");
    } else remarks.push("the `runc spec` bundle was not measured: runc spec failed or runc is missing");
  }

  // 2. create, then start alone (the app is running when start returns).
  {
    const creates = new Map(rts.map((rt) => [rt.name, [] as number[]]));
    const both = new Map(rts.map((rt) => [rt.name, [] as number[]]));
    const { samples, failures } = await alternate(rts, plan.startSamples, async (rt) => {
      const id = newId(rt, "start");
      const c = await timed(cmd(rt, "create", "--bundle", sleepBundle, id));
      if (c.code !== 0) {
        await destroy(rt, id);
        return null;
      }
      creates.get(rt.name)!.push(c.ms);
      const s = await timed(cmd(rt, "start", id));
      await destroy(rt, id);
      if (s.code === 0) both.get(rt.name)!.push(c.ms + s.ms);
      return s.code === 0 ? s.ms : null;
    });
    metrics.push({
      id: "start",
      label: "start (created → app running)",
      unit: "ms",
      values: medians(samples),
      notes: failureNotes(failures, plan.startSamples),
      samples: plan.startSamples,
    });
    metrics.push({
      id: "create",
      label: "create (sleeping app)",
      unit: "ms",
      values: medians(creates),
      samples: plan.startSamples,
    });
    metrics.push({
      id: "create-start",
      label: "create + start",
      unit: "ms",
      values: medians(both),
      samples: plan.startSamples,
      targets: [{ kind: "ratio", against: "runc", max: 2.0 }],
    });
    console.log("start done");
  }

  // 3 and 6. exec, state and kill in one running container per runtime.
  {
    const ids = new Map<string, string>();
    for (const rt of rts) {
      const id = newId(rt, "ctl");
      await startSleeper(rt, sleepBundle, id);
      ids.set(rt.name, id);
    }
    const exec = await alternate(rts, plan.execSamples, async (rt) => {
      const r = await timed(cmd(rt, "exec", ids.get(rt.name)!, "true"));
      return r.code === 0 ? r.ms : null;
    });
    metrics.push({
      id: "exec",
      label: "exec `true` in a running container",
      unit: "ms",
      values: medians(exec.samples),
      notes: failureNotes(exec.failures, plan.execSamples),
      samples: plan.execSamples,
      targets: [{ kind: "ratio", against: "runc", max: 1.5 }],
    });
    const state = await alternate(rts, plan.controlSamples, async (rt) => {
      const r = await timed(cmd(rt, "state", ids.get(rt.name)!));
      return r.code === 0 ? r.ms : null;
    });
    metrics.push({
      id: "state",
      label: "state",
      unit: "ms",
      values: medians(state.samples),
      notes: failureNotes(state.failures, plan.controlSamples),
      samples: plan.controlSamples,
      targets: [{ kind: "ratio", against: "runsc", max: 0.8 }],
    });
    const kill = await alternate(rts, plan.controlSamples, async (rt) => {
      const r = await timed(cmd(rt, "kill", ids.get(rt.name)!, rt.killSignal));
      return r.code === 0 ? r.ms : null;
    });
    const killNotes = failureNotes(kill.failures, plan.controlSamples);
    for (const rt of rts) {
      if (rt.killSignal !== "0") {
        killNotes[rt.name] = "rejects signal 0: SIGCONT";
        remarks.push(
          `${rt.name} rejects \`kill ID 0\`; its kill round trip sends SIGCONT to the sleeping app.`,
        );
      }
    }
    metrics.push({
      id: "kill",
      label: "kill 0",
      unit: "ms",
      values: medians(kill.samples),
      notes: killNotes,
      samples: plan.controlSamples,
      targets: [{ kind: "ratio", against: "runsc", max: 0.8 }],
    });
    for (const rt of rts) await destroy(rt, ids.get(rt.name)!);
    console.log("exec/state/kill done");
  }

  // 4. supervisor memory per idle container.
  {
    const values: Record<string, number | null> = {};
    const notes: Record<string, string> = {};
    for (const rt of rts) {
      const ids: string[] = [];
      try {
        for (let i = 0; i < plan.memoryContainers; i++) {
          const id = newId(rt, "mem");
          await startSleeper(rt, sleepBundle, id);
          ids.push(id);
        }
        await sleep(1500); // let start-up allocations settle
        const pids = supervisorPids(rt);
        const total = pids.reduce((s, pid) => s + pssKb(pid), 0);
        values[rt.name] = total / 1024 / ids.length;
        notes[rt.name] = `${pids.length} procs`;
      } catch (e) {
        values[rt.name] = null;
        notes[rt.name] = (e as Error).message.slice(0, 80);
      } finally {
        await Promise.all(ids.map((id) => destroy(rt, id)));
      }
    }
    metrics.push({
      id: "memory",
      label: `supervisor PSS per idle container (${plan.memoryContainers} running)`,
      unit: "MiB",
      values,
      notes,
      targets: [{ kind: "max", value: 12 }],
    });
    console.log("memory done");
  }

  // 5. N containers created and started concurrently, then deleted concurrently.
  {
    const perContainer = new Map<number, Record<string, number | null>>();
    for (const n of plan.concurrency) {
      const wall: Record<string, number | null> = {};
      const del: Record<string, number | null> = {};
      const fails: Record<string, number | null> = {};
      for (const rt of rotation(rts, n)) {
        const ids = Array.from({ length: n }, () => newId(rt, `c${n}`));
        const start = performance.now();
        const results = await Promise.all(ids.map((id) =>
          timed([
            "/bin/sh",
            "-c",
            'b=$0 id=$1; shift; "$@" create --bundle "$b" "$id" >/dev/null 2>&1 && "$@" start "$id" >/dev/null 2>&1',
            sleepBundle,
            id,
            ...rt.argv,
            "--root",
            rt.root,
          ])
        ));
        wall[rt.name] = performance.now() - start;
        const d0 = performance.now();
        const deleted = await Promise.all(ids.map((id) => destroy(rt, id)));
        del[rt.name] = performance.now() - d0;
        fails[rt.name] = results.filter((r) => r.code !== 0).length + deleted.filter((c) => c !== 0).length;
        await sleep(300);
      }
      perContainer.set(
        n,
        Object.fromEntries(Object.entries(wall).map(([k, v]) => [k, v == null ? null : v / n])),
      );
      metrics.push({
        id: `conc${n}`,
        label: `${n}× create+start, concurrent (wall)`,
        unit: "ms",
        values: wall,
        targets: n === 50 ? [{ kind: "ratio", against: "runc", max: 1.5 }] : undefined,
      });
      metrics.push({
        id: `del${n}`,
        label: `${n}× delete, concurrent (wall)`,
        unit: "ms",
        values: del,
        noChart: true,
      });
      metrics.push({
        id: `fail${n}`,
        label: `${n}× failures (create, start or delete)`,
        unit: "count",
        values: fails,
        noChart: true,
        targets: n === 50 ? [{ kind: "max", value: 0 }] : undefined,
      });
      console.log(`concurrency ${n} done`);
    }
    const lo = Math.min(...plan.concurrency), hi = Math.max(...plan.concurrency);
    if (hi > lo) {
      const values: Record<string, number | null> = {};
      for (const rt of rts) {
        const a = perContainer.get(lo)![rt.name], b = perContainer.get(hi)![rt.name];
        values[rt.name] = a && b ? b / a : null;
      }
      metrics.push({
        id: "scaling",
        label: `scaling: time per container at ${hi} ÷ at ${lo} (1 = linear)`,
        unit: "x",
        values,
        noChart: true,
        targets: [{ kind: "max", value: 1.25 }],
      });
    }
  }

  const load = firstLine(Deno.readTextFileSync("/proc/loadavg"));
  remarks.push(
    `Same busybox root filesystem for every runtime; samples alternate between runtimes; ` +
      `wall times include spawning the CLI (${Math.round((performance.now() - t0) / 1000)} s in all; ` +
      `load average at the end ${load.split(" ").slice(0, 3).join(" ")}).`,
  );
  remarks.push(
    "Supervisor memory: PSS of the processes that stay per container besides the app: runts' boot, " +
      "runsc's sandbox, gofer and stubs; runc leaves none.",
  );
  if (checkout) {
    const rev = runSync("git", ["-C", checkout, "describe", "--always", "--dirty"]);
    const at = rev.ok ? ` at ${firstLine(rev.out)}` : "";
    if (!opt.bundle) remarks.push(`runts ran as bin/runts${at} from the TypeScript sources (--no-bundle).`);
    else if (bundleFresh(checkout)) {
      remarks.push(
        `runts ran as bin/runts${at} with the bundle from \`deno task bundle\` (dist/bundle/main.js).`,
      );
    } else {
      remarks.push(
        `runts ran as bin/runts${at}; sources changed during the run, so some runs used them instead of the bundle.`,
      );
    }
  }
  if (opt.note) remarks.push(opt.note);
  for (const i of infos) if (!i.usable) remarks.push(`${i.name} not measured: ${i.note}`);
  const report: BenchReport = {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    host: `${Deno.osRelease()}, ${navigator.hardwareConcurrency} CPUs`,
    mode: plan.mode,
    runtimes: infos,
    metrics,
    remarks,
  };
  Deno.mkdirSync(opt.out, { recursive: true });
  Deno.writeTextFileSync(`${opt.out}/latest.md`, renderMarkdown(report));
  Deno.writeTextFileSync(`${opt.out}/latest.svg`, renderSvg(report));
  Deno.writeTextFileSync(`${opt.out}/latest.json`, JSON.stringify(report, null, 2) + "\n");
  console.log(renderMarkdown(report));
  console.log(`wrote ${opt.out}/latest.{md,svg,json}`);
  for (const dir of [trueBundle, sleepBundle, scratch]) Deno.removeSync(dir, { recursive: true });
}

if (import.meta.main) await main();
