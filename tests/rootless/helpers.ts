/**
 * Rootless runs for the tests: a throwaway user with subordinate ids (tests/util/subids.ts), its own
 * XDG_RUNTIME_DIR and a copy of the test rootfs it owns (as an image it unpacked would be), and commands
 * run as that user through setpriv with a clean environment. cleanup() ends every process the user has
 * left (all of them this test's: the user is new) and removes the user with everything it made.
 */
import { cachedRootfs } from "../util/rootfs.ts";
import { SubidUser } from "../util/subids.ts";
import { RUNC, RUNTS } from "../cli/helpers.ts";
import type { Result } from "../cli/helpers.ts";
import type { Spec } from "../../src/specutils/spec.ts";
import { hostIds } from "../userns/helpers.ts";

export { hostIds, RUNC, RUNTS };
export type { Result };

const decoder = new TextDecoder();

function sh(cmd: string, args: string[]): string {
  const r = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${decoder.decode(r.stderr).trim()}`);
  return decoder.decode(r.stdout);
}

function onPath(tool: string): boolean {
  return ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].some((d) => {
    try {
      return Deno.statSync(`${d}/${tool}`).isFile;
    } catch {
      return false;
    }
  });
}

/** True when a user with no special groups may read `path` (every directory above it searchable). */
function othersMayRead(path: string, mode = 0o004): boolean {
  const parts = path.split("/").filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const p = "/" + parts.slice(0, i + 1).join("/");
    const st = Deno.statSync(p);
    const need = i === parts.length - 1 ? mode : 0o001;
    if (((st.mode ?? 0) & need) !== need) return false;
  }
  return true;
}

/** Why rootless runs cannot be tested here, or null when they can. */
export function rootlessSkip(): string | null {
  if (Deno.uid() !== 0) return "needs root (to create the user)";
  const checkout = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  const deno = `${checkout}/node_modules/deno/deno`;
  if (!othersMayRead(`${checkout}/main.ts`) || !othersMayRead(Deno.realPathSync(deno), 0o005)) {
    return `another user cannot read this checkout (${checkout}) or run its deno`;
  }
  for (const tool of ["setpriv", "useradd", "newuidmap", "newgidmap"]) {
    if (!onPath(tool)) return `${tool} is not installed (Debian: util-linux, passwd, uidmap)`;
  }
  try {
    if (Deno.readTextFileSync("/proc/sys/user/max_user_namespaces").trim() === "0") {
      return "user namespaces are disabled (user.max_user_namespaces = 0)";
    }
    const clone = Deno.readTextFileSync("/proc/sys/kernel/unprivileged_userns_clone").trim();
    if (clone === "0") {
      return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)";
    }
  } catch {
    // The Debian knob is missing on other kernels: user namespaces are then open to everyone.
  }
  return null;
}

/** Options of RootlessUser.run. */
export interface AsUserOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** A shell command run as root just before the switch to the user (e.g. to move into a cgroup). */
  before?: string;
}

/** A new user, its runtime dir, and a rootfs it owns. */
export class RootlessUser {
  readonly user: SubidUser;
  /** Its XDG_RUNTIME_DIR (0700, its own). */
  readonly runtimeDir: string;
  /** A copy of the test rootfs owned by the user. */
  readonly rootfs: string;
  #bundles = 0;

  constructor(prefix = "runtsrl") {
    this.user = new SubidUser(prefix);
    try {
      this.runtimeDir = `${this.user.home}/run`;
      Deno.mkdirSync(this.runtimeDir, { mode: 0o700 });
      this.rootfs = `${this.user.home}/rootfs`;
      sh("cp", ["-a", `${cachedRootfs()}/.`, this.rootfs]);
      sh("chown", ["-R", `${this.user.uid}:${this.user.gid}`, this.user.home]);
      Deno.chmodSync(this.runtimeDir, 0o700);
    } catch (e) {
      this.user.remove();
      throw e;
    }
  }

  get uid(): number {
    return this.user.uid;
  }

  get gid(): number {
    return this.user.gid;
  }

  /** The environment the user's commands get (and nothing else). */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      HOME: this.user.home,
      USER: this.user.name,
      LOGNAME: this.user.name,
      XDG_RUNTIME_DIR: this.runtimeDir,
      PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
      ...extra,
    };
  }

  /**
   * Runs `argv` as the user (its uid, gid and groups, and env()). stdout and stderr go to files opened
   * by root, not pipes: a container it starts may inherit them and outlive the command.
   */
  async run(argv: string[], opts: AsUserOptions = {}): Promise<Result> {
    const dir = Deno.makeTempDirSync({ prefix: "runts-rootless-io-" });
    try {
      const envArgs = Object.entries(this.env(opts.env)).map(([k, v]) => `${k}=${v}`);
      const cd = opts.cwd ? `cd "$CWD" && ` : "";
      const script = `${opts.before ? `${opts.before}; ` : ""}${cd}exec setpriv --reuid "$U" --regid "$G" ` +
        `--init-groups env -i "$@" </dev/null >"$OUT" 2>"$ERR"`;
      const out = await new Deno.Command("/bin/sh", {
        args: ["-c", script, "sh", ...envArgs, ...argv],
        env: {
          U: String(this.uid),
          G: String(this.gid),
          OUT: `${dir}/out`,
          ERR: `${dir}/err`,
          CWD: opts.cwd ?? "",
        },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      const err = Deno.readTextFileSync(`${dir}/err`) + decoder.decode(out.stderr);
      return { code: out.code, stdout: Deno.readTextFileSync(`${dir}/out`), stderr: err };
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  }

  /** run() that must exit 0; its stdout. */
  async ok(argv: string[], opts: AsUserOptions = {}): Promise<string> {
    const r = await this.run(argv, opts);
    if (r.code !== 0) throw new Error(`${argv.join(" ")}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /**
   * A bundle directory of the user's holding what `runc spec --rootless` writes for it, run by the user,
   * with only `mutate` applied (the test's process args, and the root pointed at the user's rootfs).
   */
  async runcSpecBundle(mutate: (s: Spec) => void, generator: "runc" | "runts" = "runc"): Promise<string> {
    const dir = `${this.user.home}/bundle${this.#bundles++}`;
    await this.ok(["mkdir", dir]);
    await this.ok([generator === "runc" ? RUNC : RUNTS, "spec", "--rootless"], { cwd: dir });
    const spec = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`)) as Spec;
    spec.root = { ...spec.root, path: this.rootfs };
    mutate(spec);
    Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(spec, null, 2));
    return dir;
  }

  /**
   * The pids of the user's processes (by real uid), but zombies the host's init has to reap (this VM's
   * init reaps them late; runc leaves one after a failed run).
   */
  processes(): number[] {
    const out: number[] = [];
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const status = Deno.readTextFileSync(`/proc/${e.name}/status`);
        const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
        const orphanZombie = /^State:\s+Z/m.test(status) && /^PPid:\s+1$/m.test(status);
        if (uid === this.uid && !orphanZombie) out.push(Number(e.name));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  /** The entries of the user's runts state root ($XDG_RUNTIME_DIR/runts), [] when it has none. */
  stateEntries(name = "runts"): string[] {
    try {
      return [...Deno.readDirSync(`${this.runtimeDir}/${name}`)].map((e) => e.name);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  /** Kills what the user left running, then deletes the user, its home and its subordinate ids. */
  async cleanup(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const left = this.processes();
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.user.remove();
    try {
      // What userdel left (files of the user's subordinate ids, such as podman's layers) is root's.
      Deno.removeSync(this.user.home, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

/** `sh -c CMD` args for a process that prints its ids the way every test compares them. */
export const ID_SCRIPT = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map";

/** The lines of `text`, each with its runs of blanks made one space. */
export function squeeze(text: string): string[] {
  return text.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
}
