/**
 * Footprints on the sky and the PS1 skycells that cover them. A footprint is a closed polygon of sky
 * positions with short edges (a cone, the celestial WCS of a FITS image, a TESS CCD's 2048 x 2048 science
 * area); {@link skycellsForFootprint} turns it into the download's skycell list without a mapping CSV:
 *
 * - main: every skycell (overlap bounds included, in every projection cell) that the footprint touches,
 *   found exactly by intersecting the footprint, projected into each nearby projection cell's tangent
 *   plane, with each skycell's pixel rectangle;
 * - padding: the ring of skycells around the footprint's edge, that is the eight neighbours of every main
 *   skycell that are not main themselves (across a projection cell's edge, the skycells containing where
 *   the neighbour would be);
 * - the part of the footprint south of Dec -30 (no PS1 stacks) is cut off, with a note.
 *
 * @example
 * ```ts
 * import { coneFootprint, skycellsForFootprint } from "./footprint.ts";
 * const list = skycellsForFootprint(coneFootprint(202.1, 71.3, 0.5));
 * list.skycells; // ["skycell.2556.069", ...]
 * ```
 * @module
 */

import type { SkycellList } from "../ps1/mapping.ts";
import { readFitsExtent } from "../fits/extent.ts";
import {
  cellFrame,
  GRID,
  PIXEL_SCALE_DEG,
  type ProjectionCell,
  projectionCell,
  skycellBounds,
  skycellCorners,
  skycellName,
  skycellPixelToSky,
  skycellsAt,
  skycellWcs,
  ZONES,
} from "./rings.ts";
import { ccdPixelToSky, TESS_CCD_PIXELS, tessCcd } from "./tess.ts";
import {
  type CelestialWcs,
  gnomonicInverse,
  pixelToSky,
  RAD,
  readCelestialWcs,
  separation,
  type SkyPoint,
  unitVector,
  vectorToSky,
  WcsError,
} from "./wcs.ts";

/** PS1 stacks exist north of this declination only. */
export const PS1_DEC_LIMIT = -30;
/** The largest footprint radius accepted, degrees (a TESS CCD is about 8.5). */
export const MAX_FOOTPRINT_RADIUS = 30;

/** A closed polygon on the sky with short edges. */
export interface Footprint {
  /** What it is, in one line (e.g. `TESS sector 20 camera 3 CCD 3`). */
  description: string;
  /** The boundary, in order, not repeating the first point; edges short enough to be straight lines. */
  boundary: SkyPoint[];
  /** Its corners (for a FITS image, in astropy's `WCS.calc_footprint` order and convention). */
  corners: SkyPoint[];
  /** Things worth saying about how it was made. */
  notes: string[];
}

/**
 * The skycell list of a footprint: a mapping CSV's {@link SkycellList}, from the sky instead of a file
 * (`rows` is the number of main skycells, as if each were a CSV row).
 */
export type FootprintSkycellList = Omit<SkycellList, "source"> & {
  /** Always `footprint`; `csvPath` holds the footprint's description. */
  source: "footprint";
  /** Notes (the part south of Dec -30 dropped, empty results); also in `warnings`. */
  notes: string[];
};

/** A cone (small circle) of `radiusDeg` about `(ra, dec)`; the polygon encloses the circle. */
export function coneFootprint(ra: number, dec: number, radiusDeg: number): Footprint {
  if (!(radiusDeg > 0) || radiusDeg > MAX_FOOTPRINT_RADIUS) {
    throw new RangeError(`cone radius ${radiusDeg}: must be > 0 and <= ${MAX_FOOTPRINT_RADIUS} degrees`);
  }
  if (!(dec >= -90 && dec <= 90) || !Number.isFinite(ra)) {
    throw new RangeError(`cone centre ${ra}, ${dec}: bad`);
  }
  const n = Math.min(4096, Math.max(64, Math.ceil((360 * Math.sin(radiusDeg * RAD)) / 0.05)));
  // Vertices just outside the circle so that the chords enclose it.
  const r = Math.atan(Math.tan(radiusDeg * RAD) / Math.cos(Math.PI / n));
  const boundary: SkyPoint[] = [];
  for (let i = 0; i < n; i++) {
    const pa = (2 * Math.PI * i) / n;
    const t = Math.tan(r);
    boundary.push(gnomonicInverse((t * Math.sin(pa)) / RAD, (t * Math.cos(pa)) / RAD, ra, dec));
  }
  return {
    description: `cone RA ${ra} Dec ${dec} radius ${radiusDeg} deg`,
    boundary,
    corners: [],
    notes: [],
  };
}

