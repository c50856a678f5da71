/**
 * The image size a header claims, checked for plausibility before anything is allocated for it. A PS1
 * skycell is about 6300 pixels a side; a header claiming 1,000,000 x 1,000,000 pixels (8 MB of tile
 * descriptors is enough to say so) would otherwise make a reader allocate terabytes for its row bands.
 *
 * @example
 * ```ts
 * import { FitsHeader } from "./header.ts";
 * import { imageGeometry } from "./geometry.ts";
 * const h = FitsHeader.fromString(
 *   ["SIMPLE  =                    T", "BITPIX  =                   16", "NAXIS   =                    2",
 *    "NAXIS1  =                  300", "NAXIS2  =                  200"].map((c) => c.padEnd(80)).join(""),
 * );
 * imageGeometry(h, "x.fits"); // { width: 300, height: 200, compressed: false }
 * ```
 * @module
 */

import { FitsError, fitsMessage } from "./errors.ts";
import type { FitsHeader } from "./header.ts";

/**
 * The largest image width or height (pixels) the readers accept. PS1 skycells are 6240-6501 pixels a
 * side; anything beyond this is a damaged or hostile header, refused before any pixel buffer exists.
 */
export const MAX_IMAGE_AXIS = 16384;

/** Width and height of an image HDU, from `NAXISn` (plain) or `ZNAXISn` (tile-compressed). */
export interface ImageAxes {
  /** NAXIS1 (ZNAXIS1) of the image. */
  width: number;
  /** NAXIS2 (ZNAXIS2) of the image. */
  height: number;
  /** Whether the HDU is a tile-compressed image (`ZIMAGE = T`) and the sizes came from `ZNAXISn`. */
  compressed: boolean;
}

/**
 * The image size of an HDU header, refusing with a one-line {@link FitsError} naming `source`: an image
 * that is not 2-D (`NAXIS` below 2, or a third axis longer than 1), an axis that is missing, zero or not an
 * integer, and an axis longer than {@link MAX_IMAGE_AXIS}. Only the header is read, so this is cheap and
 * runs before any allocation sized by the image.
 */
export function imageGeometry(header: FitsHeader, source: string | undefined): ImageAxes {
  const compressed = header.get("ZIMAGE") === true;
  const z = compressed ? "Z" : "";
  const naxis = header.getNumber(`${z}NAXIS`, 0)!;
  if (!Number.isInteger(naxis) || naxis < 2 || naxis > 999) {
    throw new FitsError(fitsMessage(source, `no 2-D image (${z}NAXIS = ${header.get(`${z}NAXIS`) ?? 0})`));
  }
  const axis = (i: number): number => {
    const v = header.get(`${z}NAXIS${i}`);
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      throw new FitsError(fitsMessage(source, `invalid ${z}NAXIS${i} ${v ?? "(missing)"}`));
    }
    return n;
  };
  const width = axis(1);
  const height = axis(2);
  for (let i = 3; i <= naxis; i++) {
    if (axis(i) !== 1) {
      throw new FitsError(
        fitsMessage(source, `unsupported ${naxis}-dimensional image (${z}NAXIS${i} > 1), not a 2-D image`),
      );
    }
  }
  if (width > MAX_IMAGE_AXIS || height > MAX_IMAGE_AXIS) {
    throw new FitsError(
      fitsMessage(
        source,
        `implausible image size ${width} x ${height} pixels (${z}NAXIS1 x ${z}NAXIS2; the limit is ` +
          `${MAX_IMAGE_AXIS} a side, a PS1 skycell is about 6300)`,
      ),
    );
  }
  return { width, height, compressed };
}
