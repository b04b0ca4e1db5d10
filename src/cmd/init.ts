/** `runts init`: the container's init stage (internal; started by boot). */
import type { Command, CommandContext } from "./command.ts";
import { ExitStatus } from "./command.ts";
import type { FlagSet, Ref } from "../flag/flag.ts";
import { linux } from "../../ffi/mod.ts";
import { parseInitConfig } from "../protocol/init_config.ts";
import { runInit } from "../init/init.ts";
import { MAX_SPEC_BYTES, readAll } from "../specutils/read_all.ts";

class Init implements Command {
  readonly name = "init";
  readonly synopsis = "set up the container and exec its process (internal use only)";
  readonly usage = "init --config-fd=N";
  readonly group = "internal use only" as const;
  private configFd!: Ref<number>;

  setFlags(f: FlagSet): void {
    this.configFd = f.int("config-fd", -1, "fd of the init configuration (a memfd written by boot)");
  }

  execute(_ctx: CommandContext, f: FlagSet): ExitStatus {
    if (this.configFd.value < 0 || f.nArg() !== 0) return ExitStatus.UsageError;
    const fd = this.configFd.value;
    linux.lseek(fd, 0, 0);
    // The configuration carries the spec and the mount list: allow twice a spec's size.
    const bytes = readAll(linux, fd, 2 * MAX_SPEC_BYTES);
    linux.close(fd);
    runInit(linux, parseInitConfig(new TextDecoder().decode(bytes)));
  }
}

/** The init subcommand. */
export function createCommand(): Command {
  return new Init();
}
