/**
 * The PS1 RINGS.V3 tessellation: 2644 projection cells on 46 declination zones, each cut into a 10 x 10
 * grid of skycells sharing the projection cell's tangent point (CRVAL) and one TAN projection of 0.25 arcsec
 * pixels; neighbouring skycells overlap by 480 pixels (240 each side). From a sky position, every skycell
 * containing it; from a skycell name, its WCS and its corners on the sky.
 *
 * Rules and checks are those of `shared/docs/sky-geometry.md`. Two things are not pinned down by the
 * archive and are marked where they are used: the y pitch of zones other than the four known ones (an
 * empirical rule that matches three of them), and the CRPIX convention (checked on skycell.2556.080 only).
 *
 * Pixel frame of a projection cell: with `(xi, eta)` the gnomonic coordinates of a point about CRVAL in
 * pixels (`xi` positive toward increasing RA), skycell `(j, k)` has pixel `x = CRPIX1 - xi`,
 * `y = CRPIX2 + eta`, with `CRPIX1 = cellWidth / 2 - k * pitchX` and `CRPIX2 = cellHeight / 2 - j * pitchY`,
 * and contains the point when `0.5 <= x <= NAXIS1 + 0.5` and `0.5 <= y <= NAXIS2 + 0.5`.
 *
 * @example
 * ```ts
 * import { skycellsAt, skycellWcs } from "./rings.ts";
 * skycellsAt(202.115764, 71.339009); // ["skycell.2556.080", "skycell.2557.0..", ...]
 * skycellWcs("skycell.2556.080").crpix1; // 29663.5
 * ```
 * @module
 */

import { gnomonicForward, gnomonicInverse, RAD, type SkyPoint } from "./wcs.ts";

/** Skycell pixel size, arcsec. */
export const PIXEL_SCALE_ARCSEC = 0.25;
/** Skycell pixel size, degrees (headers write `CDELT = 6.9444446e-05`). */
export const PIXEL_SCALE_DEG: number = PIXEL_SCALE_ARCSEC / 3600;
/** Overlap of neighbouring skycells, pixels (half on each side). */
export const SKYCELL_OVERLAP = 480;
/** Skycells per projection cell side. */
export const GRID = 10;
/** Number of declination zones. */
export const ZONE_COUNT = 46;

/** Known y pitches (`NAXIS2 - 480`) of real skycells, by zone; other zones use {@link ruleY}. */
const KNOWN_PITCH_Y: Record<number, number> = { 23: 5763, 40: 5870, 42: 5918, 43: 5949 };

/** One declination zone of the tessellation. */
export interface Zone {
  /** Zone number 0..45. */
  zone: number;
  /** Centre declination `-90 + 4 z`, degrees. */
  dec: number;
  /** Number of projection cells `M_z`. */
  cells: number;
  /** First projection cell id of the zone. */
  firstCell: number;
  /** Skycell pitch in x, pixels (`NAXIS1 = pitchX + 480`). */
  pitchX: number;
  /** Skycell pitch in y, pixels (`NAXIS2 = pitchY + 480`). */
  pitchY: number;
  /** Whether `pitchY` is a known value from real skycells (true) or the empirical rule (false). */
  pitchYKnown: boolean;
  /** Width of the whole projection cell, pixels: `CRPIX1` of column 0 is half of it. */
  cellWidth: number;
  /** Height of the whole projection cell, pixels: `CRPIX2` of row 0 is half of it. */
  cellHeight: number;
}

/** The pitch in x before rounding: the zone's equator-side cell width over 10, in pixels. */
function exactPitchX(dec: number, cells: number): number {
  const edge = Math.max(0, Math.abs(dec) - 2);
  return (360 / cells) * Math.cos(edge * RAD) / GRID / PIXEL_SCALE_DEG;
}

/**
 * Empirical y pitch (not pinned down by the archive): the tangent-plane height from the middle of the
 * zone's equator-side edge to its pole-side corners, over 10, floored, minus 2. Gives the known 5763, 5870
 * and 5918 of zones 23, 40 and 42, and 5948 for zone 43 (real: 5949).
 */
