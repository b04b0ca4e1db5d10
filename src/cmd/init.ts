/** `runts init`: the container's init stage (internal; started by boot). */
import type { Command, CommandContext } from "./command.ts";
import { ExitStatus } from "./command.ts";
import type { FlagSet, Ref } from "../flag/flag.ts";
import { linux } from "../../ffi/mod.ts";
import type { InitConfig } from "../init/config.ts";
import { runInit } from "../init/init.ts";

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
    const chunks: Uint8Array[] = [];
    for (;;) {
      const buf = new Uint8Array(65536);
      const n = linux.read(fd, buf);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
    }
    linux.close(fd);
    const cfg = JSON.parse(new TextDecoder().decode(concat(chunks))) as InitConfig;
    runInit(linux, cfg);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** The init subcommand. */
export function createCommand(): Command {
  return new Init();
}
