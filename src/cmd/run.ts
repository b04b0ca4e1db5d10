/**
 * `run`: create + start + wait (+ delete unless --keep); the exit code is the app's. With --detach it
 * returns once the container runs. Attached, boot ends the container when the wrapper dies (--attached)
 * and reaps the app, the wrapper reaps boot, signals the wrapper gets are forwarded to the app, and a
 * terminal without --console-socket is relayed to the wrapper's own stdin/stdout.
 */
import type { FlagSet, Ref } from "../flag/flag.ts";
import { type Command, type CommandContext, ExitStatus } from "./command.ts";
import { Errno, isErrno, linux, P, W } from "../../ffi/mod.ts";
import type { Container } from "../wrapper/container.ts";
import { startContainer } from "../wrapper/container_start.ts";
import { deleteContainer } from "../wrapper/container_delete.ts";
import { PendingCall } from "../wrapper/pending_call.ts";
import { waitRelaying } from "../wrapper/relay.ts";
import { methodName, SignalMode } from "../protocol/control.ts";
import { log } from "../log/log.ts";
import { CreateFlags } from "./create.ts";
import { failWith } from "./oci.ts";
import { sleepSync } from "../util/sleep.ts";
import { stage } from "../util/stages.ts";

/** How long run waits for boot to exit once the container is gone (it has reaped the app by then). */
const BOOT_EXIT_MS = 2_000;

class Run implements Command {
  readonly name = "run";
  readonly synopsis = "create and run a secure container";
  readonly usage = "run [flags] <container id> - create and run a secure container.\n";
  readonly flags = new CreateFlags();
  private detach!: Ref<boolean>;
  private keep!: Ref<boolean>;

  setFlags(f: FlagSet): void {
    this.flags.register(f);
    this.detach = f.bool("detach", false, "detach from the container's process");
    f.alias("d", "detach");
    this.keep = f.bool("keep", false, "do not delete the container after it exits");
    f.bool("no-subreaper", false, "accepted for runc compatibility; runts never acts as a subreaper");
  }

  async execute(ctx: CommandContext, f: FlagSet): Promise<ExitStatus> {
    if (f.nArg() !== 1) return ExitStatus.UsageError;
    const id = f.arg(0);
    const k = linux;
    let c: Container;
    let ttyMaster: number | undefined;
    try {
      ({ container: c, ttyMaster } = await this.flags.create(ctx, id, !this.detach.value));
    } catch (e) {
      return failWith(ctx, e);
    }
    let pending: PendingCall | undefined;
    try {
      if (this.detach.value) {
        await startContainer(c);
        return ExitStatus.Success;
      }
      // Wait must be in flight before the app can exit (see pending_call.ts).
      pending = PendingCall.send(k, c.rec.controlAddress, methodName("Wait"), id);
      await startContainer(c);
      stage("started");
      await waitRelaying(k, {
        readyFd: pending.fd,
        ttyMaster,
        forward: (signo) => {
          try {
            c.control().signal(id, signo, SignalMode.Process);
          } catch (e) {
            log.debug(`forwarding signal ${signo}: ${(e as Error).message}`);
          }
        },
      });
      ctx.waitStatus = this.collect(pending, c);
      stage("app exited");
      // Hosting the loader (src/wrapper/in_process.ts): its waiters are answered; stop serving.
      await c.releaseHosted();
      stage("loader released");
    } catch (e) {
      pending?.close();
      await this.cleanUp(c);
      return failWith(ctx, e);
    } finally {
      if (ttyMaster !== undefined) k.close(ttyMaster);
    }
    if (!this.keep.value) await this.cleanUp(c);
    stage("deleted");
    this.reapBoot(c);
    return ExitStatus.Success;
  }

  /** boot is our child: collected here, it does not linger as a zombie for the host's init to reap. */
  private reapBoot(c: Container): void {
    if (c.rec.bootPid === Deno.pid) return; // this process hosted the loader, which reaped the app
    const deadline = Date.now() + BOOT_EXIT_MS;
    for (let ms = 1;; ms = Math.min(2 * ms, 20)) {
      try {
        if (linux.waitid(P.PID, c.rec.bootPid, W.EXITED | W.NOHANG) || Date.now() > deadline) return;
      } catch (e) {
        // ECHILD: collect() reaped it already.
        if (!isErrno(e, Errno.ECHILD)) log.debug(`reaping boot ${c.rec.bootPid}: ${(e as Error).message}`);
        return;
      }
      sleepSync(ms);
    }
  }

  /** The app's wait status: boot's Wait answer, else boot's own exit code (we are its parent). */
  private collect(pending: PendingCall, c: Container): number {
    try {
      return Number(pending.finish<number>());
    } catch (e) {
      log.warning(`waiting for container ${c.id}: ${(e as Error).message}; using boot's exit status`);
      const info = linux.waitid(P.PID, c.rec.bootPid, W.EXITED);
      if (!info) throw e;
      return info.code === 1 ? (info.status & 0xff) << 8 : info.status & 0x7f;
    }
  }

  private async cleanUp(c: Container): Promise<void> {
    try {
      await deleteContainer(c, true);
    } catch (e) {
      log.warning(`deleting container ${c.id}: ${(e as Error).message}`);
    }
  }
}

/** The run command. */
export function createCommand(): Command {
  return new Run();
}
