/**
 * Cutout regions: a pixel box `x0:x1,y0:y1` (0-based, end-exclusive, x along NAXIS1, y along NAXIS2, as
 * numpy's `data[y0:y1, x0:x1]`), or a box of `size` pixels around a sky position found through the header
 * WCS. And the header of a cutout: `CRPIX1/2` moved by the box origin so every pixel keeps its sky
 * position, the other cards (`CDELT`, `PC001001`-style keywords, ...) left as they are.
 *
 * @example
 * ```ts
 * import { formatRegion, parseRegion } from "./region.ts";
 * const r = parseRegion("100:300,50:250"); // { x0: 100, x1: 300, y0: 50, y1: 250 }
 * formatRegion(r); // "100:300,50:250"
 * ```
 * @module
 */

import { asFloat, formatCard, headerText, splitCards } from "../fits/card.ts";
import { FitsHeader, parseCard } from "../fits/header.ts";
import { RegionError } from "./errors.ts";
import { readTanWcs, worldToPixel } from "./wcs.ts";

/** A pixel box: columns [x0, x1) and rows [y0, y1), 0-based. */
export interface PixelRegion {
  /** First column. */
  x0: number;
  /** Column after the last. */
  x1: number;
  /** First row. */
  y0: number;
  /** Row after the last. */
  y1: number;
}

/** A sky position, degrees. */
export interface SkyPosition {
  /** Right ascension, [0, 360). */
  ra: number;
  /** Declination, [-90, 90]. */
  dec: number;
}

/** What a caller asks for: a pixel box, or `size` x `size` pixels around a sky position. */
export type RegionRequest = { pixels: PixelRegion } | { center: SkyPosition; size: number };

/** A region resolved against an image. */
export interface ResolvedRegion {
  /** The box, inside the image. */
  region: PixelRegion;
  /** True when a box around a sky position was cut at the image edge. */
  clipped: boolean;
  /** For a sky position: its FITS pixel (1-based) in the full image. */
  centerPixel?: { x: number; y: number };
}

const REGION = /^\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*$/;
const NUMBER = String.raw`[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?`;
const CENTER = new RegExp(String.raw`^\s*(${NUMBER})\s*,\s*(${NUMBER})\s*$`);

/** Parses `x0:x1,y0:y1`; throws {@link RegionError} for a malformed or empty box. */
export function parseRegion(text: string): PixelRegion {
  const m = REGION.exec(text);
  if (!m) {
    throw new RegionError(
      `invalid region ${JSON.stringify(text)} (expected x0:x1,y0:y1, 0-based pixels, end-exclusive)`,
    );
  }
  const [x0, x1, y0, y1] = m.slice(1).map(Number);
  if (![x0, x1, y0, y1].every(Number.isSafeInteger)) {
    throw new RegionError(`invalid region ${JSON.stringify(text)}: number too large`);
  }
  if (x1 <= x0 || y1 <= y0) {
    throw new RegionError(`empty region ${JSON.stringify(text)} (need x0 < x1 and y0 < y1)`);
  }
  return { x0, x1, y0, y1 };
}

/** Parses `RA,DEC` in decimal degrees; throws {@link RegionError} for a malformed or impossible position. */
export function parseCenter(text: string): SkyPosition {
  const m = CENTER.exec(text);
  if (!m) throw new RegionError(`invalid position ${JSON.stringify(text)} (expected RA,DEC in degrees)`);
  const ra = Number(m[1]);
  const dec = Number(m[2]);
  if (!(ra >= 0 && ra < 360) || !(dec >= -90 && dec <= 90)) {
    throw new RegionError(`position ${JSON.stringify(text)} out of range (0 <= RA < 360, -90 <= DEC <= 90)`);
  }
  return { ra, dec };
}

/** `x0:x1,y0:y1`. */
export function formatRegion(r: PixelRegion): string {
  return `${r.x0}:${r.x1},${r.y0}:${r.y1}`;
}

/**
 * Resolves a request against an image of `width` x `height` whose header is `header` (the stored header
 * string, needed for a sky position). A pixel box must lie inside the image. A box around a sky position
 * is centred as near as it can be on the position (an odd size on the pixel holding it, an even size on
 * the pixel corner nearest to it) and cut at the image edge (`clipped`); it is an error when nothing of it is inside. Throws
 * {@link RegionError} naming the region and the image.
 */
