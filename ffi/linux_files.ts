/** Real whole-file calls (see FileCalls): Deno's synchronous file APIs, their errors as SyscallErrors. */
import type { FileCalls } from "./kernel.ts";
import { SyscallError } from "./error.ts";

/** Runs `fn`; a Deno file error becomes a SyscallError of `call` on `arg` with the OS's errno. */
function wrap<T>(call: string, arg: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const errno = e instanceof Error ? /\(os error (\d+)\)/.exec(e.message)?.[1] : undefined;
    if (errno === undefined) throw e;
    throw new SyscallError(call, arg, Number(errno));
  }
}

/** The real whole-file calls. */
export const linuxFiles: FileCalls = {
  readFile(path) {
    return wrap("readfile", path, () => Deno.readFileSync(path));
  },
  readTextFile(path) {
    return wrap("readfile", path, () => Deno.readTextFileSync(path));
  },
  writeFile(path, data, opts = {}) {
    const o = { mode: opts.mode, createNew: opts.createNew };
    wrap(
      "writefile",
      path,
      () =>
        typeof data === "string" ? Deno.writeTextFileSync(path, data, o) : Deno.writeFileSync(path, data, o),
    );
  },
  readLink(path) {
    return wrap("readlink", path, () => Deno.readLinkSync(path));
  },
  fileType(path) {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      return wrap("lstat", path, () => {
        throw e;
      });
    }
    return st.isSymlink ? "symlink" : st.isDirectory ? "dir" : st.isFile ? "file" : "other";
  },
  mkdir(path, opts = {}) {
    wrap("mkdir", path, () => Deno.mkdirSync(path, opts));
  },
  readDir(path) {
    return wrap(
      "readdir",
      path,
      () => [...Deno.readDirSync(path)].map((e) => ({ name: e.name, isDirectory: e.isDirectory })),
    );
  },
  remove(path, opts = {}) {
    wrap("remove", path, () => Deno.removeSync(path, opts));
  },
  rename(from, to) {
    wrap("rename", `${from} to ${to}`, () => Deno.renameSync(from, to));
  },
  symlink(target, path) {
    wrap("symlink", `${path} -> ${target}`, () => Deno.symlinkSync(target, path));
  },
  copyFile(from, to) {
    wrap("copyfile", `${from} to ${to}`, () => Deno.copyFileSync(from, to));
  },
};
