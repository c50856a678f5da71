/**
 * The size of a FITS file's image from its headers alone, reading only the header blocks (a few KB of a
 * 70 MB file): the HDU the toolkit reads (extension 1 when present, else the primary), its width and
 * height (`ZNAXISn` for a tile-compressed image), whether the file is long enough to hold it, where its
 * HDUs end (bytes after them are ignored with a warning) and the cards that say what it holds.
 *
 * @example
 * ```ts ignore
 * const info = await peekImage("rings.v3.skycell.2556.080.stk.r.unconv.fits");
 * info.width; info.height; info.compression; // 6300 6284 "RICE_1"
 * info.identity.skycell;                     // "skycell.2556.080"
 * ```
 * @module
 */

import { FitsError, fitsMessage } from "./errors.ts";
import { fitsExtentOf } from "./extent.ts";
import { imageGeometry } from "./geometry.ts";
import { type IdentityCards, identityCards } from "./identity_cards.ts";

/** What the headers say about the image. */
export interface ImageGeometry {
  /** NAXIS1 of the image. */
  width: number;
  /** NAXIS2 of the image. */
  height: number;
  /** HDU index read (0 or 1). */
  hdu: number;
  /** `ZCMPTYPE` of a tile-compressed image, else null. */
  compression: string | null;
  /** File size in bytes. */
  fileBytes: number;
  /** Byte offset after the last HDU: the FITS data are `[0, end)`. */
  end: number;
  /** Bytes after the last HDU (`fileBytes - end`), not FITS data and ignored. */
  trailingBytes: number;
  /** One line naming the file and the ignored trailing bytes, or null when there are none. */
  warning: string | null;
  /** `SKYCELL`, `FILTERID`/`FILTER` and the pixel storage cards, for lib/ps1/identity.ts. */
  identity: IdentityCards;
}

/**
 * Reads the headers of `path` and returns the image geometry. Throws {@link FitsError} naming the file for
 * something that is not FITS (e.g. an HTML error page), a truncated file, an HDU that is not an image, or
 * an image that is not 2-D or larger than `MAX_IMAGE_AXIS` (geometry.ts) a side. Nothing is allocated by
 * the image size. Bytes after the last HDU do not fail: they are reported in `trailingBytes`/`warning`.
 */
export async function peekImage(path: string, source: string = path): Promise<ImageGeometry> {
  const file = await Deno.open(path, { read: true });
  let extent;
  try {
    extent = await fitsExtentOf(file, source);
  } finally {
    file.close();
  }
  const { hdus } = extent;
  const chosen = hdus.length > 1 ? hdus[1] : hdus[0];
  const h = chosen.header;
  const compressed = h.get("ZIMAGE") === true;
  if (chosen.index > 0 && !compressed && h.getString("XTENSION")?.trim() !== "IMAGE") {
    throw new FitsError(fitsMessage(source, `extension 1 is not an image`));
  }
  const { width, height } = imageGeometry(h, source);
  return {
    width,
    height,
    hdu: chosen.index,
    compression: compressed ? (h.getString("ZCMPTYPE")?.trim() ?? "?") : null,
    fileBytes: extent.fileBytes,
    end: extent.end,
    trailingBytes: extent.trailingBytes,
    warning: extent.warning,
    identity: identityCards(h, chosen.index > 0 ? hdus[0].header : undefined),
  };
}
