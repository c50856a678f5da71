/**
 * The header cards that say what a file holds, gathered into a small plain object (it can be posted to a
 * Worker): the identity keywords `SKYCELL`, `FILTERID`/`FILTER`, and how the pixels are stored (integer or
 * float, `BSCALE`/`BZERO`, quantization). lib/ps1/identity.ts judges them against what was asked for.
 *
 * For a tile-compressed HDU the stored pixel type is `ZBITPIX` (the table's `BITPIX` is always 8) and
 * quantized floats show as `ZQUANTIZ` or a `ZSCALE` keyword or column; the image header rebuilt from it
 * (`ImageReader.imageHeader`) gives the same answer through its `BITPIX`.
 *
 * @example
 * ```ts
 * import { FitsHeader } from "./header.ts";
 * import { identityCards } from "./identity_cards.ts";
 * const h = FitsHeader.fromString(
 *   ["XTENSION= 'IMAGE   '", "BITPIX  =                   16", "BZERO   =                32768",
 *    "SKYCELL = 'skycell.2556.080'", "FILTERID= 'r.00000 '"].map((c) => c.padEnd(80)).join(""),
 * );
 * identityCards(h).skycell; // "skycell.2556.080"
 * identityCards(h).bzero;   // 32768
 * ```
 * @module
 */

import type { FitsHeader } from "./header.ts";

/** The identity and pixel-storage cards of an image HDU. */
export interface IdentityCards {
  /** `SKYCELL` value, trimmed; null when absent or blank. */
  skycell: string | null;
  /** `FILTERID` value, else `FILTER`, trimmed; null when neither is present (or both are blank). */
  filter: string | null;
  /** Which keyword `filter` came from. */
  filterKeyword: "FILTERID" | "FILTER" | null;
  /** Stored pixel type: `ZBITPIX` of a tile-compressed HDU, else `BITPIX` (0 when missing). */
  bitpix: number;
  /** `BSCALE`, or null when absent. */
  bscale: number | null;
  /** `BZERO`, or null when absent. */
  bzero: number | null;
  /**
   * How floats were quantized to integers in a tile-compressed HDU: the `ZQUANTIZ` value, or `"ZSCALE"`
   * when only a `ZSCALE` keyword or column says so; null for unquantized data (also `ZQUANTIZ = 'NONE'`).
   */
  quantized: string | null;
}

function text(header: FitsHeader, keyword: string): string | null {
  const v = header.get(keyword);
  if (v === undefined || v === null || typeof v === "object") return null;
  const s = String(v).trim();
  return s === "" ? null : s;
}

function numberOrNull(header: FitsHeader, keyword: string): number | null {
  return header.has(keyword) ? (header.getNumber(keyword) ?? null) : null;
}

/** Whether a binary table header has a column named `name` (`TTYPEn`). */
function hasColumn(header: FitsHeader, name: string): boolean {
  const n = header.getNumber("TFIELDS", 0)!;
  for (let i = 1; i <= n; i++) {
    if (header.getString(`TTYPE${i}`)?.trim().toUpperCase() === name) return true;
  }
  return false;
}

/**
 * Gathers the identity cards of an image HDU. `SKYCELL`/`FILTERID`/`FILTER` are looked up in `image`
 * first, then in `primary` when given (PS1 headers may set `INHERIT = T` and keep them in the primary HDU).
 * Accepts the HDU header as stored (a compression table with `ZIMAGE = T`) or a plain image header.
 */
export function identityCards(image: FitsHeader, primary?: FitsHeader): IdentityCards {
  const headers = primary && primary !== image ? [image, primary] : [image];
  const find = (keyword: string): string | null => {
    for (const h of headers) {
      const v = text(h, keyword);
      if (v !== null) return v;
    }
    return null;
  };
  const filterId = find("FILTERID");
  const filter = filterId ?? find("FILTER");
  const compressed = image.get("ZIMAGE") === true;
  let quantized: string | null = null;
  if (compressed) {
    const zq = text(image, "ZQUANTIZ");
    if (zq !== null && zq.toUpperCase() !== "NONE") quantized = zq;
    else if (zq === null && (image.has("ZSCALE") || hasColumn(image, "ZSCALE"))) quantized = "ZSCALE";
  }
  return {
    skycell: find("SKYCELL"),
    filter,
    filterKeyword: filterId !== null ? "FILTERID" : filter !== null ? "FILTER" : null,
    bitpix: image.getNumber(compressed ? "ZBITPIX" : "BITPIX", 0)!,
    bscale: numberOrNull(image, "BSCALE"),
    bzero: numberOrNull(image, "BZERO"),
    quantized,
  };
}