/** A rectangle of pixels `[x0, x1] x [y0, y1]` mapped to the sky by `toSky`, `perSide` points a side. */
function rectangleBoundary(
  toSky: (x: number, y: number) => SkyPoint,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
  perSide: number,
): SkyPoint[] {
  const out: SkyPoint[] = [];
  const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
  for (let i = 0; i < perSide; i++) out.push(toSky(lerp(x0, x1, i / perSide), y0));
  for (let i = 0; i < perSide; i++) out.push(toSky(x1, lerp(y0, y1, i / perSide)));
  for (let i = 0; i < perSide; i++) out.push(toSky(lerp(x1, x0, i / perSide), y1));
  for (let i = 0; i < perSide; i++) out.push(toSky(x0, lerp(y1, y0, i / perSide)));
  return out;
}

/**
 * The 2048 x 2048 science area of a TESS CCD on the sky, from the sector's pointing and the camera/CCD
 * model (tess.ts). Corners are the outer edges of the corner pixels.
 */
export function tessCcdFootprint(sector: number, camera: number, ccd: number): Footprint {
  const m = tessCcd(sector, camera, ccd);
  const toSky = (x: number, y: number) => ccdPixelToSky(m, x, y);
  const lo = -0.5;
  const hi = TESS_CCD_PIXELS - 0.5;
  return {
    description: `TESS sector ${sector} camera ${camera} CCD ${ccd}`,
    boundary: rectangleBoundary(toSky, lo, hi, lo, hi, 128),
    corners: [toSky(lo, lo), toSky(hi, lo), toSky(hi, hi), toSky(lo, hi)],
    notes: [],
  };
}

/** Options of {@link fitsFootprint}. */
export interface FitsFootprintOptions {
  /** HDU to read the WCS from (default: the first HDU with a celestial WCS). */
  hdu?: number;
  /**
   * For a TESS full-frame image (TELESCOP `TESS`, 2136 x 2078): true (default) keeps only the 2048 x 2048
   * science columns 45..2092 and rows 1..2048, false the whole image.
   */
  tessScienceArea?: boolean;
}

/** The footprint of a celestial WCS over pixels `[x0, x1] x [y0, y1]` (1-based edges). */
export function wcsFootprint(
  wcs: CelestialWcs,
  description: string,
  region?: { x0: number; x1: number; y0: number; y1: number },
): Footprint {
  if (!wcs.naxis && !region) throw new WcsError(`${description}: no NAXIS1/NAXIS2, so no image extent`);
  const [n1, n2] = wcs.naxis ?? [region!.x1 - 0.5, region!.y1 - 0.5];
  const r = region ?? { x0: 0.5, x1: n1 + 0.5, y0: 0.5, y1: n2 + 0.5 };
  const toSky = (x: number, y: number) => pixelToSky(wcs, x, y);
  return {
    description,
    boundary: rectangleBoundary(toSky, r.x0, r.x1, r.y0, r.y1, 64),
    corners: [toSky(1, 1), toSky(1, n2), toSky(n1, n2), toSky(n1, 1)],
    notes: [],
  };
}

/**
 * The footprint of a FITS image's celestial WCS (TAN or TAN-SIP), read from the file's headers only. The
 * boundary follows the outer pixel edges; `corners` are those of astropy's `WCS.calc_footprint` (centres of
 * the corner pixels of the whole image). Throws {@link WcsError} when no HDU has a usable WCS.
 */
