/**
 * Where a TESS CCD looks: the sector's spacecraft pointing (boresight RA, Dec, roll), each camera's
 * orientation on the spacecraft, the optics' radial distortion and each CCD's placement in the focal plane.
 * The numbers are tess-point's (generated into `tess_data.ts` by `tools/generate_tess_pointings.py`); the
 * model is written here.
 *
 * CCD pixel coordinates are 0-based science-pixel centres: `(x, y)` = tess-point's
 * `(colWant - 45, rowWant - 1)`, so the 2048 x 2048 science area spans -0.5..2047.5 on both axes.
 *
 * @example
 * ```ts
 * import { ccdPixelToSky, tessCcd } from "./tess.ts";
 * const ccd = tessCcd(20, 3, 3);
 * ccdPixelToSky(ccd, 1023.5, 1023.5); // { ra, dec } of the CCD's centre
 * ```
 * @module
 */

import { CAMERAS, SECTOR_POINTINGS } from "./tess_data.ts";
import { RAD, type SkyPoint, unitVector, vectorToSky } from "./wcs.ts";

/** Science pixels per CCD side. */
export const TESS_CCD_PIXELS = 2048;

type Mat3 = number[][];

/** Rotation about axis `ax` (0, 1, 2) by `ang` radians (passive, as in the Euler 3-2-3 sequence). */
function rotation(ax: number, ang: number): Mat3 {
  const m: Mat3 = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const n2 = (ax + 1) % 3;
  const n3 = (n2 + 1) % 3;
  const c = Math.cos(ang);
  const s = Math.sin(ang);
  m[ax][ax] = 1;
  m[n2][n2] = c;
  m[n3][n3] = c;
  m[n2][n3] = s;
  m[n3][n2] = -s;
  return m;
}

function mul(a: Mat3, b: Mat3): Mat3 {
  const m: Mat3 = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) m[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j];
  }
  return m;
}

/** Euler 3-2-3 rotation matrix of angles in radians. */
function euler323(e: readonly number[]): Mat3 {
  return mul(rotation(2, e[2]), mul(rotation(1, e[1]), rotation(2, e[0])));
}

/** A sector's spacecraft pointing. */
export interface SectorPointing {
  /** Sector number. */
  sector: number;
  /** Boresight RA, degrees. */
  ra: number;
  /** Boresight Dec, degrees. */
  dec: number;
  /** Roll, degrees. */
  roll: number;
}

/** The pointing of `sector`; throws RangeError for a sector not in the table. */
export function sectorPointing(sector: number): SectorPointing {
  const row = SECTOR_POINTINGS.find((p) => p[0] === sector);
  if (!row) throw new RangeError(`TESS sector ${sector} is not in the pointing table`);
  return { sector, ra: row[1], dec: row[2], roll: row[3] };
}

/** The sectors of the pointing table. */
export function knownSectors(): number[] {
  return SECTOR_POINTINGS.map((p) => p[0]);
}

/** One CCD of one sector, ready to map pixels to the sky and back. */
export interface TessCcd {
  /** Sector. */
  sector: number;
  /** Camera 1..4. */
  camera: number;
  /** CCD 1..4. */
  ccd: number;
  /** Rotation from equatorial unit vectors to the camera frame. */
  rotation: Mat3;
  /** Focal length then optics coefficients. */
  optics: readonly number[];
  /** Azimuthal asymmetry angle (degrees) and factor. */
  asym: [number, number];
  /** CCD origin in the focal plane, mm. */
  origin: readonly number[];
  /** Pixel size, mm. */
  pixelSize: readonly number[];
  /** CCD rotation in the focal plane, degrees. */
  angle: number;
}

