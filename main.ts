/**
 * The runts entry point, shaped like runsc's cli.Main: parse the global flags, build the Config, set up
 * logging, then run one subcommand and turn its result into the exit code (0 or the app's status on
 * success, 128 on any failure, 2 for a bad global flag).
 *
 * Start-up matters (engines run us for every state query), so this file imports only the small core;
 * each subcommand's module, and the help texts, are imported when needed.
 */
import { type Command, type CommandContext, ExitStatus } from "./src/cmd/command.ts";
import {
  exitCodeFromWaitStatus,
  FAILURE_EXIT_CODE,
  fatalf,
  globalFlags,
  SPEC_VERSION,
  VERSION,
  writeStderr,
  writeStdout,
} from "./src/cmd/cmd.ts";
import { REGISTRY } from "./src/cmd/registry.ts";
import { type Config, ConfigError } from "./src/config/config.ts";
import { FlagError, FlagSet, HelpRequested } from "./src/flag/flag.ts";
import { configureErrorLog, configureLogging, debugEnabled, log } from "./src/log/log.ts";
import { flushStages, recordStages, stage } from "./src/util/stages.ts";

/** Go's flag.ExitOnError code for a bad global flag. */
const GLOBAL_FLAG_EXIT_CODE = 2;

async function help() {
  return await import("./src/cmd/help.ts");
}

function describe(e: unknown, conf: Config | undefined): string {
  if (!(e instanceof Error)) return String(e);
  return conf?.debug && e.stack ? e.stack : e.message;
}

/** Runs the command line `argv` (without the program name) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const global = globalFlags();
  try {
    global.flags.parse(argv);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    const usage = (await help()).explainAll(REGISTRY);
    if (e instanceof HelpRequested) {
      writeStderr(usage);
      return 0;
    }
    writeStderr(`${e.message}\n${usage}`);
    return GLOBAL_FLAG_EXIT_CODE;
  }
  if (global.version.value) {
    writeStdout(`runts version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
    return 0;
  }

  let conf: Config;
  try {
    conf = global.config();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    configureErrorLog(global.flags.lookup("log") ?? "");
    fatalf(e.message);
  }

  const name = global.flags.arg(0);
  try {
    configureLogging(conf, name);
  } catch (e) {
    configureErrorLog(conf.log);
    fatalf(`error opening log file: ${describe(e, conf)}`);
  }
  if (global.flags.isSet("criu")) log.debug("--criu is ignored: checkpoint/restore is not supported");

  const entry = name ? REGISTRY[name] : undefined;
  if (!entry) {
    // No subcommand, or an unknown one: the command list on stderr, as subcommands.Execute does.
    writeStderr((await help()).explainAll(REGISTRY));
    return FAILURE_EXIT_CODE;
  }
  log.info(`runts version ${VERSION}, pid ${Deno.pid}, args ${JSON.stringify(argv)}`);
  recordStages(debugEnabled());
  stage("main");

  let cmd: Command;
  try {
    cmd = await entry.load();
  } catch (e) {
    fatalf(`loading command ${name}: ${describe(e, conf)}`);
  }
  stage(`loaded ${name}`);
  const f = new FlagSet(name);
  cmd.setFlags(f);
  try {
    f.parse(global.flags.args().slice(1));
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    const text = (await help()).explainCommand(cmd);
    writeStderr(e instanceof HelpRequested ? text : `${e.message}\n${text}`);
    return FAILURE_EXIT_CODE;
  }

  const ctx: CommandContext = { conf, waitStatus: 0 };
  let status: ExitStatus;
  try {
    status = await cmd.execute(ctx, f);
  } catch (e) {
    fatalf(describe(e, conf));
  } finally {
    stage(`${name} done`);
    flushStages(log.debug);
  }
  if (status === ExitStatus.UsageError) {
    // runsc's commands call f.Usage() before returning ExitUsageError; here main prints it for them.
    writeStderr((await help()).explainCommand(cmd));
  }
  if (status !== ExitStatus.Success) return FAILURE_EXIT_CODE;
  return exitCodeFromWaitStatus(ctx.waitStatus);
}

if (import.meta.main) {
  globalThis.addEventListener("unhandledrejection", (ev) => {
    ev.preventDefault();
    const r = ev.reason;
    fatalf(r instanceof Error ? r.message : String(r));
  });
  Deno.exit(await main(Deno.args));
}