export function resolveRegion(
  request: RegionRequest,
  width: number,
  height: number,
  header: string | undefined,
): ResolvedRegion {
  if ("pixels" in request) {
    const r = request.pixels;
    const valid = [r.x0, r.x1, r.y0, r.y1].every(Number.isSafeInteger) && r.x0 >= 0 && r.y0 >= 0 &&
      r.x0 < r.x1 && r.y0 < r.y1;
    if (!valid) throw new RegionError(`invalid region ${formatRegion(r)}`);
    if (r.x1 > width || r.y1 > height) {
      throw new RegionError(
        `region ${formatRegion(r)} is outside the image (${width} x ${height}: x < ${width}, y < ${height})`,
      );
    }
    return { region: { ...r }, clipped: false };
  }
  const { center, size } = request;
  if (!Number.isSafeInteger(size) || size < 1) throw new RegionError(`invalid cutout size ${size}`);
  const wcs = header === undefined ? null : readTanWcs(FitsHeader.fromString(header));
  if (!wcs) {
    throw new RegionError("a cutout around RA,DEC needs a WCS (CRVAL, CRPIX, CDELT or CD) in the header");
  }
  const where = `${center.ra},${center.dec}`;
  const p = worldToPixel(wcs, center.ra, center.dec);
  if (!p) throw new RegionError(`position ${where} is on the far side of the image's projection`);
  // FITS pixel p is 0-based pixel p - 1, which covers [p - 1.5, p - 0.5): the box [x0 - 0.5, x0 + size - 0.5)
  // whose centre is nearest to the position starts at round(p - 1 + 0.5 - size / 2).
  const x0 = Math.round(p.x - 0.5 - size / 2);
  const y0 = Math.round(p.y - 0.5 - size / 2);
  const region = {
    x0: Math.max(0, x0),
    x1: Math.min(width, x0 + size),
    y0: Math.max(0, y0),
    y1: Math.min(height, y0 + size),
  };
  if (region.x0 >= region.x1 || region.y0 >= region.y1) {
    throw new RegionError(
      `position ${where} (pixel ${p.x.toFixed(1)}, ${
        p.y.toFixed(1)
      }) with size ${size} is outside the image (${width} x ${height})`,
    );
  }
  const clipped = region.x0 !== x0 || region.y0 !== y0 || region.x1 !== x0 + size || region.y1 !== y0 + size;
  return { region, clipped, centerPixel: p };
}

const CRPIX = /^CRPIX([12])[A-Z]?$/;

/**
 * The stored header of a cutout: `CRPIXn` (and `CRPIXna` of alternate WCSs) reduced by the box origin, in
 * place and with their comments; every other card as it was. Returns the header (undefined stays
 * undefined) and the keywords it changed.
 */
export function cutoutHeader(
  stored: string | undefined,
  region: PixelRegion,
): { header: string | undefined; shifted: string[] } {
  if (stored === undefined) return { header: undefined, shifted: [] };
  const shifted: string[] = [];
  const cards = splitCards(stored).map((text) => {
    const card = parseCard(text);
    const m = CRPIX.exec(card.keyword);
    if (!m || typeof card.value !== "number") return text;
    shifted.push(card.keyword);
    const shift = m[1] === "1" ? region.x0 : region.y0;
    return formatCard(card.keyword, asFloat(card.value - shift), card.comment);
  });
  return { header: headerText(cards), shifted };
}

/**
 * `HISTORY` cards saying where a cutout came from: the box, the full image size, the `CRPIX` keywords that
 * were shifted, and `source` (characters a header cannot hold, e.g. non-ASCII ones in a path, become `?`).
 */
export function cutoutHistory(
  region: PixelRegion,
  width: number,
  height: number,
  source: string,
  shifted: readonly string[] = [],
): string[] {
  const lines = [
    `cutout x ${region.x0}:${region.x1}, y ${region.y0}:${region.y1} (0-based, end-exclusive) of a ` +
    `${width} x ${height} image`,
    `cutout source: ${source.replace(/[^\x20-\x7e]/g, "?")}`,
  ];
  if (shifted.length > 0) {
    const by = (k: string) => `${k} - ${k.startsWith("CRPIX1") ? region.x0 : region.y0}`;
    lines.push(`cutout WCS: ${shifted.map(by).join(", ")}; other WCS cards unchanged`);
  }
  return lines.map((text) => formatCard("HISTORY", text));
}
