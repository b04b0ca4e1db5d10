/** The starter config.json `runts spec` writes, after `runc spec` (and `runc spec --rootless`). */
import type { Mount, Spec } from "./spec.ts";

/** Options of defaultSpec. */
export interface DefaultSpecOptions {
  /** process.args; default ["sh"]. */
  args?: string[];
  /** The rootless variant (user namespace, no network namespace, /sys bind-mounted). */
  rootless?: boolean;
  /** process.terminal; default false (runc defaults to true). */
  terminal?: boolean;
  /** Host uid mapped to root in the rootless variant; default: the caller's uid. */
  uid?: number;
  /** Host gid mapped to root in the rootless variant; default: the caller's gid. */
  gid?: number;
}

const DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

function defaultMounts(): Mount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc" },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
}

/** A fresh default spec (a new object each call). */
export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const spec: Spec = {
    ociVersion: "1.2.0",
    process: {
      terminal: opts.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: [...(opts.args ?? ["sh"])],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "runts",
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
        { type: "cgroup" },
      ],
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
  if (opts.rootless) makeRootless(spec, opts.uid ?? Deno.uid() ?? 0, opts.gid ?? Deno.gid() ?? 0);
  return spec;
}

/**
 * runc's ToRootless: a user namespace mapping root to the caller, no network namespace (an unprivileged
 * user cannot configure one), no cgroup mount or resources (no cgroup delegation assumed), /sys bind-mounted
 * from the host (sysfs cannot be mounted without owning the network namespace), and no uid=/gid= mount
 * options (those ids need not exist in the namespace).
 */
function makeRootless(spec: Spec, uid: number, gid: number): void {
  const linux = spec.linux!;
  linux.namespaces = linux.namespaces!.filter((ns) => ns.type !== "network");
  linux.namespaces.push({ type: "user" });
  linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
  linux.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
  delete linux.resources;
  const mounts: Mount[] = [];
  for (const m of spec.mounts ?? []) {
    if (m.destination === "/sys/fs/cgroup") continue;
    if (m.destination === "/sys") {
      mounts.push({
        destination: "/sys",
        type: "none",
        source: "/sys",
        options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
      });
      continue;
    }
    const options = m.options?.filter((o) => !o.startsWith("uid=") && !o.startsWith("gid="));
    mounts.push(options ? { ...m, options } : m);
  }
  spec.mounts = mounts;
}
