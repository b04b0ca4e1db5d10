/**
 * How an exec'd process joins a running container (boot's ExecuteAsync, and PrepareExec for `exec
 * --detach`): the namespaces to join, the time offsets, the root to enter and the pid namespace, as an
 * exec's init plan.
 */
import type { Kernel } from "../../ffi/mod.ts";
import type { LinuxTimeOffset, Process, Spec } from "../specutils/spec.ts";
import type { LoaderArgs } from "../protocol/loader_args.ts";
import type { ExecInitPlan } from "../protocol/init_config.ts";
import { parseTimeOffsets } from "../init/timens.ts";
import { mountNamespaceKind } from "../init/namespaces.ts";
import type { InitSpawn } from "./spawn_init.ts";

/** The spawn of a process that joins the container whose app is `pid`, built as `args` say. */
export function execSpawnFor(
  k: Kernel,
  args: LoaderArgs,
  pid: number,
  process: Process,
  stdio: [number, number, number],
  detached: boolean,
): InitSpawn<ExecInitPlan> {
  // The user namespace first: the others are owned by it (init/namespaces.ts orders them so). Only
  // namespaces the container does not share with boot: from inside a user namespace, setns into one of
  // boot's (the host's cgroup namespace, say) is refused.
  const types = [...containerJoins(args.spec), "ipc", "uts", "network", "cgroup", "mount"]
    .filter((t) => !sharedWithBoot(k, pid, t));
  const join = types.map((type) => ({
    type,
    path: `/proc/${pid}/ns/${type === "network" ? "net" : type === "mount" ? "mnt" : type}`,
  }));
  const ownPidNs = args.spec.linux?.namespaces?.some((n) => n.type === "pid") === true;
  return {
    config: {
      mode: "exec",
      id: args.id,
      spec: args.spec,
      process,
      join,
      timeOffsets: containerTimeOffsets(k, args.spec, pid),
      cpuNum: args.numCpu,
      preserveFds: 0,
      detached,
      // The root is a chroot below the mount namespace's own root: the exec'd process goes there too.
      ...(mountNamespaceKind(args.spec) === "own" ? {} : { joinRoot: `/proc/${pid}/root` }),
    },
    stdio,
    preserved: [],
    rootFd: null,
    bindFds: {},
    pidns: ownPidNs ? { kind: "join", path: `/proc/${pid}/ns/pid` } : { kind: "inherit" },
    cgroupFds: args.cgroupFds,
    globalFlags: args.conf.toFlags(),
  };
}

/** The namespaces an exec joins only when the container has them: user. */
function containerJoins(spec: Spec): string[] {
  return spec.linux?.namespaces?.some((n) => n.type === "user") ? ["user"] : [];
}

/** True when process `pid` is in boot's own namespace of `type` (an OCI type name). */
function sharedWithBoot(k: Kernel, pid: number, type: string): boolean {
  const file = type === "network" ? "net" : type === "mount" ? "mnt" : type;
  try {
    return k.readLink(`/proc/${pid}/ns/${file}`) === k.readLink(`/proc/self/ns/${file}`);
  } catch {
    return false; // the exec's own setns reports what is wrong
  }
}

/** The offsets of the app's time namespace when the container has one (src/init/timens.ts). */
function containerTimeOffsets(
  k: Kernel,
  spec: Spec,
  pid: number,
): Record<string, LinuxTimeOffset> | undefined {
  if (!spec.linux?.namespaces?.some((n) => n.type === "time")) return undefined;
  return parseTimeOffsets(k.readTextFile(`/proc/${pid}/timens_offsets`));
}
