/** `spec`: writes a starter config.json into the bundle directory (runc's spec). */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { defaultSpec } from "../specutils/default_spec.ts";
import { linux } from "../../ffi/mod.ts";
import { fail, failWith } from "./oci.ts";

class SpecCommand implements Command {
  readonly name = "spec";
  readonly synopsis = "create a new OCI bundle specification file";
  readonly usage = "spec [options] - create a new OCI bundle specification file.\n";
  private bundle!: Ref<string>;
  private rootless!: Ref<boolean>;

  setFlags(f: FlagSet): void {
    this.bundle = f.string("bundle", "", "path to the root of the bundle directory");
    f.alias("b", "bundle");
    this.rootless = f.bool("rootless", false, "generate a configuration for a rootless container");
  }

  execute(ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() !== 0) return ExitStatus.UsageError;
    const dir = this.bundle.value || ".";
    const path = `${dir}/config.json`;
    try {
      if (linux.fileType(path) !== null) return fail(ctx, `File ${path} exists. Remove it first`);
    } catch (e) {
      return failWith(ctx, e);
    }
    try {
      const spec = defaultSpec({ rootless: this.rootless.value || ctx.conf.rootless });
      linux.writeFile(path, JSON.stringify(spec, null, "\t") + "\n", { createNew: true, mode: 0o666 });
    } catch (e) {
      return failWith(ctx, e);
    }
    return ExitStatus.Success;
  }
}

/** The spec command. */
export function createCommand(): Command {
  return new SpecCommand();
}
