/**
 * The celestial WCS of a skycell header, as far as cutouts need it: a gnomonic (`TAN`) projection with
 * `CRVAL1/2`, `CRPIX1/2` and a linear part given by `CDi_j`, or by `CDELTi` with a `PCi_j` matrix or the old
 * `PC00i00j` keywords of PS1 headers (identity when absent). Pixel coordinates are FITS ones: 1-based, the
 * centre of the first pixel at (1, 1).
 *
 * @example
 * ```ts
 * import { FitsHeader } from "../fits/header.ts";
 * import { formatCard } from "../fits/card.ts";
 * import { pixelToWorld, readTanWcs } from "./wcs.ts";
 * const cards = [
 *   formatCard("CTYPE1", "RA---TAN"), formatCard("CTYPE2", "DEC--TAN"),
 *   formatCard("CRVAL1", 10), formatCard("CRVAL2", 20), formatCard("CRPIX1", 100), formatCard("CRPIX2", 100),
 *   formatCard("CDELT1", -0.0001), formatCard("CDELT2", 0.0001),
 * ];
 * const wcs = readTanWcs(FitsHeader.fromString(cards.join("")))!;
 * pixelToWorld(wcs, 100, 100); // { ra: 10, dec: 20 }
 * ```
 * @module
 */

import { linearPart } from "../sky/wcs.ts";
import type { FitsHeader } from "../fits/header.ts";
import { RegionError } from "./errors.ts";

/** A TAN projection: reference point, reference pixel and the CD matrix (degrees per pixel). */
export interface TanWcs {
  /** `CRVAL1`, `CRVAL2`: RA and Dec of the reference point, degrees. */
  crval: [number, number];
  /** `CRPIX1`, `CRPIX2`: the reference pixel (1-based). */
  crpix: [number, number];
  /** `[[CD1_1, CD1_2], [CD2_1, CD2_2]]`, degrees per pixel. */
  cd: [[number, number], [number, number]];
}

const RAD = Math.PI / 180;

/**
 * Reads the TAN WCS of a header. Returns null when the header has no celestial WCS (no `CRVAL`/`CRPIX`
 * or no scale); throws {@link RegionError} for one this module cannot invert (another projection,
 * distortion terms, a non-default `LONPOLE`, a singular matrix), naming the keyword.
 */
export function readTanWcs(h: FitsHeader): TanWcs | null {
  const crval1 = h.getNumber("CRVAL1");
  const crval2 = h.getNumber("CRVAL2");
  const crpix1 = h.getNumber("CRPIX1");
  const crpix2 = h.getNumber("CRPIX2");
  const cd = linearPart(h);
  if (crval1 === undefined || crval2 === undefined || crpix1 === undefined || crpix2 === undefined || !cd) {
    return null;
  }
  const ctype1 = (h.getString("CTYPE1") ?? "").trim();
  const ctype2 = (h.getString("CTYPE2") ?? "").trim();
  if (!/^RA-+TAN$/.test(ctype1) || !/^DEC-+TAN$/.test(ctype2)) {
    throw new RegionError(
      `header WCS CTYPE1/2 = ${JSON.stringify(ctype1)}/${
        JSON.stringify(ctype2)
      }: only RA---TAN/DEC--TAN is supported`,
    );
  }
  const lonpole = h.getNumber("LONPOLE");
  if (lonpole !== undefined && lonpole !== 180) {
    throw new RegionError(`header WCS LONPOLE = ${lonpole}: only the TAN default 180 is supported`);
  }
  const det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
  if (!(Math.abs(det) > 0) || !Number.isFinite(det)) {
    throw new RegionError("header WCS matrix (CD or CDELT x PC) is singular");
  }
  return { crval: [crval1, crval2], crpix: [crpix1, crpix2], cd };
}

/** Sky position (degrees, RA in [0, 360)) of FITS pixel (x, y), 1-based. */
export function pixelToWorld(wcs: TanWcs, x: number, y: number): { ra: number; dec: number } {
  const dx = x - wcs.crpix[0];
  const dy = y - wcs.crpix[1];
  // Intermediate world coordinates (the standard coordinates xi, eta), radians.
  const xi = (wcs.cd[0][0] * dx + wcs.cd[0][1] * dy) * RAD;
  const eta = (wcs.cd[1][0] * dx + wcs.cd[1][1] * dy) * RAD;
  const dec0 = wcs.crval[1] * RAD;
  const denom = Math.cos(dec0) - eta * Math.sin(dec0);
  const ra = wcs.crval[0] * RAD + Math.atan2(xi, denom);
  const dec = Math.atan2(Math.sin(dec0) + eta * Math.cos(dec0), Math.hypot(xi, denom));
  return { ra: (((ra / RAD) % 360) + 360) % 360, dec: dec / RAD };
}

/**
 * FITS pixel (x, y), 1-based, of a sky position (degrees). Null when the position is 90 degrees or more
 * from the reference point (it has no image on the tangent plane).
 */
export function worldToPixel(wcs: TanWcs, ra: number, dec: number): { x: number; y: number } | null {
  const a = ra * RAD;
  const d = dec * RAD;
  const a0 = wcs.crval[0] * RAD;
  const d0 = wcs.crval[1] * RAD;
  const cosC = Math.sin(d) * Math.sin(d0) + Math.cos(d) * Math.cos(d0) * Math.cos(a - a0);
  if (!(cosC > 0)) return null;
  const xi = (Math.cos(d) * Math.sin(a - a0)) / cosC / RAD;
  const eta = (Math.sin(d) * Math.cos(d0) - Math.cos(d) * Math.sin(d0) * Math.cos(a - a0)) / cosC / RAD;
  const [[p, q], [r, s]] = wcs.cd;
  const det = p * s - q * r;
  return {
    x: wcs.crpix[0] + (s * xi - q * eta) / det,
    y: wcs.crpix[1] + (-r * xi + p * eta) / det,
  };
}
