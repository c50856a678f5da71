/**
 * Errors of the Zarr store layer. Every message names the store path or node that is wrong, in one line.
 * @module
 */

/** A store operation that cannot be done: a bad name, a missing node, unreadable metadata. */
export class StoreError extends Error {
  /**
   * Makes the error.
   * @param message one line naming the store path and what is wrong
   * @param options the cause, when another error is behind it
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}

/** A node name (group, array, skycell) that could escape the store or is not a plain name. */
export class NodeNameError extends StoreError {
  /**
   * Makes the error.
   * @param message one line naming the rejected value
   */
  constructor(message: string) {
    super(message);
    this.name = "NodeNameError";
  }
}

/** A node that was asked for and is not in the store. */
export class NodeNotFoundError extends StoreError {
  /**
   * Makes the error.
   * @param message one line naming the missing node
   */
  constructor(message: string) {
    super(message);
    this.name = "NodeNotFoundError";
  }
}

/** I/O error codes that say "cannot be read" (permissions, hardware), never "damaged". */
const UNREADABLE_CODES = new Set([
  "EACCES",
  "EPERM",
  "EIO",
  "ENXIO",
  "EBUSY",
  "ETIMEDOUT",
  "ESTALE",
  "EAGAIN",
]);

/**
 * A node or chunk that exists but cannot be read by this process (permissions, I/O errors). It is no
 * evidence of damage: the inventory reports it as `unreadable` and no cleanup removes it.
 */
export class UnreadableError extends StoreError {
  /** The system error code (`EACCES`, `EIO`, ...). */
  readonly code: string;
  /**
   * Makes the error.
   * @param message one line naming the file and the reason
   * @param code the system error code
   * @param cause the original error
   */
  constructor(message: string, code: string, cause?: unknown) {
    super(message);
    this.name = "UnreadableError";
    this.code = code;
    this.cause = cause;
  }
}

/**
 * Metadata or a chunk file that breaks the store's rules (not a regular file, a link leading out of the
 * store, larger than such a file can be, invalid JSON, an impossible shape): evidence of damage.
 */
export class DamagedNodeError extends StoreError {
  /**
   * Makes the error.
   * @param message one line naming the file and what is wrong with it
   */
  constructor(message: string) {
    super(message);
    this.name = "DamagedNodeError";
  }
}

/** The system error code of an error thrown by a file-system call (`ENOENT`, `EACCES`, ...), or "". */
export function errorCode(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "ENOENT";
  if (err instanceof Deno.errors.PermissionDenied) return "EACCES";
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : "";
}

/** True when a file-system error means "cannot be read" rather than "absent" or "damaged". */
export function isUnreadableCode(code: string): boolean {
  return UNREADABLE_CODES.has(code);
}
