/** Container ID validation (runsc's validateID, plus a guard against path tricks in the state dir). */
import { ContainerError } from "./errors.ts";

// runsc's ^[\w+-\.]+$: word characters and the range "+" .. "." (that is + , - .).
const ID_PATTERN = /^[A-Za-z0-9_+,.-]+$/;

/** Throws ContainerError("invalid") unless `id` is a usable container ID. */
export function validateID(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new ContainerError("invalid", `invalid container id: ${JSON.stringify(id)}`);
  }
  if (id.includes("..") || id === ".") {
    throw new ContainerError("invalid", `invalid container id: ${JSON.stringify(id)}`);
  }
}
