/**
 * Celestial WCS for sky geometry: the gnomonic (TAN) projection about a tangent point, and the TAN and
 * TAN-SIP WCS of a FITS header (as in TESS full-frame images). Pixel coordinates are FITS ones: 1-based,
 * the centre of the first pixel at (1, 1). Standard coordinates `(xi, eta)` are in degrees, `xi` positive
 * toward increasing RA, `eta` toward the north.
 *
 * @example
 * ```ts
 * import { gnomonicForward, gnomonicInverse } from "./wcs.ts";
 * const p = gnomonicForward(10.5, 20.2, 10, 20)!; // { xi, eta } in degrees
 * gnomonicInverse(p.xi, p.eta, 10, 20); // { ra: 10.5, dec: 20.2 }
 * ```
 * @module
 */

import type { FitsHeader } from "../fits/header.ts";

/** Degrees to radians. */
export const RAD: number = Math.PI / 180;

/** A position on the sky, degrees (RA in [0, 360)). */
export interface SkyPoint {
  /** Right ascension, degrees. */
  ra: number;
  /** Declination, degrees. */
  dec: number;
}

/** A WCS that cannot be read or used (another projection, no scale, a singular matrix). */
export class WcsError extends Error {
  /** @param message one line naming the keyword at fault */
  constructor(message: string) {
    super(message);
    this.name = "WcsError";
  }
}

/** RA normalised to [0, 360). */
export function normRa(ra: number): number {
  const r = ra % 360;
  return r < 0 ? r + 360 : r;
}

/**
 * Gnomonic standard coordinates `(xi, eta)` in degrees of `(ra, dec)` about the tangent point
 * `(ra0, dec0)`; null when the point is 90 degrees or more from the tangent point.
 */
export function gnomonicForward(
  ra: number,
  dec: number,
  ra0: number,
  dec0: number,
): { xi: number; eta: number } | null {
  const d = dec * RAD;
  const d0 = dec0 * RAD;
  const da = (ra - ra0) * RAD;
  const cd = Math.cos(d);
  const sd = Math.sin(d);
  const cd0 = Math.cos(d0);
  const sd0 = Math.sin(d0);
  const cda = Math.cos(da);
  const cosC = sd * sd0 + cd * cd0 * cda;
  if (!(cosC > 1e-9)) return null;
  return { xi: (cd * Math.sin(da)) / cosC / RAD, eta: (sd * cd0 - cd * sd0 * cda) / cosC / RAD };
}

/** The sky position of gnomonic standard coordinates `(xi, eta)` (degrees) about `(ra0, dec0)`. */
export function gnomonicInverse(xi: number, eta: number, ra0: number, dec0: number): SkyPoint {
  const x = xi * RAD;
  const y = eta * RAD;
  const d0 = dec0 * RAD;
  const denom = Math.cos(d0) - y * Math.sin(d0);
  const ra = ra0 + Math.atan2(x, denom) / RAD;
  const dec = Math.atan2(Math.sin(d0) + y * Math.cos(d0), Math.hypot(x, denom)) / RAD;
  return { ra: normRa(ra), dec };
}

/** Unit vector of a sky position. */
export function unitVector(ra: number, dec: number): [number, number, number] {
  const a = ra * RAD;
  const d = dec * RAD;
  return [Math.cos(d) * Math.cos(a), Math.cos(d) * Math.sin(a), Math.sin(d)];
}

/** Sky position of a (not necessarily unit) vector. */
export function vectorToSky(v: readonly number[]): SkyPoint {
  const n = Math.hypot(v[0], v[1], v[2]);
  return {
    ra: normRa(Math.atan2(v[1], v[0]) / RAD),
    dec: Math.asin(Math.max(-1, Math.min(1, v[2] / n))) / RAD,
  };
}

/** Angular separation of two sky positions, degrees. */
export function separation(a: SkyPoint, b: SkyPoint): number {
  const u = unitVector(a.ra, a.dec);
  const v = unitVector(b.ra, b.dec);
  const dx = u[0] - v[0];
  const dy = u[1] - v[1];
  const dz = u[2] - v[2];
  return (2 * Math.asin(Math.min(1, Math.hypot(dx, dy, dz) / 2))) / RAD;
}

