/**
 * The table of subcommands. Each entry loads its module only when that command runs, so start-up
 * pays for one command, not all of them. To add a command: write src/cmd/<name>.ts exporting
 * `createCommand(): Command`, and append one line here.
 */
import { type Entry, INTERNAL } from "./command.ts";

/** All subcommands by name. */
export const REGISTRY: Record<string, Entry> = {
  help: {
    synopsis: "Print help.",
    load: async () => (await import("./help.ts")).createCommand(REGISTRY),
  },
  flags: {
    synopsis: "describe all known top-level flags",
    load: async () => (await import("./help.ts")).createFlagsCommand(REGISTRY),
  },
  boot: {
    synopsis: "launch a sandbox process (internal use only)",
    group: INTERNAL,
    load: async () => (await import("./boot.ts")).createCommand(),
  },
  init: {
    synopsis: "set up the container and exec its process (internal use only)",
    group: INTERNAL,
    load: async () => (await import("./init.ts")).createCommand(),
  },
  create: {
    synopsis: "create a secure container",
    load: async () => (await import("./create.ts")).createCommand(),
  },
  start: {
    synopsis: "start a secure container",
    load: async () => (await import("./start.ts")).createCommand(),
  },
  run: {
    synopsis: "create and run a secure container",
    load: async () => (await import("./run.ts")).createCommand(),
  },
  state: {
    synopsis: "get the state of a container",
    load: async () => (await import("./state.ts")).createCommand(),
  },
  kill: {
    synopsis: "sends a signal to the container",
    load: async () => (await import("./kill.ts")).createCommand(),
  },
  delete: {
    synopsis: "delete resources held by a container",
    load: async () => (await import("./delete.ts")).createCommand(),
  },
  wait: {
    synopsis: "wait on a process inside a container",
    load: async () => (await import("./wait.ts")).createCommand(),
  },
  ps: {
    synopsis: "ps displays the processes running inside a container",
    load: async () => (await import("./ps.ts")).createCommand(),
  },
  list: {
    synopsis: "list containers started by runts with the given root",
    load: async () => (await import("./list.ts")).createCommand(),
  },
  events: {
    synopsis: "display container events such as OOM notifications, cpu, memory, IO and network stats",
    load: async () => (await import("./events.ts")).createCommand(),
  },
  pause: {
    synopsis: "pause suspends all processes in a container",
    load: async () => (await import("./pause.ts")).createCommand(),
  },
  resume: {
    synopsis: "resume un-pauses a paused container",
    load: async () => (await import("./resume.ts")).createCommand(),
  },
  update: {
    synopsis: "update container resource constraints",
    load: async () => (await import("./update.ts")).createCommand(),
  },
  exec: {
    synopsis: "execute new process inside the container",
    load: async () => (await import("./exec.ts")).createCommand(),
  },
  spec: {
    synopsis: "create a new OCI bundle specification file",
    load: async () => (await import("./spec.ts")).createCommand(),
  },
  explain: {
    synopsis: "show what creating a container would do to the kernel, without running anything",
    load: async () => (await import("./explain.ts")).createCommand(),
  },
  features: {
    synopsis: "show the enabled features",
    load: async () => (await import("./features.ts")).createCommand(),
  },
};