export function ruleY(dec: number, cells: number): number {
  const a = Math.abs(dec);
  const corner = gnomonicForward(180 / cells, a + 2, 0, a)!;
  const bottom = gnomonicForward(0, a - 2, 0, a)!;
  return Math.floor((corner.eta - bottom.eta) / PIXEL_SCALE_DEG / GRID) - 2;
}

function buildZones(): Zone[] {
  const zones: Zone[] = [];
  let first = 0;
  for (let z = 0; z < ZONE_COUNT; z++) {
    const dec = -90 + 4 * z;
    const pole = z === 0 || z === ZONE_COUNT - 1;
    const cells = pole ? 1 : Math.floor(90 * Math.cos(Math.max(0, Math.abs(dec) - 2) * RAD));
    let pitchX: number;
    let pitchY: number;
    let cellWidth: number;
    let known = false;
    if (pole) {
      // The polar caps are single cells of their own size (not pinned down): a square grid whose half
      // side reaches the gnomonic radius of the 2-degree cap.
      pitchX = pitchY = Math.ceil(Math.tan(2 * RAD) / RAD / PIXEL_SCALE_DEG / 5);
      cellWidth = GRID * pitchX + SKYCELL_OVERLAP;
    } else {
      const exact = exactPitchX(dec, cells);
      pitchX = Math.round(exact);
      // Checked on skycell.2556.080: CRPIX1 = 29663.5 = (round(10 * exact) + 480) / 2.
      cellWidth = Math.round(GRID * exact) + SKYCELL_OVERLAP;
      known = KNOWN_PITCH_Y[z] !== undefined;
      pitchY = known ? KNOWN_PITCH_Y[z] : ruleY(dec, cells);
    }
    zones.push({
      zone: z,
      dec,
      cells,
      firstCell: first,
      pitchX,
      pitchY,
      pitchYKnown: known,
      cellWidth,
      cellHeight: GRID * pitchY + SKYCELL_OVERLAP,
    });
    first += cells;
  }
  return zones;
}

/** The 46 zones, south to north. */
export const ZONES: readonly Zone[] = buildZones();
/** Number of projection cells (2644). */
export const PROJECTION_CELL_COUNT: number = ZONES[ZONE_COUNT - 1].firstCell + 1;

/** A projection cell: its zone, index in the zone and tangent point. */
export interface ProjectionCell {
  /** Projection cell id 0..2643. */
  id: number;
  /** Its zone. */
  zone: Zone;
  /** Index within the zone, 0-based. */
  index: number;
  /** Tangent point RA (`CRVAL1`), degrees. */
  crval1: number;
  /** Tangent point Dec (`CRVAL2`), degrees. */
  crval2: number;
}

/** Projection cell `id` (0..2643); throws RangeError outside. */
export function projectionCell(id: number): ProjectionCell {
  if (!Number.isInteger(id) || id < 0 || id >= PROJECTION_CELL_COUNT) {
    throw new RangeError(`projection cell ${id} out of range 0..${PROJECTION_CELL_COUNT - 1}`);
  }
  let lo = 0;
  let hi = ZONE_COUNT - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ZONES[mid].firstCell <= id) lo = mid;
    else hi = mid - 1;
  }
  const zone = ZONES[lo];
  const index = id - zone.firstCell;
  return { id, zone, index, crval1: (index * 360) / zone.cells, crval2: zone.dec };
}

/** A skycell by its parts. */
export interface SkycellId {
  /** Projection cell id. */
  projection: number;
  /** Row `j` 0..9 (increasing with Dec). */
  row: number;
  /** Column `k` 0..9 (increasing with x, that is decreasing RA). */
  column: number;
}

/** The name `skycell.PPPP.0jk` of a skycell. */
export function skycellName(projection: number, row: number, column: number): string {
  return `skycell.${String(projection).padStart(4, "0")}.0${row}${column}`;
}

/** Parses `skycell.PPPP.0jk`; throws RangeError for anything else or a projection cell out of range. */
export function parseSkycellName(name: string): SkycellId {
  const m = /^skycell\.(\d{4})\.0(\d)(\d)$/.exec(name);
  if (!m) throw new RangeError(`not a RINGS.V3 skycell name: ${JSON.stringify(name)}`);
  const projection = Number(m[1]);
  projectionCell(projection);
  return { projection, row: Number(m[2]), column: Number(m[3]) };
}