/** SIP distortion polynomials: `A_p_q`, `B_p_q` as `coeffs[p][q]`, applied to pixel offsets. */
export interface SipDistortion {
  /** `A_ORDER`. */
  aOrder: number;
  /** `B_ORDER`. */
  bOrder: number;
  /** `A_p_q` indexed `[p][q]` (zero where absent). */
  a: number[][];
  /** `B_p_q` indexed `[p][q]` (zero where absent). */
  b: number[][];
}

/** A TAN or TAN-SIP celestial WCS. */
export interface CelestialWcs {
  /** `CRVAL1`, `CRVAL2`: the tangent point, degrees. */
  crval: [number, number];
  /** `CRPIX1`, `CRPIX2`: the reference pixel (1-based). */
  crpix: [number, number];
  /** `[[CD1_1, CD1_2], [CD2_1, CD2_2]]`, degrees per pixel. */
  cd: [[number, number], [number, number]];
  /** SIP forward distortion when `CTYPE` ends in `-SIP`, else null. */
  sip: SipDistortion | null;
  /** Image size `NAXIS1`, `NAXIS2` (`ZNAXIS1/2` for a tile-compressed image), when known. */
  naxis: [number, number] | null;
}

/**
 * The linear part of a header's celestial WCS, degrees per pixel: `CD`, else `CDELT` times `PC` (`PCi_j`
 * or the old `PC00i00j`), or null when the header has no scale.
 */
export function linearPart(h: FitsHeader): [[number, number], [number, number]] | null {
  const num = (k: string) => h.getNumber(k);
  const cdKeys = ["CD1_1", "CD1_2", "CD2_1", "CD2_2"];
  if (cdKeys.some((k) => num(k) !== undefined)) {
    const [a, b, c, d] = cdKeys.map((k) => num(k) ?? 0);
    return [[a, b], [c, d]];
  }
  const cdelt1 = num("CDELT1");
  const cdelt2 = num("CDELT2");
  if (cdelt1 === undefined || cdelt2 === undefined) return null;
  const pc = (i: number, j: number) => num(`PC${i}_${j}`) ?? num(`PC00${i}00${j}`) ?? (i === j ? 1 : 0);
  return [
    [cdelt1 * pc(1, 1), cdelt1 * pc(1, 2)],
    [cdelt2 * pc(2, 1), cdelt2 * pc(2, 2)],
  ];
}

function readSipPolynomial(h: FitsHeader, letter: "A" | "B", order: number): number[][] {
  const c: number[][] = [];
  for (let p = 0; p <= order; p++) {
    c.push([]);
    for (let q = 0; q <= order; q++) c[p].push(p + q <= order ? h.getNumber(`${letter}_${p}_${q}`) ?? 0 : 0);
  }
  return c;
}

/**
 * The celestial WCS of a header: `RA---TAN`/`DEC--TAN` or `RA---TAN-SIP`/`DEC--TAN-SIP`, with the linear
 * part from `CDi_j`, or `CDELTi` times `PCi_j` (or PS1's old `PC00i00j`). Returns null when the header has
 * no celestial WCS (no `CTYPE1`, `CRVAL`, `CRPIX` or scale); throws {@link WcsError} for one it cannot use
 * (another projection, a non-default `LONPOLE`, a singular matrix).
 */
export function readCelestialWcs(h: FitsHeader): CelestialWcs | null {
  const ctype1 = (h.getString("CTYPE1") ?? "").trim();
  const ctype2 = (h.getString("CTYPE2") ?? "").trim();
  const crval1 = h.getNumber("CRVAL1");
  const crval2 = h.getNumber("CRVAL2");
  const crpix1 = h.getNumber("CRPIX1");
  const crpix2 = h.getNumber("CRPIX2");
  const cd = linearPart(h);
  if (
    ctype1 === "" || crval1 === undefined || crval2 === undefined || crpix1 === undefined ||
    crpix2 === undefined || !cd
  ) {
    return null;
  }
  const m1 = /^RA-+TAN(-SIP)?$/.exec(ctype1);
  const m2 = /^DEC-+TAN(-SIP)?$/.exec(ctype2);
  if (!m1 || !m2) {
    throw new WcsError(
      `CTYPE1/2 = ${JSON.stringify(ctype1)}/${JSON.stringify(ctype2)}: only RA---TAN(-SIP)/DEC--TAN(-SIP)`,
    );
  }
  const lonpole = h.getNumber("LONPOLE");
  if (lonpole !== undefined && lonpole !== 180) {
    throw new WcsError(`LONPOLE = ${lonpole}: only the TAN default 180 is supported`);
  }
  const det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
  if (!(Math.abs(det) > 0) || !Number.isFinite(det)) {
    throw new WcsError("WCS matrix (CD or CDELT x PC) is singular");
  }
  let sip: SipDistortion | null = null;
  if (m1[1] || m2[1]) {
    const aOrder = h.getNumber("A_ORDER") ?? 0;
    const bOrder = h.getNumber("B_ORDER") ?? 0;
    sip = { aOrder, bOrder, a: readSipPolynomial(h, "A", aOrder), b: readSipPolynomial(h, "B", bOrder) };
  }
  const compressed = h.get("ZIMAGE") === true;
  const n1 = h.getNumber(compressed ? "ZNAXIS1" : "NAXIS1");
  const n2 = h.getNumber(compressed ? "ZNAXIS2" : "NAXIS2");
  return {
    crval: [crval1, crval2],
    crpix: [crpix1, crpix2],
    cd,
    sip,
    naxis: n1 !== undefined && n2 !== undefined && n1 > 0 && n2 > 0 ? [n1, n2] : null,
  };
}

