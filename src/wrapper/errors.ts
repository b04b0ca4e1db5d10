/** The error type of src/container and src/sandbox: a container-level failure with a runc-like message. */

/** What went wrong, so commands can choose their wording and exit code. */
export type ContainerErrorKind = "not-exist" | "exists" | "not-running" | "bad-state" | "invalid" | "failed";

/** A container operation that cannot be done; the message is meant for the user as is. */
export class ContainerError extends Error {
  /** The category of the failure. */
  readonly kind: ContainerErrorKind;

  constructor(kind: ContainerErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ContainerError";
    this.kind = kind;
  }
}
