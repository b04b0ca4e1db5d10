/**
 * TypeScript shapes of the OCI runtime-spec 1.2 `config.json` (Linux parts plus the few portable fields)
 * and of the runtime `state` document. Field names and optionality follow the spec; integers are JSON
 * numbers (64-bit values above 2^53 lose precision, which only matters for "unlimited" markers).
 *
 * A spec that went through `readSpecFromFile` has no `null` members: they are dropped while parsing, the way
 * Go's decoder leaves a nil pointer. `validateSpec` has checked every field declared here.
 */

/** The container configuration (`config.json`). */
export interface Spec {
  /** Runtime-spec version the bundle complies with; runts accepts any 1.x. */
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  /** Present only in configs for other platforms; rejected by validation. */
  solaris?: unknown;
  /** Present only in configs for other platforms; rejected by validation. */
  windows?: unknown;
  /** VM-based runtimes only; ignored. */
  vm?: unknown;
  /** z/OS only; ignored. */
  zos?: unknown;
}

/** The container process. */
export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  /** Required by the spec; a missing user means uid 0, gid 0 (Go zero value, as runc). */
  user: User;
  args?: string[];
  /** Windows only. */
  commandLine?: string;
  env?: string[];
  /** Absolute path inside the container. */
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: LinuxIOPriority;
  execCPUAffinity?: CPUAffinity;
}

/** Console size in characters. */
export interface Box {
  height: number;
  width: number;
}

/** The identity the container process runs as. */
export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only. */
  username?: string;
}

/** Linux capability sets, each a list of `CAP_*` names. */
export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** One resource limit (`RLIMIT_*`). 2^64-1 (RLIM_INFINITY) arrives as 18446744073709552000. */
export interface POSIXRlimit {
  type: string;
  hard: number;
  soft: number;
}

/** sched_setattr(2) attributes. */
export interface Scheduler {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

/** I/O priority (ioprio_set(2)). */
export interface LinuxIOPriority {
  class: string;
  priority: number;
}

/** CPU affinity of the process while it execs (`initial`) and after (`final`), as cpu lists like "0-3,7". */
export interface CPUAffinity {
  initial?: string;
  final?: string;
}

/** The root filesystem. */
export interface Root {
  /** Made absolute against the bundle directory by readSpecFromFile. */
  path: string;
  readonly?: boolean;
}

/** One mount, on top of the root. */
export interface Mount {
  /** Absolute path inside the container. */
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
}

/** One lifecycle hook. */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds; positive. */
  timeout?: number;
}

/** Lifecycle hooks by stage. */
export interface Hooks {
  /** Deprecated by the spec in favour of createRuntime/createContainer/startContainer. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

/** Linux-specific configuration. */
export interface Linux {
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  /** Keyed by clock: "monotonic" or "boottime". */
  timeOffsets?: Record<string, LinuxTimeOffset>;
  sysctl?: Record<string, string>;
  resources?: LinuxResources;
  cgroupsPath?: string;
  namespaces?: LinuxNamespace[];
  devices?: LinuxDevice[];
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  intelRdt?: LinuxIntelRdt;
  personality?: LinuxPersonality;
}

/** OCI namespace type names. */
export type LinuxNamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup" | "time";

/** A namespace to create (no path) or join (path). */
export interface LinuxNamespace {
  type: LinuxNamespaceType;
  path?: string;
}

/** A uid or gid mapping range. */
export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** A clock offset for a time namespace. */
export interface LinuxTimeOffset {
  secs?: number;
  nanosecs?: number;
}

/** A device node to create in the container. */
export interface LinuxDevice {
  /** "c", "b", "u" or "p". */
  type: string;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** cgroup resource limits. */
export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  rdma?: Record<string, LinuxRdma>;
  unified?: Record<string, string>;
}

/** A device cgroup rule. */
export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

/** Memory cgroup settings. */
export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

/** CPU cgroup settings. */
export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

/** pids cgroup settings. */
export interface LinuxPids {
  limit: number;
}

/** A block device by number. */
export interface LinuxBlockIODevice {
  major: number;
  minor: number;
}

/** A per-device blkio weight. */
export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number;
  leafWeight?: number;
}

/** A per-device blkio rate limit. */
export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  rate: number;
}

/** blkio cgroup settings. */
export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

/** A hugetlb limit. */
export interface LinuxHugepageLimit {
  pageSize: string;
  limit: number;
}

/** net_cls/net_prio settings. */
export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

/** A network interface priority. */
export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

/** RDMA cgroup limits for one device. */
export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

/** The seccomp filter. */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

/** One seccomp rule. */
export interface LinuxSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/** A seccomp argument comparison. */
export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** Intel RDT settings (not supported by runts; accepted with a warning). */
export interface LinuxIntelRdt {
  closID?: string;
  schemata?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  enableCMT?: boolean;
  enableMBM?: boolean;
}

/** personality(2) settings. */
export interface LinuxPersonality {
  /** "LINUX" or "LINUX32". */
  domain: string;
  flags?: string[];
}

/** Container status values of the runtime state. */
export type ContainerStatus = "creating" | "created" | "running" | "stopped";

/** The runtime state document (`runts state`). */
export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Host pid of the container process; present while it is created or running. */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  annotations?: Record<string, string>;
}
