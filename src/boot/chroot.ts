/**
 * boot's own empty root (runsc's cmd/chroot.go): a read-only tmpfs holding /proc, /sys and the default
 * device nodes (what a container with a user namespace binds from its creator's root) and, because a Deno
 * process is dynamically linked and loads its modules from files, read-only binds of what a re-exec of
 * runts needs (the executable, the system libraries, the runts sources and Deno's cache).
 */
import { type Kernel, MNT_DETACH, MS, O } from "../../ffi/mod.ts";
import { CLONE } from "../../ffi/mod.ts";
import { self } from "../specutils/exe.ts";
import { log } from "../log/log.ts";
import { DEFAULT_DEVICES } from "../init/devices.ts";

/** A host path to make visible read-only at the same place inside the chroot. */
export interface ChrootBind {
  path: string;
  /** A directory (recursive bind) or a single file. */
  dir: boolean;
  /** Left writable (the log directories); everything else is read-only. */
  writable?: boolean;
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** What a re-exec of this runts needs, as host paths (symlinks are recreated, not followed). */
export function chrootBinds(k: Kernel): { binds: ChrootBind[]; symlinks: Array<[string, string]> } {
  const type = (path: string) => {
    try {
      return k.fileType(path);
    } catch {
      return null;
    }
  };
  const binds: ChrootBind[] = [];
  const symlinks: Array<[string, string]> = [];
  for (const p of ["/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin"]) {
    const t = type(p);
    if (t === "symlink") symlinks.push([k.readLink(p), p]);
    else if (t === "dir") binds.push({ path: p, dir: true });
  }
  // The nodes a container in a user namespace binds instead of mknod (src/init/devices.ts).
  for (const d of DEFAULT_DEVICES) {
    if (type(d.path) !== null) binds.push({ path: d.path, dir: false, writable: true });
  }
  const exe = self().path;
  if (!exe.startsWith("/usr/")) binds.push({ path: exe, dir: false });
  const main = Deno.mainModule.startsWith("file://") ? new URL(Deno.mainModule).pathname : "";
  if (main && !Deno.build.standalone) binds.push({ path: dirname(main), dir: true });
  const cache = Deno.env.get("DENO_DIR") ??
    (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache/deno` : "");
  if (cache && type(cache) === "dir" && !Deno.build.standalone) binds.push({ path: cache, dir: true });
  return { binds, symlinks };
}

/**
 * setUpChroot: a private mount namespace for boot's main thread, a tmpfs root with /proc and /sys (binds of
 * the host's: boot itself stays in the host pid namespace) and the re-exec binds, sealed read-only, then
 * pivot_root into it. Synchronous throughout: only the main thread moves.
 */
export function setUpChroot(k: Kernel, logDirs: readonly string[] = []): void {
  const chroot = Deno.env.get("TMPDIR") || "/tmp";
  const { binds, symlinks } = chrootBinds(k);
  const mkdirAll = (path: string) => k.mkdir(path, { recursive: true });
  // The re-executed boot reopens its logs by path, so their directories stay reachable (and writable).
  for (const d of logDirs) if (k.fileType(d) === "dir") binds.push({ path: d, dir: true, writable: true });
  k.unshare(CLONE.NEWNS);
  k.mount("", "/", "", MS.SLAVE | MS.REC);
  // Open every source first: the tmpfs about to cover the chroot directory may hide some of them.
  const sources = binds.map((b) => k.open(b.path, O.PATH | O.CLOEXEC));
  k.mount("runts-root", chroot, "tmpfs", MS.NOSUID | MS.NODEV, "mode=755");
  mkdirAll(`${chroot}/proc`);
  k.mount("/proc", `${chroot}/proc`, "", MS.BIND | MS.REC);
  // The kernel lets a user namespace's root mount sysfs only where a whole sysfs is already visible in
  // the mount namespace (as proc): a container with a user namespace needs this one.
  if (k.fileType("/sys") === "dir") {
    mkdirAll(`${chroot}/sys`);
    k.mount("/sys", `${chroot}/sys`, "", MS.BIND | MS.REC);
    k.mount("", `${chroot}/sys`, "", MS.BIND | MS.REMOUNT | MS.RDONLY);
  }
  mkdirAll(`${chroot}/etc`);
  mkdirAll(`${chroot}/tmp`); // init's staging point for the container root
  try {
    k.copyFile("/etc/localtime", `${chroot}/etc/localtime`);
  } catch (e) {
    log.warning(`copying /etc/localtime into the chroot: ${(e as Error).message}; using UTC`);
  }
  for (const [target, link] of symlinks) {
    mkdirAll(`${chroot}${dirname(link)}`);
    k.symlink(target, `${chroot}${link}`);
  }
  binds.forEach((b, i) => {
    const dest = `${chroot}${b.path}`;
    if (b.dir) {
      mkdirAll(dest);
    } else {
      mkdirAll(dirname(dest));
      k.writeFile(dest, new Uint8Array());
    }
    k.mount(`/proc/self/fd/${sources[i]}`, dest, "", MS.BIND | MS.REC);
    k.close(sources[i]);
    if (!b.writable) k.mount("", dest, "", MS.BIND | MS.REMOUNT | MS.RDONLY);
  });
  k.mount("", chroot, "", MS.REMOUNT | MS.RDONLY | MS.BIND);
  pivotRoot(k, chroot);
}

/** pivot_root into `root`, dropping the old root (runsc's pivotRoot). */
export function pivotRoot(k: Kernel, root: string): void {
  const fd = k.open(root, O.PATH | O.DIRECTORY | O.CLOEXEC);
  try {
    k.fchdir(fd);
  } finally {
    k.close(fd);
  }
  k.pivotRoot(".", ".");
  k.umount2(".", MNT_DETACH);
  k.chdir("/");
}
