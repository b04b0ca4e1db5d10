/** The error type of src/specutils (kept apart so every module there can throw it without import cycles). */

/** A spec (or mounts file) that cannot be read, parsed or accepted. The message names the field. */
export class SpecError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpecError";
  }
}
