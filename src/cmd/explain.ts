/**
 * `explain`: the exact isolation plan of a bundle, before anything runs: every kernel operation a create
 * would make, by stage, or the refusal a create would give; `--diff` compares two bundles' plans. Nothing
 * on the host changes (src/explain/, docs/explain.md).
 */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { writeStdout } from "./cmd.ts";
import { fail, failWith } from "./oci.ts";

class Explain implements Command {
  readonly name = "explain";
  readonly synopsis = "show what creating a container would do to the kernel, without running anything";
  readonly usage =
    "explain [flags] [<container id>] - the isolation plan of a bundle: every kernel operation " +
    "that create would make, by stage (wrapper, boot, init), or the refusal it would give.\n" +
    'Exits 1 when the bundle would be refused. The id defaults to "explain".\n';
  private bundle!: Ref<string>;
  private format!: Ref<string>;
  private diff!: Ref<string>;
  private all!: Ref<boolean>;
  private consoleSocket!: Ref<string>;
  private noPivot!: Ref<boolean>;
  private preserveFds!: Ref<number>;

  setFlags(f: FlagSet): void {
    this.bundle = f.string(
      "bundle",
      "",
      "path to the root of the bundle directory, defaults to the current directory",
    );
    f.alias("b", "bundle");
    this.format = f.string("format", "text", "text or json");
    this.diff = f.string(
      "diff",
      "",
      "another bundle: print what changes from this bundle's plan to its plan",
    );
    this.all = f.bool("all", false, "also list lookups and fd plumbing (opens, dups, detached copies)");
    this.consoleSocket = f.string(
      "console-socket",
      "",
      "as for create (a terminal is planned with one anyway)",
    );
    this.noPivot = f.bool("no-pivot", false, "as for create: chroot instead of pivot_root");
    this.preserveFds = f.int("preserve-fds", 0, "as for create");
  }

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    if (f.nArg() > 1) return ExitStatus.UsageError;
    const format = this.format.value;
    if (format !== "text" && format !== "json") return fail(ctx, `--format ${format}: must be text or json`);
    const { explainBundle } = await import("../explain/plan.ts");
    const { diffPlans } = await import("../explain/diff.ts");
    const { diffText, filterPlan, planText } = await import("../explain/format.ts");
    const plan = (bundle: string) =>
      explainBundle({
        bundle,
        id: f.nArg() ? f.arg(0) : "explain",
        conf: ctx.conf,
        consoleSocket: this.consoleSocket.value || undefined,
        noPivot: this.noPivot.value,
        preserveFds: this.preserveFds.value,
      });
    try {
      const a = await plan(this.bundle.value || ".");
      if (this.diff.value) {
        const d = diffPlans(a, await plan(this.diff.value), !this.all.value);
        writeStdout(format === "json" ? JSON.stringify(d, null, 2) + "\n" : diffText(d));
        return ExitStatus.Success;
      }
      const shown = filterPlan(a, this.all.value);
      writeStdout(format === "json" ? JSON.stringify(shown, null, 2) + "\n" : planText(shown));
      if (a.refusal) ctx.waitStatus = 1 << 8;
      return ExitStatus.Success;
    } catch (e) {
      return failWith(ctx, e);
    }
  }
}

/** The explain command. */
export function createCommand(): Command {
  return new Explain();
}
