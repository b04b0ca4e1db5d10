/**
 * `exec ID CMD... | --process FILE`: runs a new process in a running container through boot
 * (ExecuteAsync with our stdio or a pty, then WaitPID); the exit code is the process's.
 */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { type Kernel, linux } from "../../ffi/mod.ts";
import type { LinuxCapabilities, Process, Spec } from "../specutils/spec.ts";
import { absOf } from "../specutils/path.ts";
import { writeFileAtomic } from "../wrapper/atomic.ts";
import { ContainerError } from "../wrapper/errors.ts";
import { PendingCall } from "../wrapper/pending_call.ts";
import { RemoteError } from "../urpc/client.ts";
import {
  closeConsoleChannel,
  type ConsoleChannel,
  openConsoleChannel,
  receiveConsole,
  sendConsole,
  sendFd,
} from "../wrapper/pty.ts";
import { waitRelaying } from "../wrapper/relay.ts";
import { methodName, SignalMode } from "../protocol/control.ts";
import { log } from "../log/log.ts";
import { EXEC_FAILURE_CODE, fail, failWith, loadContainer } from "./oci.ts";
import { loadContainerModules } from "../wrapper/container.ts";
import { checkTerminal } from "../wrapper/container_create.ts";
import { execInContainer, recordedExecStatus } from "../wrapper/container_exec.ts";

/** The command-line overrides of `exec` without --process (runc's getProcess). */
export interface ExecOverrides {
  args: string[];
  cwd?: string;
  env: string[];
  tty?: boolean;
  /** "uid[:gid]". */
  user?: string;
  additionalGids: number[];
  caps: string[];
  noNewPrivs?: boolean;
}

/** The process to exec: the container's own process with `o` applied, as runc builds it. */
export function processFromFlags(spec: Spec, o: ExecOverrides): Process {
  const base: Process = structuredClone(spec.process ?? { user: { uid: 0, gid: 0 }, cwd: "/" });
  const p: Process = {
    ...base,
    args: o.args,
    env: [...(base.env ?? []), ...o.env],
    terminal: o.tty === true,
  };
  delete p.consoleSize;
  if (o.cwd) p.cwd = o.cwd;
  if (o.user) {
    const m = /^([0-9]+)(?::([0-9]+))?$/.exec(o.user);
    if (!m) throw new ContainerError("invalid", `invalid --user ${JSON.stringify(o.user)}: want uid[:gid]`);
    // As runc: without ":gid" the process keeps the container user's gid.
    p.user = { ...p.user, uid: Number(m[1]), gid: m[2] === undefined ? p.user.gid : Number(m[2]) };
  }
  if (o.additionalGids.length) {
    p.user = { ...p.user, additionalGids: [...(p.user.additionalGids ?? []), ...o.additionalGids] };
  }
  if (o.caps.length) {
    const caps: LinuxCapabilities = { ...(p.capabilities ?? {}) };
    for (const set of ["bounding", "effective", "permitted"] as const) {
      caps[set] = [...(caps[set] ?? []), ...o.caps];
    }
    // Ambient needs inheritable; as runc, add them only when the spec has inheritable caps.
    if (caps.inheritable) caps.ambient = [...(caps.ambient ?? []), ...o.caps];
    p.capabilities = caps;
  }
  if (o.noNewPrivs !== undefined) p.noNewPrivileges = o.noNewPrivs;
  return p;
}

/** Reads a --process file (an OCI process object). */
export function readProcessFile(path: string, k: Kernel = linux): Process {
  let p: Process;
  try {
    p = JSON.parse(k.readTextFile(path));
  } catch (e) {
    throw new ContainerError("invalid", `reading process file ${path}: ${(e as Error).message}`);
  }
  if (!p || typeof p !== "object" || !Array.isArray(p.args) || p.args.length === 0) {
    throw new ContainerError("invalid", `process file ${path}: args must not be empty`);
  }
  p.cwd ||= "/";
  p.user ??= { uid: 0, gid: 0 };
  return p;
}

class Exec implements Command {
  readonly name = "exec";
  readonly synopsis = "execute new process inside the container";
  readonly usage =
    "exec [flags] <container id> <command> [command options] || --process process.json <container id>\n";
  private process!: Ref<string>;
  private cwd!: Ref<string>;
  private env!: Ref<string[]>;
  private user!: Ref<string>;
  private additionalGids!: Ref<string[]>;
  private cap!: Ref<string[]>;
  private noNewPrivs!: Ref<boolean>;
  private tty!: Ref<boolean>;
  private consoleSocket!: Ref<string>;
  private pidfdSocket!: Ref<string>;
  private detach!: Ref<boolean>;
  private pidFile!: Ref<string>;
  private preserveFds!: Ref<number>;

