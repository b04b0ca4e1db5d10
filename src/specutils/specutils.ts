/**
 * Reading and checking the OCI spec (runsc's specutils): the spec from an inherited fd, the mounts file,
 * and the debug dump of the spec.
 */
import { MAX_SPEC_BYTES, readAll } from "./read_all.ts";
import type { Kernel } from "../../ffi/mod.ts";
import { SpecError } from "./errors.ts";
import { absOf, clean, isAbs, join } from "./path.ts";
import type { Mount, Spec } from "./spec.ts";
import { validateMounts, validateSpec } from "./validate.ts";
import { describe } from "./spec_shape.ts";
import { isBindMount } from "./mount_options.ts";

export { SpecError } from "./errors.ts";
export { validateMount, validateSpec } from "./validate.ts";

/** A logger that takes debug lines (src/log/log.ts's Logger fits). */
export interface DebugLogger {
  debug(m: string): void;
}

/** How much of an unparsable file an error message quotes. */
const EXCERPT_BYTES = 4096;
const SEEK_SET = 0;

/**
 * Reads the spec from `fd` (runsc's ReadSpecFromFile): seeks to offset 0 first, so every re-exec stage can
 * re-read the same inherited fd; reads to EOF; parses (JSON nulls in objects are dropped, as Go's decoder
 * leaves nil); validates (warnings go to `onWarning`); then makes paths absolute against `bundleDir` (see
 * normalizeSpec). Every failure is a SpecError.
 */
export function readSpecFromFile(
  k: Kernel,
  bundleDir: string,
  fd: number,
  onWarning?: (message: string) => void,
): Spec {
  let text: string;
  try {
    k.lseek(fd, 0, SEEK_SET);
    text = decode(readAll(k, fd));
  } catch (e) {
    throw new SpecError(`error reading spec: ${errorText(e)}`, { cause: e });
  }
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (e) {
    throw new SpecError(`error unmarshaling spec: ${errorText(e)}\nJSON bytes:\n${excerpt(text)}`, {
      cause: e,
    });
  }
  const spec = value as Spec;
  for (const w of validateSpec(spec)) onWarning?.(w);
  normalizeSpec(spec, bundleDir);
  return spec;
}

/**
 * Makes `root.path` absolute against `bundleDir`, and the relative non-empty source of every bind mount
 * (type "bind", or a bind/rbind option). Absolute paths are kept as written; relative ones are joined and
 * cleaned. A relative `bundleDir` is taken against the current directory.
 *
 * Deviation from runsc, which joins the source of every mount: a `proc`/`tmpfs`/`sysfs` source is a label,
 * not a path, and turning "tmpfs" into "/bundle/tmpfs" would only make /proc/mounts lie.
 */
export function normalizeSpec(spec: Spec, bundleDir: string): void {
  const base = isAbs(bundleDir) ? clean(bundleDir) : join(Deno.cwd(), bundleDir);
  if (spec.root?.path) spec.root.path = absOf(base, spec.root.path);
  for (const m of spec.mounts ?? []) {
    if (m.source && isBindMount(m)) m.source = absOf(base, m.source);
  }
}

/**
 * Reads the mounts file from `fd` to EOF (runsc's ReadMounts; no seek), parses it as a JSON array of
 * mounts (`null` is an empty list) and validates each one. Errors: `error reading mounts: …`,
 * `error unmarshaling mounts: …` (with the bytes), or a SpecError naming the bad mount.
 */
export function readMounts(k: Kernel, fd: number): Mount[] {
  let text: string;
  try {
    text = decode(readAll(k, fd));
  } catch (e) {
    throw new SpecError(`error reading mounts: ${errorText(e)}`, { cause: e });
  }
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (e) {
    throw new SpecError(`error unmarshaling mounts: ${errorText(e)}\nJSON bytes:\n${excerpt(text)}`, {
      cause: e,
    });
  }
  if (value === null) return [];
  if (!Array.isArray(value)) {
    throw new SpecError(
      `error unmarshaling mounts: expected a JSON array, got ${describe(value)}\nJSON bytes:\n${
        excerpt(text)
      }`,
    );
  }
  return validateMounts(value);
}

/**
 * Logs `Spec:\n` and the indented JSON of the spec at debug level (runsc's LogSpec), leaving out the
 * bulky and sensitive parts: process.capabilities, linux.seccomp, linux.maskedPaths, linux.readonlyPaths
 * and linux.resources.devices. Does nothing unless `debugEnabled`, so callers skip the serialisation cost.
 */
export function logSpec(spec: Spec, log: DebugLogger, debugEnabled = true): void {
  if (!debugEnabled) return;
  const trimmed: Spec = {
    ...spec,
    process: spec.process && { ...spec.process, capabilities: undefined },
    linux: spec.linux && {
      ...spec.linux,
      seccomp: undefined,
      maskedPaths: undefined,
      readonlyPaths: undefined,
      resources: spec.linux.resources && { ...spec.linux.resources, devices: undefined },
    },
  };
  let text: string;
  try {
    text = JSON.stringify(trimmed, null, 2);
  } catch (e) {
    text = `<cannot print the spec: ${errorText(e)}>`;
  }
  log.debug(`Spec:\n${text}`);
}

function decode(bytes: Uint8Array): string {
  // Invalid UTF-8 becomes U+FFFD, as Go's decoder does.
  return new TextDecoder().decode(bytes);
}

/** JSON.parse, dropping `null` object members (not array elements) so they read as absent. */
function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text, function (this: unknown, _key: string, v: unknown) {
    return v === null && !Array.isArray(this) ? undefined : v;
  });
  // The top-level value passes through the reviver too: a bare `null` comes back undefined.
  return value === undefined ? null : value;
}

function excerpt(text: string): string {
  if (text.length <= EXCERPT_BYTES) return text;
  return `${text.slice(0, EXCERPT_BYTES)}\n… (${text.length - EXCERPT_BYTES} more characters)`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export { MAX_SPEC_BYTES, readAll };