function polynomial(c: number[][], order: number, u: number, v: number): number {
  let s = 0;
  let up = 1;
  for (let p = 0; p <= order; p++) {
    let vq = 1;
    for (let q = 0; p + q <= order; q++) {
      s += c[p][q] * up * vq;
      vq *= v;
    }
    up *= u;
  }
  return s;
}

/** Sky position of FITS pixel `(x, y)` (1-based), SIP distortion included. */
export function pixelToSky(wcs: CelestialWcs, x: number, y: number): SkyPoint {
  let u = x - wcs.crpix[0];
  let v = y - wcs.crpix[1];
  if (wcs.sip) {
    const du = polynomial(wcs.sip.a, wcs.sip.aOrder, u, v);
    const dv = polynomial(wcs.sip.b, wcs.sip.bOrder, u, v);
    u += du;
    v += dv;
  }
  const xi = wcs.cd[0][0] * u + wcs.cd[0][1] * v;
  const eta = wcs.cd[1][0] * u + wcs.cd[1][1] * v;
  return gnomonicInverse(xi, eta, wcs.crval[0], wcs.crval[1]);
}

/**
 * FITS pixel (1-based) of a sky position: the linear inverse, then for TAN-SIP a few Newton steps on the
 * forward distortion. Null when the position is 90 degrees or more from the tangent point.
 */
export function skyToPixel(wcs: CelestialWcs, ra: number, dec: number): { x: number; y: number } | null {
  const g = gnomonicForward(ra, dec, wcs.crval[0], wcs.crval[1]);
  if (!g) return null;
  const [[p, q], [r, s]] = wcs.cd;
  const det = p * s - q * r;
  const ut = (s * g.xi - q * g.eta) / det;
  const vt = (-r * g.xi + p * g.eta) / det;
  let u = ut;
  let v = vt;
  const sip = wcs.sip;
  if (sip) {
    const h = 1e-3;
    for (let it = 0; it < 20; it++) {
      const fu = u + polynomial(sip.a, sip.aOrder, u, v) - ut;
      const fv = v + polynomial(sip.b, sip.bOrder, u, v) - vt;
      if (Math.abs(fu) < 1e-9 && Math.abs(fv) < 1e-9) break;
      const a11 = 1 +
        (polynomial(sip.a, sip.aOrder, u + h, v) - polynomial(sip.a, sip.aOrder, u - h, v)) / (2 * h);
      const a12 = (polynomial(sip.a, sip.aOrder, u, v + h) - polynomial(sip.a, sip.aOrder, u, v - h)) /
        (2 * h);
      const a21 = (polynomial(sip.b, sip.bOrder, u + h, v) - polynomial(sip.b, sip.bOrder, u - h, v)) /
        (2 * h);
      const a22 = 1 +
        (polynomial(sip.b, sip.bOrder, u, v + h) - polynomial(sip.b, sip.bOrder, u, v - h)) / (2 * h);
      const dj = a11 * a22 - a12 * a21;
      u -= (a22 * fu - a12 * fv) / dj;
      v -= (-a21 * fu + a11 * fv) / dj;
    }
  }
  return { x: u + wcs.crpix[0], y: v + wcs.crpix[1] };
}