/** The WCS of a skycell, as its FITS header has it. */
export interface SkycellWcs {
  /** `skycell.PPPP.0jk`. */
  name: string;
  /** Projection cell id. */
  projection: number;
  /** Row `j`. */
  row: number;
  /** Column `k`. */
  column: number;
  /** Tangent point RA, degrees. */
  crval1: number;
  /** Tangent point Dec, degrees. */
  crval2: number;
  /** Reference pixel x (1-based). */
  crpix1: number;
  /** Reference pixel y (1-based). */
  crpix2: number;
  /** Image width, pixels. */
  naxis1: number;
  /** Image height, pixels. */
  naxis2: number;
  /** `CDELT1 = CDELT2`, degrees per pixel; `PC1_1 = -1`, `PC2_2 = 1`. */
  cdelt: number;
  /** Whether NAXIS2 comes from a known zone value (true) or the empirical rule (false). */
  naxis2Known: boolean;
}

function wcsOf(cell: ProjectionCell, row: number, column: number): SkycellWcs {
  const z = cell.zone;
  return {
    name: skycellName(cell.id, row, column),
    projection: cell.id,
    row,
    column,
    crval1: cell.crval1,
    crval2: cell.crval2,
    crpix1: z.cellWidth / 2 - column * z.pitchX,
    crpix2: z.cellHeight / 2 - row * z.pitchY,
    naxis1: z.pitchX + SKYCELL_OVERLAP,
    naxis2: z.pitchY + SKYCELL_OVERLAP,
    cdelt: PIXEL_SCALE_DEG,
    naxis2Known: z.pitchYKnown,
  };
}

/** The WCS of a skycell from its name. */
export function skycellWcs(name: string): SkycellWcs {
  const { projection, row, column } = parseSkycellName(name);
  return wcsOf(projectionCell(projection), row, column);
}

/** Sky position of pixel `(x, y)` (1-based) of a skycell. */
export function skycellPixelToSky(wcs: SkycellWcs, x: number, y: number): SkyPoint {
  return gnomonicInverse(-(x - wcs.crpix1) * wcs.cdelt, (y - wcs.crpix2) * wcs.cdelt, wcs.crval1, wcs.crval2);
}

/**
 * The four corners of a skycell on the sky, in the order of astropy's `WCS.calc_footprint`: the centres of
 * pixels (1, 1), (1, NAXIS2), (NAXIS1, NAXIS2), (NAXIS1, 1).
 */
export function skycellCorners(name: string): SkyPoint[] {
  const w = skycellWcs(name);
  return [[1, 1], [1, w.naxis2], [w.naxis1, w.naxis2], [w.naxis1, 1]].map(([x, y]) =>
    skycellPixelToSky(w, x, y)
  );
}

/** Sky position of the centre of a skycell (pixel `((NAXIS1 + 1) / 2, (NAXIS2 + 1) / 2)`). */
export function skycellCentre(name: string): SkyPoint {
  const w = skycellWcs(name);
  return skycellPixelToSky(w, (w.naxis1 + 1) / 2, (w.naxis2 + 1) / 2);
}

/** Zone number of a declination (the zone whose centre is nearest). */
export function zoneOfDec(dec: number): number {
  return Math.max(0, Math.min(ZONE_COUNT - 1, Math.round((dec + 90) / 4)));
}

/**
 * The projection cells that may contain `(ra, dec)`: in the point's zone and both neighbours, the cells
 * nearest in RA and as many RA neighbours as a cell's pole-side spread needs.
 */
export function candidateCells(ra: number, dec: number): ProjectionCell[] {
  const zc = zoneOfDec(dec);
  const out: ProjectionCell[] = [];
  for (let z = Math.max(0, zc - 1); z <= Math.min(ZONE_COUNT - 1, zc + 1); z++) {
    const zone = ZONES[z];
    const m = zone.cells;
    if (m === 1) {
      out.push(projectionCell(zone.firstCell));
      continue;
    }
    const a = Math.abs(zone.dec);
    const spread = Math.cos(Math.max(0, a - 2) * RAD) / Math.cos(Math.min(89.5, a + 2.5) * RAD);
    const n = Math.ceil(spread) + 1;
    const i0 = Math.round((ra * m) / 360);
    const seen = new Set<number>();
    for (let d = -n; d <= n; d++) {
      const i = (((i0 + d) % m) + m) % m;
      if (seen.has(i)) continue;
      seen.add(i);
      out.push(projectionCell(zone.firstCell + i));
    }
  }
  return out;
}

