/**
 * `features`: the runtime-spec features document (features.md), claiming only what runts implements:
 * all hook stages, the mount options validation accepts, the namespaces init can create or join, the
 * capability names it knows, cgroups (docs/cgroups.md), seccomp where libseccomp is installed
 * (docs/security.md), user and time namespaces and idmapped bind mounts where init starts as a clone child
 * (x86_64, docs/security.md; idmapped mounts for a runtime that is root of the host only); no AppArmor or
 * SELinux.
 */
import type { FlagSet } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { CAPABILITIES } from "../specutils/capabilities.ts";
import { isBindMountOption } from "../specutils/mount_options.ts";
import { VERSION, writeStdout } from "./cmd.ts";
import { seccompFeatures } from "../seccomp/features.ts";
import { clonedInits } from "../boot/clone_inits.ts";
import { capableInOwnNamespace } from "../boot/rootless.ts";
import { inInitialUserNamespace } from "../util/privilege.ts";
import { linux } from "../../ffi/mod.ts";

// mount(8) option names runc's features lists; only those validation accepts are claimed.
const CANDIDATE_MOUNT_OPTIONS = [
  "async",
  "atime",
  "bind",
  "defaults",
  "dev",
  "diratime",
  "dirsync",
  "exec",
  "idmap",
  "iversion",
  "lazytime",
  "loud",
  "mand",
  "noatime",
  "nodev",
  "nodiratime",
  "noexec",
  "noiversion",
  "nolazytime",
  "nomand",
  "norelatime",
  "nostrictatime",
  "nosuid",
  "nosymfollow",
  "private",
  "rbind",
  "relatime",
  "remount",
  "ro",
  "rprivate",
  "rro",
  "rshared",
  "rslave",
  "runbindable",
  "ridmap",
  "rw",
  "shared",
  "silent",
  "slave",
  "strictatime",
  "suid",
  "symfollow",
  "sync",
  "unbindable",
];

/** The namespace types init creates or joins; user and time only where inits are clone children. */
function namespaces(): string[] {
  const all = ["cgroup", "ipc", "mount", "network", "pid", "uts"];
  return clonedInits() ? [...all, "time", "user"] : all;
}

/**
 * Idmapped mounts: where inits are clone children, and for a runtime that is root of the host only
 * (MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN over the filesystem's user namespace: a rootless runtime, even
 * root of a user namespace of its own, is refused).
 */
function idmapSupported(): boolean {
  return clonedInits() && capableInOwnNamespace(linux) && inInitialUserNamespace();
}

/** The features document, for the calling user: rootless, it has no idmapped mounts. */
export function features(): Record<string, unknown> {
  const idmap = idmapSupported();
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.2.0",
    hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
    mountOptions: CANDIDATE_MOUNT_OPTIONS.filter((o) =>
      isBindMountOption(o) && (idmap || !o.endsWith("idmap"))
    ),
    linux: {
      namespaces: namespaces(),
      capabilities: [...CAPABILITIES],
      // cgroupfs on v1, v2 and hybrid layouts (docs/cgroups.md); no systemd (D-Bus) driver.
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      seccomp: seccompFeatures(),
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: idmap } },
    },
    annotations: { "io.github.runts.version": VERSION },
  };
}

class Features implements Command {
  readonly name = "features";
  readonly synopsis = "show the enabled features";
  readonly usage = "features - show the enabled features\n";

  setFlags(_f: FlagSet): void {}

  execute(_ctx: CommandContext, f: FlagSet): ExitStatus {
    if (f.nArg() !== 0) return ExitStatus.UsageError;
    writeStdout(JSON.stringify(features(), null, "    ") + "\n");
    return ExitStatus.Success;
  }
}

/** The features command. */
export function createCommand(): Command {
  return new Features();
}
