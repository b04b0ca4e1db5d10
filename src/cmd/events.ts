/** `events ID`: resource usage of a container, once (--stats) or every --interval until it stops. */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { linux } from "../../ffi/mod.ts";
import { writeStdout } from "./cmd.ts";
import { fail, failWith, loadContainer } from "./oci.ts";
import type { Container } from "../wrapper/container.ts";
import { encodeJson } from "../urpc/wire.ts";

/** Parses an interval: seconds ("5") or a Go duration of one unit ("5s", "500ms", "1m"); milliseconds. */
export function parseInterval(s: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`invalid interval ${JSON.stringify(s)}`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] ?? 1000;
  const ms = Number(m[1]) * scale;
  if (!(ms > 0)) throw new Error("duration interval must be greater than 0");
  return ms;
}

/** The stats event of `c` in runc's shape: {"type":"stats","id":…,"data":…}. */
export function statsEvent(c: Container): unknown {
  const r = c.control().event(c.id);
  const inner = r && typeof r === "object" && "event" in r ? (r as { event: unknown }).event : undefined;
  if (inner && typeof inner === "object") {
    return { ...(inner as Record<string, unknown>), type: "stats", id: c.id };
  }
  return { type: "stats", id: c.id, data: r ?? {} };
}

/** The OOM-kill count a stats event carries (data.memory.oom_kill), or null. */
function oomKills(event: unknown): number | null {
  const n = (event as { data?: { memory?: { oom_kill?: unknown } } })?.data?.memory?.oom_kill;
  return typeof n === "number" || typeof n === "bigint" ? Number(n) : null;
}

class Events implements Command {
  readonly name = "events";
  readonly synopsis = "display container events such as OOM notifications, cpu, memory, IO and network stats";
  readonly usage = "events [flags] <container-id>\n";
  private interval!: Ref<string>;
  private stats!: Ref<boolean>;

  setFlags(f: FlagSet): void {
    this.interval = f.string("interval", "5s", "set the stats collection interval");
    this.stats = f.bool("stats", false, "display the container's stats then exit");
  }

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    if (f.nArg() !== 1) return ExitStatus.UsageError;
    let intervalMs: number;
    try {
      intervalMs = parseInterval(this.interval.value);
    } catch (e) {
      return failWith(ctx, e);
    }
    try {
      const c = loadContainer(linux, ctx, f.arg(0));
      let ooms: number | null = null;
      for (;;) {
        if (c.liveState().status === "stopped") {
          return this.stats.value ? fail(ctx, "container not running") : ExitStatus.Success;
        }
        const event = statsEvent(c);
        // runc also streams an "oom" event when the memory cgroup's OOM killer struck since last time.
        const now = oomKills(event);
        if (!this.stats.value && ooms !== null && now !== null && now > ooms) {
          writeStdout(encodeJson({ type: "oom", id: c.id }) + "\n");
        }
        ooms = now;
        writeStdout(encodeJson(event) + "\n");
        if (this.stats.value) return ExitStatus.Success;
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    } catch (e) {
      return failWith(ctx, e);
    }
  }
}

/** The events command. */
export function createCommand(): Command {
  return new Events();
}
