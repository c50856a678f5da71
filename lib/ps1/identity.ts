/**
 * Is this file the one that was asked for? A PS1 stack file says which skycell and filter it holds
 * (`SKYCELL`, `FILTERID` or `FILTER`) and its pixel storage says whether it is a mask: a mask is integer
 * bit flags (uint16 through `BZERO = 32768`, GZIP_1), while images and weights are physical values stored
 * as int16 with a fractional `BSCALE` (asinh- or linearly scaled) or as quantized floats (`ZQUANTIZ`). A
 * mirror with swapped names, or an archive answering with the wrong file, is caught here instead of being
 * stored under the wrong name.
 *
 * Rules (each one applies only when the cards it needs are present; headers without them pass):
 * - `SKYCELL` equals the requested skycell name (trimmed, case-insensitive).
 * - The first letter of `FILTERID` (else `FILTER`) is the requested band, case-insensitive (`r.00000` is r).
 * - A mask has integer pixels: `BITPIX` (`ZBITPIX` when tile-compressed) > 0, no quantization (`ZQUANTIZ`
 *   or `ZSCALE`), `BSCALE` absent or 1 and an integer `BZERO`.
 * - An image or weight is not stored the way PS1 masks are: unscaled unsigned integers (`BITPIX 16` with
 *   `BZERO = 32768`, or `BITPIX 32` with `BZERO = 2147483648`, and `BSCALE` absent or 1). Signed integers
 *   without scaling are accepted: they are plain (unscaled) images, not masks.
 *
 * @example
 * ```ts
 * import { FitsHeader } from "../fits/header.ts";
 * import { checkIdentity } from "./identity.ts";
 * const mask = FitsHeader.fromString(
 *   ["XTENSION= 'IMAGE   '", "BITPIX  =                   16", "BZERO   =                32768",
 *    "SKYCELL = 'skycell.2556.080'", "FILTERID= 'r.00000 '"].map((c) => c.padEnd(80)).join(""),
 * );
 * checkIdentity(mask, { skycell: "skycell.2556.080", band: "r", kind: "mask" });  // null
 * checkIdentity(mask, { skycell: "skycell.2556.080", band: "r", kind: "image" }); // "an image must not ..."
 * checkIdentity(mask, { skycell: "skycell.2556.081", band: "r", kind: "mask" });  // "SKYCELL is ..."
 * ```
 * @module
 */

import { FitsHeader } from "../fits/header.ts";
import { type IdentityCards, identityCards } from "../fits/identity_cards.ts";
import type { FileKind } from "./urls.ts";

export type { IdentityCards } from "../fits/identity_cards.ts";

/** What a file is expected to be. */
export interface ExpectedIdentity {
  /** Skycell name, `skycell.PPPP.CCC`. */
  skycell: string;
  /** Band letter: g, r, i, z or y. */
  band: string;
  /** Which of the three stack files. */
  kind: FileKind;
}

function describeStorage(c: IdentityCards): string {
  const parts = [`BITPIX ${c.bitpix}`];
  if (c.bscale !== null) parts.push(`BSCALE ${c.bscale}`);
  if (c.bzero !== null) parts.push(`BZERO ${c.bzero}`);
  if (c.quantized !== null) parts.push(`quantized (${c.quantized})`);
  return parts.join(", ");
}

/** Why `c` cannot be a mask, or null when its pixels are unscaled integers. */
function notAMask(c: IdentityCards): string | null {
  if (c.bitpix < 0) return "floating-point pixels";
  if (c.quantized !== null) return "quantized floating-point pixels";
  if (c.bscale !== null && c.bscale !== 1) return "scaled pixels (BSCALE is not 1)";
  if (c.bzero !== null && !Number.isInteger(c.bzero)) return "scaled pixels (BZERO is not an integer)";
  return null;
}

/** Whether `c` is stored as PS1 masks are: unsigned 16/32-bit integers through BZERO, without scaling. */
function storedLikeMask(c: IdentityCards): boolean {
  const unsignedZero = c.bitpix === 16 ? 32768 : c.bitpix === 32 ? 2147483648 : NaN;
  return notAMask(c) === null && c.bzero === unsignedZero;
}

/**
 * Checks a file's header against what was requested. `header` is the image HDU's header as stored (a
 * tile-compression table or a plain image header, e.g. `ImageReader.imageHeader` or `Hdu.header`) or the
 * cards gathered from it ({@link identityCards}, `peekImage(...).identity`; use those to include the
 * primary header's `SKYCELL`/`FILTERID`). Returns null when nothing contradicts the request, else one line
 * saying what does (without the file name; the caller adds it).
 */
export function checkIdentity(header: FitsHeader | IdentityCards, expected: ExpectedIdentity): string | null {
  const c = header instanceof FitsHeader ? identityCards(header) : header;
  if (c.skycell !== null && c.skycell.toLowerCase() !== expected.skycell.trim().toLowerCase()) {
    return `SKYCELL is '${c.skycell}', expected ${expected.skycell}`;
  }
  if (c.filter !== null) {
    const band = c.filter[0].toLowerCase();
    if (band !== expected.band.trim().toLowerCase()) {
      return `${c.filterKeyword} is '${c.filter}' (band ${band}), expected band ${expected.band}`;
    }
  }
  // BITPIX 0 means the header did not say how pixels are stored: nothing to judge.
  if (c.bitpix === 0) return null;
  if (expected.kind === "mask") {
    const why = notAMask(c);
    if (why !== null) {
      return `a mask must have integer pixels, but the file has ${why}: ${describeStorage(c)}`;
    }
  } else if (storedLikeMask(c)) {
    return `${expected.kind === "image" ? "an image" : "a weight"} must not be stored as a mask is ` +
      `(unscaled unsigned integers): ${describeStorage(c)}`;
  }
  return null;
}