/** A point in a projection cell's pixel frame: gnomonic `(xi, eta)` about CRVAL, in pixels. */
export function cellFrame(cell: ProjectionCell, ra: number, dec: number): { xi: number; eta: number } | null {
  const g = gnomonicForward(ra, dec, cell.crval1, cell.crval2);
  if (!g) return null;
  return { xi: g.xi / PIXEL_SCALE_DEG, eta: g.eta / PIXEL_SCALE_DEG };
}

/** The pixel bounds of skycell `(row, column)` in its projection cell's frame (xi, eta in pixels). */
export function skycellBounds(
  zone: Zone,
  row: number,
  column: number,
): { xiMin: number; xiMax: number; etaMin: number; etaMax: number } {
  const crpix1 = zone.cellWidth / 2 - column * zone.pitchX;
  const crpix2 = zone.cellHeight / 2 - row * zone.pitchY;
  // x = crpix1 - xi in [0.5, naxis1 + 0.5]; y = crpix2 + eta in [0.5, naxis2 + 0.5].
  return {
    xiMin: crpix1 - (zone.pitchX + SKYCELL_OVERLAP + 0.5),
    xiMax: crpix1 - 0.5,
    etaMin: 0.5 - crpix2,
    etaMax: zone.pitchY + SKYCELL_OVERLAP + 0.5 - crpix2,
  };
}

/** The skycells `(row, column)` of a projection cell containing the frame point `(xi, eta)` (pixels). */
export function skycellsInCell(zone: Zone, xi: number, eta: number): Array<[number, number]> {
  const px = zone.pitchX;
  const py = zone.pitchY;
  const n1 = px + SKYCELL_OVERLAP;
  const n2 = py + SKYCELL_OVERLAP;
  // 0.5 <= W/2 - k px - xi <= n1 + 0.5  and  0.5 <= H/2 - j py + eta <= n2 + 0.5
  const kMax = Math.min(GRID - 1, Math.floor((zone.cellWidth / 2 - xi - 0.5) / px));
  const kMin = Math.max(0, Math.ceil((zone.cellWidth / 2 - xi - n1 - 0.5) / px));
  const jMax = Math.min(GRID - 1, Math.floor((zone.cellHeight / 2 + eta - 0.5) / py));
  const jMin = Math.max(0, Math.ceil((zone.cellHeight / 2 + eta - n2 - 0.5) / py));
  const out: Array<[number, number]> = [];
  for (let j = jMin; j <= jMax; j++) for (let k = kMin; k <= kMax; k++) out.push([j, k]);
  return out;
}

/** Every skycell containing `(ra, dec)` (overlaps included, in every candidate projection cell), sorted. */
export function skycellsAt(ra: number, dec: number): string[] {
  const out: string[] = [];
  for (const cell of candidateCells(ra, dec)) {
    const f = cellFrame(cell, ra, dec);
    if (!f) continue;
    for (const [j, k] of skycellsInCell(cell.zone, f.xi, f.eta)) out.push(skycellName(cell.id, j, k));
  }
  return out.sort();
}

/**
 * The point's own skycell by the floor rule of sky-geometry.md in projection cell `cell`, unclamped:
 * `k = floor(5 - xi / px)`, `j = floor(5 + eta / py)` (may fall outside 0..9 near zone edges).
 */
export function floorRule(
  cell: ProjectionCell,
  ra: number,
  dec: number,
): { row: number; column: number } | null {
  const f = cellFrame(cell, ra, dec);
  if (!f) return null;
  return {
    row: Math.floor(5 + f.eta / cell.zone.pitchY),
    column: Math.floor(5 - f.xi / cell.zone.pitchX),
  };
}