export async function fitsFootprint(path: string, opts: FitsFootprintOptions = {}): Promise<Footprint> {
  const extent = await readFitsExtent(path);
  const hdus = opts.hdu !== undefined ? [extent.hdus[opts.hdu]] : extent.hdus;
  if (hdus[0] === undefined) throw new WcsError(`${path}: no HDU ${opts.hdu}`);
  for (const hdu of hdus) {
    const wcs = readCelestialWcs(hdu.header);
    if (!wcs) continue;
    const desc = `FITS ${path} HDU ${hdu.index}`;
    const h = hdu.header;
    const isFfi = (h.getString("TELESCOP") ?? "").trim() === "TESS" && wcs.naxis?.[0] === 2136 &&
      wcs.naxis?.[1] === 2078;
    if (isFfi && opts.tessScienceArea !== false) {
      const fp = wcsFootprint(wcs, desc, { x0: 44.5, x1: 2092.5, y0: 0.5, y1: 2048.5 });
      fp.notes.push(`${desc}: TESS full-frame image, science area columns 45-2092, rows 1-2048 only`);
      return fp;
    }
    return wcsFootprint(wcs, desc);
  }
  throw new WcsError(`${path}: no HDU with a celestial TAN or TAN-SIP WCS`);
}

// ---------------------------------------------------------------------------------------------------------
// Geometry helpers.

type Vec = [number, number, number];

function centreAndRadius(points: SkyPoint[]): { centre: SkyPoint; radius: number } {
  const s: Vec = [0, 0, 0];
  for (const p of points) {
    const u = unitVector(p.ra, p.dec);
    s[0] += u[0];
    s[1] += u[1];
    s[2] += u[2];
  }
  const centre = vectorToSky(s);
  let radius = 0;
  for (const p of points) radius = Math.max(radius, separation(centre, p));
  return { centre, radius };
}

/** Whether the point `(px, py)` is inside the polygon (even-odd rule). */
function insidePolygon(xs: Float64Array, ys: Float64Array, px: number, py: number): boolean {
  let inside = false;
  const n = xs.length;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    if ((ys[i] > py) !== (ys[j] > py) && px < ((xs[j] - xs[i]) * (py - ys[i])) / (ys[j] - ys[i]) + xs[i]) {
      inside = !inside;
    }
  }
  return inside;
}

/** Whether segment a-b meets the rectangle (Liang-Barsky). */
function segmentMeetsRect(
  ax: number,
  ay: number,
  bx: number,
  by: number,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
): boolean {
  let t0 = 0;
  let t1 = 1;
  const dx = bx - ax;
  const dy = by - ay;
  const p = [-dx, dx, -dy, dy];
  const q = [ax - x0, x1 - ax, ay - y0, y1 - ay];
  for (let i = 0; i < 4; i++) {
    if (p[i] === 0) {
      if (q[i] < 0) return false;
    } else {
      const t = q[i] / p[i];
      if (p[i] < 0) {
        if (t > t1) return false;
        if (t > t0) t0 = t;
      } else {
        if (t < t0) return false;
        if (t < t1) t1 = t;
      }
    }
  }
  return true;
}

function polygonMeetsRect(
  xs: Float64Array,
  ys: Float64Array,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
): boolean {
  const n = xs.length;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    if (segmentMeetsRect(xs[j], ys[j], xs[i], ys[i], x0, x1, y0, y1)) return true;
  }
  return insidePolygon(xs, ys, (x0 + x1) / 2, (y0 + y1) / 2);
}

/**
 * Cuts a sky polygon to `dec >= limit` (Sutherland-Hodgman on the sphere), walking the new edges along the
 * parallel in steps of at most 0.1 degree. Returns the polygon unchanged when it lies north of the limit.
 */
function clipSouth(boundary: SkyPoint[], limit: number): SkyPoint[] {
  if (boundary.every((p) => p.dec >= limit)) return boundary;
  const start = boundary.findIndex((p) => p.dec >= limit);
  if (start < 0) return [];
  // Start at a point north of the limit, so that every exit is followed by its entry.
  const ring = [...boundary.slice(start), ...boundary.slice(0, start)];
  const z = Math.sin(limit * RAD);
  const crossing = (a: SkyPoint, b: SkyPoint): SkyPoint => {
    const u = unitVector(a.ra, a.dec);
    const v = unitVector(b.ra, b.dec);
    const t = (z - u[2]) / (v[2] - u[2]);
    const p = vectorToSky([u[0] + t * (v[0] - u[0]), u[1] + t * (v[1] - u[1]), u[2] + t * (v[2] - u[2])]);
    return { ra: p.ra, dec: limit };
  };
  const out: SkyPoint[] = [];
  let exit: SkyPoint | null = null;
  const n = ring.length;
  for (let i = 0; i < n; i++) {
    const a = ring[i];
    const b = ring[(i + 1) % n];
    const aIn = a.dec >= limit;
    const bIn = b.dec >= limit;
    if (aIn) out.push(a);
    if (aIn && !bIn) {
      exit = crossing(a, b);
      out.push(exit);
    } else if (!aIn && bIn) {
      const entry = crossing(a, b);
      if (exit) out.push(...alongParallel(exit, entry, limit));
      out.push(entry);
      exit = null;
    }
  }
  return out;
}

