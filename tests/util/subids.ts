/**
 * A throwaway system user with a range of subordinate uids and gids (/etc/subuid, /etc/subgid), for tests
 * of rootless runs and of podman's --userns=auto. Names and ranges are random, so tests running at the
 * same time on one machine do not meet; userdel takes the ranges away again.
 */

function run(cmd: string, args: string[]): void {
  const r = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).outputSync();
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
}

/** A user made for one test; remove() deletes it with its home and its subordinate ids. */
export class SubidUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** The first subordinate id (uid and gid alike) and how many there are. */
  readonly subStart: number;
  readonly subSize: number;

  constructor(prefix = "runts", subSize = 65536) {
    const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
    this.name = `${prefix}${tag}`.slice(0, 31);
    // Somewhere in 2^28..2^31, on a 2^16 boundary: away from real users and from each other.
    this.subStart = (0x1000 + Math.floor(Math.random() * 0x6000)) * 0x10000;
    this.subSize = subSize;
    this.home = `/tmp/${this.name}-home`;
    run("useradd", [
      "--system",
      "--create-home",
      "--home-dir",
      this.home,
      "--shell",
      "/bin/sh",
      "--user-group",
      this.name,
    ]);
    try {
      const range = `${this.subStart}-${this.subStart + subSize - 1}`;
      run("usermod", ["--add-subuids", range, "--add-subgids", range, this.name]);
      const id = (flag: string) => {
        const r = new Deno.Command("id", { args: [flag, this.name], stdout: "piped" }).outputSync();
        return Number(new TextDecoder().decode(r.stdout).trim());
      };
      this.uid = id("-u");
      this.gid = id("-g");
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  /** Deletes the user, its group, home and subordinate ranges. */
  remove(): void {
    run("userdel", ["--remove", "--force", this.name]);
  }
}
