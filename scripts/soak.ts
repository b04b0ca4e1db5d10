/**
 * Soak: N create → start → wait → delete cycles through bin/runts, then checks that nothing accumulated:
 * the fds of this process (anonymous sockets aside: see ownFds), the lines of /proc/self/mounts, the
 * processes carrying this run's tag, the cgroup directories under this run's cgroup parent, and the files
 * under --root all return to their starting counts (taken after two warm-up cycles). Every wait must
 * report the app's exit status.
 *
 * Usage: deno run -A scripts/soak.ts [--cycles N] [--json]   (default 500 cycles; `deno task soak`)
 * Prints a report (JSON with --json) and exits 1 when a count differs or a cycle fails. Needs root.
 */
import { cgroupLeaves, filesUnder, taggedProcesses, World } from "../tests/reliability/helpers.ts";

/** What the soak counts before and after. */
export interface Counts {
  fds: number;
  mounts: number;
  processes: number;
  cgroupDirs: number;
  rootFiles: number;
}

/** The soak's result. */
export interface SoakReport {
  cycles: number;
  failures: string[];
  before: Counts;
  after: Counts;
  seconds: number;
  /** The fds (with their targets) that were not open before, when the fd count differs. */
  newFds?: string[];
}

function fdList(): string[] {
  return [...Deno.readDirSync("/proc/self/fd")].map((e) => {
    try {
      return `${e.name} → ${Deno.readLinkSync(`/proc/self/fd/${e.name}`)}`;
    } catch {
      return e.name; // the directory fd of this very listing
    }
  });
}

/**
 * This process's fds, leaving out anonymous sockets: Deno opens an internal socket pair lazily, at a moment
 * that varies from run to run, and the soak itself opens no socket.
 */
function ownFds(): number {
  return fdList().filter((f) => !/ → socket:\[/.test(f)).length;
}

function count(w: World): Counts {
  return {
    fds: ownFds(),
    mounts: Deno.readTextFileSync("/proc/self/mounts").split("\n").filter((l) => l).length,
    processes: taggedProcesses(w.tag).length,
    cgroupDirs: cgroupLeaves(w.cgroupParent).length,
    rootFiles: filesUnder(w.root).length,
  };
}

/** Runs `cycles` cycles; alternates a container with and without a pid namespace. */
export async function soak(cycles: number, progress: (done: number) => void = () => {}): Promise<SoakReport> {
  const w = new World();
  const started = Date.now();
  const failures: string[] = [];
  try {
    const bundles = [w.bundle(["sh", "-c", "exit 3"]), w.bundle(["sh", "-c", "exit 4"], { pidns: false })];
    // Two warm-up cycles are not counted (the first commands load and cache what later ones reuse).
    let before = count(w);
    let fdsBefore = fdList();
    for (let i = -2; i < cycles && failures.length < 5; i++) {
      if (i === 0) {
        before = count(w);
        fdsBefore = fdList();
      }
      const id = `soak${i + 2}`;
      const step = async (args: string[]) => {
        const r = await w.run(args);
        if (r.code !== 0) {
          throw new Error(`cycle ${i}: runts ${args.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
        }
        return r.stdout;
      };
      try {
        await step(["create", "--bundle", bundles[Math.abs(i % 2)], id]);
        await step(["start", id]);
        const ws = JSON.parse(await step(["wait", id])).exitStatus;
        const want = 3 + Math.abs(i % 2);
        if (ws !== want) failures.push(`cycle ${i}: wait reported ${ws}, want ${want}`);
        await step(["delete", id]);
      } catch (e) {
        failures.push((e as Error).message);
        await w.run(["delete", "--force", id]);
      }
      if (i >= 0 && (i + 1) % 50 === 0) progress(i + 1);
    }
    // boot exits right after the app; give the last one a moment.
    const deadline = Date.now() + 5000;
    let after = count(w);
    while (JSON.stringify(after) !== JSON.stringify(before) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      after = count(w);
    }
    const report: SoakReport = { cycles, failures, before, after, seconds: (Date.now() - started) / 1000 };
    if (after.fds !== before.fds) report.newFds = fdList().filter((f) => !fdsBefore.includes(f));
    return report;
  } finally {
    await w.cleanup();
  }
}

async function main(): Promise<number> {
  const i = Deno.args.indexOf("--cycles");
  const cycles = i >= 0 ? Number(Deno.args[i + 1]) : 500;
  if (!Number.isInteger(cycles) || cycles < 1) {
    console.error("usage: soak.ts [--cycles N] [--json]");
    return 2;
  }
  const report = await soak(cycles, (n) => console.error(`soak: ${n}/${cycles} cycles`));
  const same = JSON.stringify(report.before) === JSON.stringify(report.after);
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(report));
  } else {
    console.log(`${report.cycles} cycles in ${report.seconds.toFixed(1)} s`);
    for (const k of Object.keys(report.before) as Array<keyof Counts>) {
      console.log(`  ${k.padEnd(11)} ${report.before[k]} → ${report.after[k]}`);
    }
    for (const f of report.failures) console.log(`  failure: ${f}`);
    for (const f of report.newFds ?? []) console.log(`  new fd: ${f}`);
    console.log(same && !report.failures.length ? "soak: ok" : "soak: FAILED");
  }
  return same && !report.failures.length ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