function alongParallel(a: SkyPoint, b: SkyPoint, dec: number): SkyPoint[] {
  let d = b.ra - a.ra;
  if (d > 180) d -= 360;
  if (d < -180) d += 360;
  const steps = Math.ceil(Math.abs(d) / 0.1);
  const out: SkyPoint[] = [];
  for (let i = 1; i < steps; i++) out.push({ ra: (((a.ra + (d * i) / steps) % 360) + 360) % 360, dec });
  return out;
}

/** Projection cells whose area may meet the cap of `radius` degrees about `centre`. */
function cellsNear(centre: SkyPoint, radius: number): ProjectionCell[] {
  const out: ProjectionCell[] = [];
  for (const zone of ZONES) {
    const half = Math.hypot(zone.cellWidth, zone.cellHeight) / 2 * PIXEL_SCALE_DEG;
    const reach = radius + Math.atan(half * RAD) / RAD + 0.05;
    if (Math.abs(zone.dec - centre.dec) > reach + 0.5) continue;
    for (let i = 0; i < zone.cells; i++) {
      const cell = projectionCell(zone.firstCell + i);
      if (separation(centre, { ra: cell.crval1, dec: cell.crval2 }) <= reach) out.push(cell);
    }
  }
  return out;
}

/** The main skycells: those of every nearby projection cell whose pixel rectangle meets the polygon. */
function mainSkycells(boundary: SkyPoint[], centre: SkyPoint, radius: number): Set<string> {
  const main = new Set<string>();
  const n = boundary.length;
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (const cell of cellsNear(centre, radius)) {
    let ok = true;
    let xMin = Infinity;
    let xMax = -Infinity;
    let yMin = Infinity;
    let yMax = -Infinity;
    for (let i = 0; i < n; i++) {
      const f = cellFrame(cell, boundary[i].ra, boundary[i].dec);
      if (!f) {
        ok = false;
        break;
      }
      xs[i] = f.xi;
      ys[i] = f.eta;
      if (f.xi < xMin) xMin = f.xi;
      if (f.xi > xMax) xMax = f.xi;
      if (f.eta < yMin) yMin = f.eta;
      if (f.eta > yMax) yMax = f.eta;
    }
    if (!ok) continue;
    for (let j = 0; j < GRID; j++) {
      for (let k = 0; k < GRID; k++) {
        const b = skycellBounds(cell.zone, j, k);
        if (b.xiMax < xMin || b.xiMin > xMax || b.etaMax < yMin || b.etaMin > yMax) continue;
        if (polygonMeetsRect(xs, ys, b.xiMin, b.xiMax, b.etaMin, b.etaMax)) {
          main.add(skycellName(cell.id, j, k));
        }
      }
    }
  }
  return main;
}

/** The eight neighbours of a skycell; across the projection cell's edge, the skycells where it would be. */
function neighbours(name: string): string[] {
  const w = skycellWcs(name);
  const out: string[] = [];
  for (let dj = -1; dj <= 1; dj++) {
    for (let dk = -1; dk <= 1; dk++) {
      if (dj === 0 && dk === 0) continue;
      const j = w.row + dj;
      const k = w.column + dk;
      if (j >= 0 && j < GRID && k >= 0 && k < GRID) {
        out.push(skycellName(w.projection, j, k));
        continue;
      }
      const cell = projectionCell(w.projection);
      // Centre of the would-be skycell (j, k), extrapolating the grid.
      const shifted = {
        ...w,
        crpix1: w.crpix1 - dk * cell.zone.pitchX,
        crpix2: w.crpix2 - dj * cell.zone.pitchY,
      };
      const c = skycellPixelToSky(shifted, (w.naxis1 + 1) / 2, (w.naxis2 + 1) / 2);
      out.push(...skycellsAt(c.ra, c.dec));
    }
  }
  return out;
}

