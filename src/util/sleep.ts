/** Blocking sleep for code that must stay synchronous (after a namespace change, or between sync syscalls). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
