/**
 * The runtime configuration built from the global flags (runsc's `config.Config`), and its way back to
 * a command line for re-invoking ourselves (`ToFlags`).
 */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { inInitialUserNamespace } from "../util/privilege.ts";

/** How the container's network is set up. */
export type NetworkMode = "none" | "sandbox" | "host";

/** The accepted log formats for --log. */
export type LogFormat = "text" | "json";

const NETWORK_MODES: readonly NetworkMode[] = ["none", "sandbox", "host"];
const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** The state root of a privileged runtime. */
export const SYSTEM_ROOT = "/run/runts";

/**
 * The default --root, as runc chooses its own: `$XDG_RUNTIME_DIR/runts` for a caller that is not root
 * (or is root only of a user namespace, as under rootless podman, unless $USER is root), else
 * /run/runts. A user cannot write /run.
 */
export function defaultRoot(env: Record<string, string | undefined> = Deno.env.toObject()): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (!xdg) return SYSTEM_ROOT;
  const honour = Deno.uid() !== 0 || (!inInitialUserNamespace() && env.USER !== "root");
  return honour ? `${xdg.replace(/\/+$/, "")}/runts` : SYSTEM_ROOT;
}

/** The global configuration. Field defaults are the flag defaults. */
export class Config {
  /** Directory for container state. */
  root = SYSTEM_ROOT;
  /** The log file engines read (warnings and errors; debug lines too with --debug). */
  log = "";
  /** Format of the --log file. */
  logFormat: LogFormat = "text";
  /** Enables debug logging. */
  debug = false;
  /** Debug log file, or a directory when it ends in "/". */
  debugLog = "";
  /** The platform; only "native" exists. */
  platform = "native";
  /** Run without root privileges on the host. */
  rootless = false;
  /** Network mode. */
  network: NetworkMode = "sandbox";
  /** Go's GOTRACEBACK setting, kept for command-line compatibility. */
  traceback = "system";
  /** runc's --systemd-cgroup: accepted, the cgroup path is read in systemd form. */
  systemdCgroup = false;

  /**
   * The global flags that re-create this Config, as `--name=value`, only for values that differ from
   * the defaults, in field order.
   */
  toFlags(): string[] {
    const def = new Config();
    const out: string[] = [];
    for (const [field, flag] of FIELD_FLAGS) {
      const v = this[field];
      if (v !== def[field]) out.push(`--${flag}=${String(v)}`);
    }
    return out;
  }
}

/** Config fields in order, with their flag names. */
const FIELD_FLAGS: ReadonlyArray<readonly [keyof Omit<Config, "toFlags">, string]> = [
  ["root", "root"],
  ["log", "log"],
  ["logFormat", "log-format"],
  ["debug", "debug"],
  ["debugLog", "debug-log"],
  ["platform", "platform"],
  ["rootless", "rootless"],
  ["network", "network"],
  ["traceback", "traceback"],
  ["systemdCgroup", "systemd-cgroup"],
];

/** A global flag has a value the configuration does not accept. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(
    `invalid value ${JSON.stringify(value)} for flag --${flag}: must be one of ${allowed.join(", ")}`,
  );
}

/**
 * Registers the global flags on `f` (runsc's config.RegisterFlags, plus runc's --systemd-cgroup and
 * --criu, which engines pass). Call the returned function after `f.parse()` to build and validate the
 * Config; it throws ConfigError naming the flag on a bad value. --criu is accepted and ignored (check
 * `f.isSet("criu")` to mention it).
 */
export function registerFlags(f: FlagSet): () => Config {
  const d = new Config();
  const root = f.string("root", defaultRoot(), "root directory for storage of container state.");
  const log = f.string(
    "log",
    d.log,
    "file path where internal debug information is written, default is stdout.",
  );
  const logFormat = f.string("log-format", d.logFormat, "log format: text (default) or json.");
  const debug = f.bool("debug", d.debug, "enable debug logging.");
  const debugLog = f.string(
    "debug-log",
    d.debugLog,
    "additional location for logs. If it ends with '/', log files are created inside the directory " +
      "with default names.",
  );
  const platform = f.string("platform", d.platform, "specifies which platform to use: native.");
  const rootless = f.bool(
    "rootless",
    d.rootless,
    "it allows the sandbox to be started with a non-root user.",
  );
  const network = f.string("network", d.network, "specifies which network to use: none, sandbox, host.");
  const traceback = f.string(
    "traceback",
    d.traceback,
    "golang runtime's traceback level (accepted, unused).",
  );
  const systemdCgroup: Ref<boolean> = f.bool(
    "systemd-cgroup",
    d.systemdCgroup,
    "use systemd for cgroups (runc compatibility).",
  );
  f.string("criu", "", "path to the criu binary (runc compatibility; ignored).");

  return () => {
    const c = new Config();
    c.root = root.value;
    c.log = log.value;
    c.logFormat = oneOf("log-format", logFormat.value, LOG_FORMATS);
    c.debug = debug.value;
    c.debugLog = debugLog.value;
    c.platform = platform.value;
    c.rootless = rootless.value;
    c.network = oneOf("network", network.value, NETWORK_MODES);
    c.traceback = traceback.value;
    c.systemdCgroup = systemdCgroup.value;
    return c;
  };
}