  setFlags(f: FlagSet): void {
    this.process = f.string("process", "", "path to the process.json");
    f.alias("p", "process");
    this.cwd = f.string("cwd", "", "current working directory");
    this.env = f.stringList("env", "set environment variables (e.g. '-env PATH=/bin -env TERM=xterm')");
    f.alias("e", "env");
    this.user = f.string("user", "", "UID (format: <uid>[:<gid>])");
    f.alias("u", "user");
    this.additionalGids = f.stringList("additional-gids", "additional gids");
    f.alias("g", "additional-gids");
    this.cap = f.stringList("cap", "add a capability to the bounding set for the process");
    f.alias("c", "cap");
    this.noNewPrivs = f.bool("no-new-privs", false, "set the no new privileges value for the process");
    this.tty = f.bool("tty", false, "allocate a pseudo-TTY");
    f.alias("t", "tty");
    this.consoleSocket = f.string(
      "console-socket",
      "",
      "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal",
    );
    this.pidfdSocket = f.string(
      "pidfd-socket",
      "",
      "path to an AF_UNIX socket which will receive the process's pidfd",
    );
    this.detach = f.bool("detach", false, "detach from the container's process");
    f.alias("d", "detach");
    this.pidFile = f.string("pid-file", "", "specify the file to write the process pid to");
    this.preserveFds = f.int(
      "preserve-fds",
      0,
      "pass N additional file descriptors to the process (not supported: must be 0)",
    );
    f.string("internal-pid-file", "", "accepted for runsc compatibility; ignored");
    f.string("process-label", "", "set the asm process label for the process (accepted; no SELinux support)");
    f.string("apparmor", "", "set the apparmor profile for the process (accepted; no AppArmor support)");
    f.stringList("cgroup", "run the process in a (sub)cgroup (accepted; ignored)");
    f.bool("ignore-paused", false, "allow exec in a paused container (accepted)");
  }

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    const fromFile = this.process.value !== "";
    if (f.nArg() < 1) return ExitStatus.UsageError;
    if (!fromFile && f.nArg() < 2) return fail(ctx, "process args cannot be empty", EXEC_FAILURE_CODE);
    const id = f.arg(0);
    if (this.preserveFds.value > 0) {
      log.warning("exec --preserve-fds is not supported; no extra fds are passed");
    }
    const k = linux;
    let process: Process;
    let c;
    try {
      c = loadContainer(k, ctx, id);
      if (fromFile) {
        process = readProcessFile(this.process.value);
        if (f.isSet("tty")) process.terminal = this.tty.value;
      } else {
        const gids = this.additionalGids.value.map((g) => {
          if (!/^[0-9]+$/.test(g)) {
            throw new ContainerError("invalid", `invalid additional gid ${JSON.stringify(g)}`);
          }
          return Number(g);
        });
        process = processFromFlags(c.spec, {
          args: f.args().slice(1),
          cwd: this.cwd.value || undefined,
          env: this.env.value,
          tty: this.tty.value,
          user: this.user.value || undefined,
          additionalGids: gids,
          caps: this.cap.value,
          noNewPrivs: f.isSet("no-new-privs") ? this.noNewPrivs.value : undefined,
        });
      }
    } catch (e) {
      return failWith(ctx, e, EXEC_FAILURE_CODE);
    }
    const terminal = process.terminal === true;
    const detach = this.detach.value;
    const consoleSocket = this.consoleSocket.value;
    try {
      checkTerminal(k, terminal, consoleSocket || undefined, !detach);
    } catch (e) {
      return failWith(ctx, e, EXEC_FAILURE_CODE);
    }

    let master: number | undefined;
    let pending: PendingCall | undefined;
    try {
      let stdio: [number, number, number] = [0, 1, 2];
      let channel: ConsoleChannel | undefined;
      if (terminal) {
        // init makes the pty inside the container and sends the master back (src/init/console.ts).
        channel = openConsoleChannel(k);
        stdio = [channel.inner, channel.inner, channel.inner];
      }
      let pid: number;
      if (detach) await loadContainerModules(["exec"]);
      try {
        pid = execInContainer(c, process, stdio, detach);
      } catch (e) {
        if (channel) closeConsoleChannel(k, channel);
        throw e;
      }
      if (channel) master = receiveConsole(k, channel);
      if (master !== undefined && consoleSocket) {
        sendConsole(k, consoleSocket, master);
        k.close(master);
        master = undefined;
      }
      if (this.pidFile.value) writeFileAtomic(absOf(Deno.cwd(), this.pidFile.value), String(pid));
      if (this.pidfdSocket.value) {
        const pidfd = k.pidfdOpen(pid);
        try {
          sendFd(k, this.pidfdSocket.value, pidfd, id);
        } finally {
          k.close(pidfd);
        }
      }
      if (detach) return ExitStatus.Success;
      try {
        pending = PendingCall.send(k, c.rec.controlAddress, methodName("WaitPID"), {
          PID: pid,
          CID: id,
        });
        await waitRelaying(k, {
          readyFd: pending.fd,
          ttyMaster: master,
          forward: (signo) => {
            try {
              c.control().signal(id, signo, SignalMode.Process, pid);
            } catch (e) {
              log.debug(`forwarding signal ${signo}: ${(e as Error).message}`);
            }
          },
        });
        ctx.waitStatus = Number(pending.finish<number>());
      } catch (e) {
        // boot stopped serving (the container ended) before answering: it recorded the status first.
        if (e instanceof RemoteError) throw e;
        pending?.close();
        pending = undefined;
        const ws = recordedExecStatus(c, pid);
        if (ws === null) throw e;
        ctx.waitStatus = ws;
      }
    } catch (e) {
      pending?.close();
      return failWith(ctx, e, EXEC_FAILURE_CODE);
    } finally {
      if (master !== undefined) k.close(master);
    }
    return ExitStatus.Success;
  }
}

/** The exec command. */
export function createCommand(): Command {
  return new Exec();
}