/** The model of `sector`, `camera` (1..4), `ccd` (1..4); throws RangeError for an unknown one. */
export function tessCcd(sector: number, camera: number, ccd: number): TessCcd {
  if (![1, 2, 3, 4].includes(camera)) throw new RangeError(`TESS camera ${camera}: must be 1..4`);
  if (![1, 2, 3, 4].includes(ccd)) throw new RangeError(`TESS CCD ${ccd}: must be 1..4`);
  const p = sectorPointing(sector);
  const cam = CAMERAS[camera - 1];
  const toSpacecraft = euler323([p.ra * RAD, Math.PI / 2 - p.dec * RAD, p.roll * RAD + Math.PI]);
  const toCamera = euler323(cam.euler.map((e) => e * RAD));
  const c = cam.ccds[ccd - 1];
  return {
    sector,
    camera,
    ccd,
    rotation: mul(toCamera, toSpacecraft),
    optics: cam.optics,
    asym: [cam.asymAngle, cam.asymFactor],
    origin: c.origin,
    pixelSize: c.pixelSize,
    angle: c.angle,
  };
}

function rotate2(angleDeg: number, x: number, y: number): [number, number] {
  const c = Math.cos(angleDeg * RAD);
  const s = Math.sin(angleDeg * RAD);
  return [c * x + s * y, -s * x + c * y];
}

/** Focal-plane radius (mm) of a field angle with tangent `t`: `f t sum_i c_i t^(2 i)`. */
function radiusOfTan(optics: readonly number[], t: number): number {
  let poly = 0;
  let p = 1;
  for (let i = 1; i < optics.length; i++) {
    poly += optics[i] * p;
    p *= t * t;
  }
  return optics[0] * t * poly;
}

/** Sky position of CCD pixel `(x, y)` (0-based science-pixel centres). */
export function ccdPixelToSky(m: TessCcd, x: number, y: number): SkyPoint {
  // CCD pixels to focal-plane mm.
  const [bx, by] = rotate2(-m.angle, (x + 0.5) * m.pixelSize[0], (y + 0.5) * m.pixelSize[1]);
  let fx = bx + m.origin[0];
  let fy = by + m.origin[1];
  // Undo the azimuthal asymmetry.
  const [ax, ay] = rotate2(m.asym[0], fx, fy);
  [fx, fy] = rotate2(-m.asym[0], ax / m.asym[1], ay);
  // Focal-plane radius to field angle: Newton on tan(theta).
  const r = Math.hypot(fx, fy);
  let t = r / m.optics[0];
  for (let i = 0; i < 30 && r > 0; i++) {
    const h = 1e-7;
    const f = radiusOfTan(m.optics, t) - r;
    const d = (radiusOfTan(m.optics, t + h) - radiusOfTan(m.optics, t - h)) / (2 * h);
    const step = f / d;
    t -= step;
    if (Math.abs(step) < 1e-15) break;
  }
  const lng = Math.atan2(-fy, -fx);
  const lat = Math.PI / 2 - Math.atan(t);
  const v = [Math.cos(lat) * Math.cos(lng), Math.cos(lat) * Math.sin(lng), Math.sin(lat)];
  // Camera frame back to equatorial: the transpose of the rotation.
  const R = m.rotation;
  return vectorToSky([
    R[0][0] * v[0] + R[1][0] * v[1] + R[2][0] * v[2],
    R[0][1] * v[0] + R[1][1] * v[1] + R[2][1] * v[2],
    R[0][2] * v[0] + R[1][2] * v[1] + R[2][2] * v[2],
  ]);
}

/**
 * CCD pixel `(x, y)` (0-based science-pixel centres, possibly off the CCD) of a sky position; null when the
 * position is behind the camera.
 */
export function skyToCcdPixel(m: TessCcd, ra: number, dec: number): { x: number; y: number } | null {
  const u = unitVector(ra, dec);
  const R = m.rotation;
  const v = [0, 1, 2].map((i) => R[i][0] * u[0] + R[i][1] * u[1] + R[i][2] * u[2]);
  if (!(v[2] > 0)) return null;
  const t = Math.hypot(v[0], v[1]) / v[2];
  const lng = Math.atan2(v[1], v[0]);
  const r = radiusOfTan(m.optics, t);
  let fx = -Math.cos(lng) * r;
  let fy = -Math.sin(lng) * r;
  const [ax, ay] = rotate2(m.asym[0], fx, fy);
  [fx, fy] = rotate2(-m.asym[0], ax * m.asym[1], ay);
  const [cx, cy] = rotate2(m.angle, fx - m.origin[0], fy - m.origin[1]);
  return { x: cx / m.pixelSize[0] - 0.5, y: cy / m.pixelSize[1] - 0.5 };
}
