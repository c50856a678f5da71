/**
 * Errors raised while reading FITS files. Every message names the file (or other source) and says what is
 * wrong with it, in one line.
 * @module
 */

/** A FITS file that cannot be read: truncated, malformed, or using a feature this reader refuses. */
export class FitsError extends Error {
  /**
   * @param message one line naming the file and what is wrong, e.g. `"x.fits: truncated data (needs 5760 bytes, has 100)"`
   */
  constructor(message: string) {
    super(message);
    this.name = "FitsError";
  }
}

/** Prefixes `what` with the source name (when known), the form every {@link FitsError} message takes. */
export function fitsMessage(source: string | undefined, what: string): string {
  return source ? `${source}: ${what}` : what;
}
