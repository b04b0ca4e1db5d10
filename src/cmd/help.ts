/**
 * The `help` and `flags` commands, and the usage texts main prints on a command-line error
 * (google/subcommands' explain functions, in runsc's layout).
 */
import { FlagSet } from "../flag/flag.ts";
import { type Command, ExitStatus, type Registry } from "./command.ts";
import { globalFlags, writeStdout } from "./cmd.ts";

/** The command list: user-facing commands first, then each named group. */
export function explainAll(registry: Registry, prog = "runts"): string {
  let out = `Usage: ${prog} <flags> <subcommand> <subcommand args>\n\n`;
  const groups = new Map<string, string[]>();
  for (const name of Object.keys(registry).sort()) {
    const group = registry[name].group ?? "";
    groups.set(group, [...(groups.get(group) ?? []), name]);
  }
  for (const group of [...groups.keys()].sort()) {
    out += group ? `Subcommands for ${group}:\n` : "Subcommands:\n";
    for (const name of groups.get(group)!) out += `\t${name.padEnd(15)}  ${registry[name].synopsis}\n`;
    out += "\n";
  }
  return out + `Use "${prog} flags" for a list of top-level flags\n`;
}

/** One command's usage line followed by its flags and their defaults. */
export function explainCommand(cmd: Command): string {
  const f = new FlagSet(cmd.name);
  cmd.setFlags(f);
  const usage = cmd.usage.endsWith("\n") ? cmd.usage : cmd.usage + "\n";
  return usage + f.printDefaults();
}

/** Creates the `help` command. */
export function createCommand(registry: Registry): Command {
  return {
    name: "help",
    synopsis: registry.help.synopsis,
    usage:
      "help [<subcommand>]:\n\tWithout an argument, lists all subcommands with a one-line description.\n" +
      "\tWith one, prints that subcommand's usage and flags.\n",
    setFlags() {},
    async execute(_ctx, f) {
      if (f.nArg() === 0) {
        writeStdout(explainAll(registry));
        return ExitStatus.Success;
      }
      let status = ExitStatus.Success;
      for (const name of f.args()) {
        const entry = registry[name];
        if (!entry) {
          writeStdout(`Subcommand ${name} not understood\n`);
          status = ExitStatus.Failure;
          continue;
        }
        writeStdout(explainCommand(await entry.load()));
      }
      return status;
    },
  };
}

/** Creates the `flags` command, which lists the global flags. */
export function createFlagsCommand(registry: Registry): Command {
  return {
    name: "flags",
    synopsis: registry.flags.synopsis,
    usage: "flags:\n\tLists the top-level flags with their defaults.\n",
    setFlags() {},
    execute() {
      writeStdout(globalFlags().flags.printDefaults());
      return ExitStatus.Success;
    },
  };
}
