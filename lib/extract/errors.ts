/**
 * Errors of the extraction: each names the skycell, array, region or file that is wrong, in one line.
 * They are raised before anything is written, so a caller can treat them as "nothing could be done".
 * @module
 */

/** An extraction that cannot be done as asked (see the subclasses). */
export class ExtractError extends Error {
  /** Creates the error. @param message one line naming what is wrong */
  constructor(message: string) {
    super(message);
    this.name = "ExtractError";
  }
}

/** The skycell is not in the store (current or legacy layout). */
export class SkycellNotFoundError extends ExtractError {
  /** Creates the error. @param message one line naming the skycell and the store */
  constructor(message: string) {
    super(message);
    this.name = "SkycellNotFoundError";
  }
}

/** The skycell has no such array (band not downloaded, weights missing in an old store, ...). */
export class ArrayNotFoundError extends ExtractError {
  /** Creates the error. @param message one line naming the skycell and the array */
  constructor(message: string) {
    super(message);
    this.name = "ArrayNotFoundError";
  }
}

/** A cutout region that is malformed, empty, outside the image, or needs a WCS the header lacks. */
export class RegionError extends ExtractError {
  /** Creates the error. @param message one line naming the region and the image */
  constructor(message: string) {
    super(message);
    this.name = "RegionError";
  }
}

/** The output file exists and overwriting was not asked for. */
export class OutputExistsError extends ExtractError {
  /** Creates the error. @param message one line naming the file */
  constructor(message: string) {
    super(message);
    this.name = "OutputExistsError";
  }
}

/**
 * The array is damaged or cannot be read (a chunk its completion marker records is gone, metadata that
 * breaks the contract, permissions): extraction refuses rather than fill the gap with the fill value.
 */
export class ArrayDamagedError extends ExtractError {
  /** Creates the error. @param message one line naming the array and the first piece of evidence */
  constructor(message: string) {
    super(message);
    this.name = "ArrayDamagedError";
  }
}
