/**
 * Errors of the Zarr store layer. Every message names the store path or node that is wrong, in one line.
 * @module
 */

/** A store operation that cannot be done: a bad name, a missing node, unreadable metadata. */
export class StoreError extends Error {
  /**
   * Makes the error.
   * @param message one line naming the store path and what is wrong
   */
  constructor(message: string) {
    super(message);
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