/** Whether a skycell lies wholly south of `limit` (all its corners are). */
function whollySouth(name: string, limit: number): boolean {
  return skycellCorners(name).every((p) => p.dec < limit);
}

/**
 * The skycells covering a footprint: main (every skycell the footprint touches, north of Dec -30) plus the
 * padding ring, as a {@link FootprintSkycellList} (sorted, unique; `csvPath` is the footprint's
 * description). Throws RangeError for a footprint larger than {@link MAX_FOOTPRINT_RADIUS}.
 */
export function skycellsForFootprint(fp: Footprint): FootprintSkycellList {
  const notes = [...fp.notes];
  if (fp.boundary.length < 3) throw new RangeError(`${fp.description}: a footprint needs at least 3 points`);
  const whole = centreAndRadius(fp.boundary);
  if (whole.radius > MAX_FOOTPRINT_RADIUS) {
    throw new RangeError(
      `${fp.description}: footprint radius ${whole.radius.toFixed(1)} deg exceeds ${MAX_FOOTPRINT_RADIUS}`,
    );
  }
  const minDec = Math.min(...fp.boundary.map((p) => p.dec));
  let boundary = fp.boundary;
  if (minDec < PS1_DEC_LIMIT) {
    boundary = clipSouth(fp.boundary, PS1_DEC_LIMIT);
    if (boundary.length < 3) {
      notes.push(`${fp.description}: wholly south of Dec ${PS1_DEC_LIMIT} (no PS1 stacks): no skycells`);
    } else {
      notes.push(
        `${fp.description}: the part south of Dec ${PS1_DEC_LIMIT} (down to Dec ${
          minDec.toFixed(2)
        }) has no PS1 stacks and was dropped`,
      );
    }
  }
  let main = new Set<string>();
  if (boundary.length >= 3) {
    const { centre, radius } = centreAndRadius(boundary);
    main = mainSkycells(boundary, centre, radius);
  }
  const pad = new Set<string>();
  for (const name of main) for (const nb of neighbours(name)) if (!main.has(nb)) pad.add(nb);
  if (minDec < PS1_DEC_LIMIT + 1) {
    for (const name of [...pad]) if (whollySouth(name, PS1_DEC_LIMIT)) pad.delete(name);
  }
  if (main.size === 0 && boundary.length >= 3) notes.push(`${fp.description}: no skycells found`);
  const mainSorted = [...main].sort();
  const padding = [...pad].sort();
  return {
    skycells: [...mainSorted, ...padding].sort(),
    rows: mainSorted.length,
    mainCount: mainSorted.length,
    paddingCount: padding.length,
    main: mainSorted,
    padding,
    csvPath: fp.description,
    source: "footprint",
    warnings: notes,
    notes,
  };
}

/** {@link skycellsForFootprint} of a cone. */
export function skycellsForCone(ra: number, dec: number, radiusDeg: number): FootprintSkycellList {
  return skycellsForFootprint(coneFootprint(ra, dec, radiusDeg));
}

/** {@link skycellsForFootprint} of a TESS sector/camera/CCD. */
export function skycellsForTessCcd(sector: number, camera: number, ccd: number): FootprintSkycellList {
  return skycellsForFootprint(tessCcdFootprint(sector, camera, ccd));
}

/** {@link skycellsForFootprint} of a FITS image's celestial WCS. */
export async function skycellsForFits(
  path: string,
  opts: FitsFootprintOptions = {},
): Promise<FootprintSkycellList> {
  return skycellsForFootprint(await fitsFootprint(path, opts));
}

/** Whether a sky position lies in any of the listed skycells (for coverage checks). */
export function coveredBy(list: Iterable<string>, ra: number, dec: number): boolean {
  const set = list instanceof Set ? list as Set<string> : new Set(list);
  return skycellsAt(ra, dec).some((s) => set.has(s));
}
