/**
 * Synthetic PS1-like stack skycells and a matching mapping CSV, for the local archive, the tests, the demo
 * and the benchmarks. Per skycell and band, three tile-compressed files in the PS1 layouts:
 *
 * - image: int16, RICE_1, one row per tile, `BSCALE`/`BZERO`/`BLANK`, asinh-scaled with `BSOFTEN`/`BOFFSET`
 *   (linear = BOFFSET + BSOFTEN * 2 * sinh(x / a), a = 2.5 / ln 10), `EXPTIME`, a TAN WCS with `CDELT` and
 *   `PC001001`-style keywords, no `RADESYS`, a blank (NaN) border and blank corners outside the projection
 *   cell;
 * - weight (variance): int16, RICE_1, linearly scaled, blank where the image is;
 * - mask: uint16 through `BZERO = 32768`, GZIP_1, with BLANK, SAT, CR and DETECTOR bits.
 *
 * All skycells of a projection cell share `CRVAL`; `CRPIX` moves by the skycell size minus the 480-pixel
 * overlap (scaled with the size), so neighbours tile and their stars agree in the overlap. Pixels are a
 * function of the position and the seed only, so any row band can be regenerated for comparisons.
 * Files carry `CHECKSUM`/`DATASUM`, so a corrupted download is detectable.
 *
 * @example
 * ```ts ignore
 * import { demoConfig, writeDemoArchive } from "./synth.ts";
 * const demo = await writeDemoArchive("data", { ...demoConfig, size: 512 });
 * demo.skycells; // 6 names in projection cells 2556 and 2557
 * ```
 * @module
 */

import * as path from "node:path";
import { asFloat, formatCard } from "../fits/card.ts";
import { CompressedFitsWriter } from "../fits/compress.ts";
import { formatCsv } from "../ps1/csv.ts";
import { mappingCsvPaths, PADDING_COLUMNS } from "../ps1/mapping.ts";
import { parseSkycell, skycellGridPosition } from "../ps1/skycell.ts";
import { type FileKind, localPath } from "../ps1/urls.ts";
import type { SynthJob, SynthJobResult } from "./synth_worker.ts";

/** Pixel scale of RINGS.V3 skycells, degrees per pixel. */
export const PS1_CDELT = 6.9444446e-05;
/** Overlap of neighbouring full-size skycells, pixels. */
export const PS1_OVERLAP = 480;
/** Full skycell width used by default (height is a little smaller, as in the archive). */
export const FULL_SIZE = 6300;
/** The asinh scale a = 2.5 / ln 10 of PS1 stacks. */
export const ASINH_A = 2.5 / Math.LN10;

/** Mask bits used by the synthetic masks. */
export const MASK_BITS = {
  DETECTOR: 0x0001,
  BLANK: 0x0008,
  SAT: 0x0020,
  SUSPECT: 0x0080,
  CR: 0x0100,
} as const;

const BLANK16 = -32768;
const BAND_NOISE: Record<string, number> = { g: 25, r: 30, i: 35, z: 45, y: 60 };
const BAND_EXPTIME: Record<string, number> = { g: 1040, r: 1160, i: 1830, z: 1050, y: 1180 };

/** Options of the pixel synthesis. */
export interface SynthOptions {
  /** Skycell width in pixels (default 6300; e.g. 256 for tests). Height is width - round(width / 400). */
  size?: number;
  /** Seed of everything random (default 1). */
  seed?: number;
}

/** Image size and overlap for a `size`. */
export function skycellGeometry(size = FULL_SIZE): { width: number; height: number; overlap: number } {
  if (!Number.isInteger(size) || size < 32) {
    throw new RangeError(`skycell size must be an integer >= 32: ${size}`);
  }
  const overlap = Math.round((PS1_OVERLAP * size) / FULL_SIZE);
  return { width: size, height: size - Math.max(1, Math.round(size / 400)), overlap };
}

/** Approximate RINGS.V3 centre of a projection cell: 46 declination zones 4 degrees apart, cells per zone by cos(dec). */
export function projectionCellCenter(projection: number): { ra: number; dec: number } {
  let first = 0;
  for (let zone = 0; zone < 46; zone++) {
    const dec = -90 + zone * 4;
    const n = zone === 0 || zone === 45 ? 1 : Math.ceil(90 * Math.cos((dec * Math.PI) / 180));
    if (projection < first + n) return { ra: (360 * (projection - first)) / n, dec };
    first += n;
  }
  throw new RangeError(`projection cell ${projection} beyond the tessellation (${first} cells)`);
}

/** The TAN WCS of a skycell: shared CRVAL of its projection cell, CRPIX offset by its grid position. */
export function skycellWcs(skycell: string, size = FULL_SIZE): {
  crval1: number;
  crval2: number;
  crpix1: number;
  crpix2: number;
  width: number;
  height: number;
  x0: number;
  y0: number;
} {
  const { width, height, overlap } = skycellGeometry(size);
  const { row, column } = skycellGridPosition(skycell);
  const { ra, dec } = projectionCellCenter(Number(parseSkycell(skycell).projection));
  const stepX = width - overlap;
  const stepY = height - overlap;
  // Projection-cell pixel coordinates (0-based) of the skycell's first pixel, and of the tangent point.
  const x0 = column * stepX;
  const y0 = row * stepY;
  const centerX = (10 * stepX + overlap) / 2;
  const centerY = (10 * stepY + overlap) / 2;
  return {
    crval1: ra,
    crval2: dec,
    crpix1: centerX - x0 + 1,
    crpix2: centerY - y0 + 1,
    width,
    height,
    x0,
    y0,
  };
}

/** Sky position (degrees) of 1-based pixel (x, y) of a TAN WCS with CDELT and an identity PC matrix. */
export function pixelToSky(
  wcs: { crval1: number; crval2: number; crpix1: number; crpix2: number },
  x: number,
  y: number,
): { ra: number; dec: number } {
  const rad = Math.PI / 180;
  const xi = -(x - wcs.crpix1) * PS1_CDELT * rad;
  const eta = (y - wcs.crpix2) * PS1_CDELT * rad;
  const dec0 = wcs.crval2 * rad;
  const denom = Math.cos(dec0) - eta * Math.sin(dec0);
  const ra = wcs.crval1 * rad + Math.atan2(xi, denom);
  const dec = Math.atan2(Math.sin(dec0) + eta * Math.cos(dec0), Math.hypot(xi, denom));
  return { ra: ((ra / rad) % 360 + 360) % 360, dec: dec / rad };
}

function hash32(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35) ^
    Math.imul(c, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

// Standard normal deviates indexed by a hash: cheap per-pixel noise that depends on position only.
const GAUSS = (() => {
  const table = new Float32Array(1 << 16);
  let s = 12345;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) + 0.5) / 4294967296;
  for (let i = 0; i < table.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    table[i] = r * Math.cos(t);
    table[i + 1] = r * Math.sin(t);
  }
  return table;
})();

interface Star {
  x: number; // projection-cell pixel coordinates (0-based)
  y: number;
  peak: number;
  sigma: number;
}

/** Stars of a projection cell (same list for all its skycells, so overlaps agree). */
function projectionStars(projection: number, size: number, seed: number): Star[] {
  const { width, height, overlap } = skycellGeometry(size);
  const spanX = 10 * (width - overlap) + overlap;
  const spanY = 10 * (height - overlap) + overlap;
  const count = Math.round((spanX * spanY) / 20_000); // about 2000 per full-size skycell
  const stars: Star[] = [];
  for (let i = 0; i < count; i++) {
    const u = (k: number) => hash32(projection, seed * 7919 + i, k) / 4294967296;
    // Power-law brightness: many faint stars, a few saturated ones.
    stars.push({ x: u(1) * spanX, y: u(2) * spanY, peak: 60 * Math.pow(1 - u(3), -1.4), sigma: 1.4 + u(4) });
  }
  return stars;
}

/** Per-file scaling and keywords of one skycell and band. */
export interface SynthScaling {
  /** `BSCALE` of the image. */
  bscale: number;
  /** `BZERO` of the image. */
  bzero: number;
  /** `BSOFTEN` (asinh softening). */
  bsoften: number;
  /** `BOFFSET` (asinh offset). */
  boffset: number;
  /** `EXPTIME`, seconds. */
  exptime: number;
  /** Sky noise, linear counts. */
  noise: number;
  /** `BSCALE` of the weight. */
  weightScale: number;
  /** `BZERO` of the weight. */
  weightZero: number;
  /** Linear flux where stars saturate (mask bit SAT). */
  saturation: number;
}

/** Row bands of the three files of one skycell and band, regenerable in any band partition. */
export class SkycellSynth {
  /** Skycell name. */
  readonly skycell: string;
  /** Band. */
  readonly band: string;
  /** Image width (`NAXIS1`). */
  readonly width: number;
  /** Image height (`NAXIS2`). */
  readonly height: number;
  /** Scaling and exposure keywords. */
  readonly scaling: SynthScaling;
  /** WCS and position in the projection cell. */
  readonly wcs: ReturnType<typeof skycellWcs>;
  #seed: number;
  #stars: Star[];
  #radius: number;
  #centerX: number;
  #centerY: number;
  #badColumn: number;
  #flux = new Float64Array(0);

  /** @param skycell name; @param band g,r,i,z,y; @param opts size and seed */
  constructor(skycell: string, band: string, opts: SynthOptions = {}) {
    const size = opts.size ?? FULL_SIZE;
    this.#seed = opts.seed ?? 1;
    this.skycell = skycell;
    this.band = band;
    this.wcs = skycellWcs(skycell, size);
    this.width = this.wcs.width;
    this.height = this.wcs.height;
    const projection = Number(parseSkycell(skycell).projection);
    const bandIndex = "grizy".indexOf(band);
    if (bandIndex < 0) throw new RangeError(`unknown band ${JSON.stringify(band)}`);
    const u = (k: number) =>
      hash32(projection * 1000 + Number(skycell.slice(13)), this.#seed + bandIndex, k) / 4294967296;
    const noise = BAND_NOISE[band];
    this.scaling = {
      bscale: Number((2.0e-4 + 0.3e-4 * u(1)).toPrecision(5)),
      bzero: Number((2.6 + 0.4 * u(2)).toPrecision(6)),
      // A softening close to the noise keeps the stored noise wide, so Rice reaches about the 1.2x of real stacks.
      bsoften: Number((noise * (1.2 + 0.6 * u(3))).toPrecision(6)),
      boffset: Number((5 + 5 * u(4)).toPrecision(5)),
      exptime: BAND_EXPTIME[band] + Math.round(200 * u(5)),
      noise,
      // Variance from the sky noise up to saturated star cores fits the int16 range.
      weightScale: Number(((noise * noise + 150_000) / 65_000).toPrecision(4)),
      weightZero: 0,
      saturation: 150_000,
    };
    this.scaling.weightZero = 32768 * this.scaling.weightScale;
    // Stars in skycell-local coordinates that can touch this skycell.
    const margin = 12;
    this.#stars = projectionStars(projection, size, this.#seed)
      .map((s) => ({ ...s, x: s.x - this.wcs.x0, y: s.y - this.wcs.y0 }))
      .filter((s) =>
        s.x > -margin && s.x < this.width + margin && s.y > -margin && s.y < this.height + margin
      )
      .sort((a, b) => a.y - b.y);
    // Pixels farther than this from the projection cell centre are blank: the outer corners of the corner
    // skycells (about an eighth of such a skycell), as where survey coverage ends.
    const { overlap } = skycellGeometry(size);
    this.#radius = 0.5 * 10 * (this.width - overlap) * Math.SQRT2 * 0.95;
    this.#centerX = this.wcs.crpix1 - 1;
    this.#centerY = this.wcs.crpix2 - 1;
    this.#badColumn = Math.floor(u(6) * this.width);
  }

  /** True when pixel (x, y) (0-based) is blank: a 2-pixel frame, and the far corners of the projection cell. */
  isBlank(x: number, y: number): boolean {
    if (x < 2 || y < 2 || x >= this.width - 2 || y >= this.height - 2) return true;
    return Math.hypot(x - this.#centerX, y - this.#centerY) > this.#radius;
  }

  /** The columns [xa, xb) of row y that hold data (the rest is blank). */
  #dataSpan(y: number): [number, number] {
    if (y < 2 || y >= this.height - 2) return [0, 0];
    const dy = y - this.#centerY;
    const r2 = this.#radius * this.#radius - dy * dy;
    if (r2 < 0) return [0, 0];
    const half = Math.sqrt(r2);
    // The same rule as isBlank: columns within the radius, inside the frame.
    let xa = Math.max(2, Math.ceil(this.#centerX - half));
    let xb = Math.min(this.width - 2, Math.floor(this.#centerX + half) + 1);
    while (xa < xb && this.isBlank(xa, y)) xa++;
    while (xb > xa && this.isBlank(xb - 1, y)) xb--;
    return [xa, xb];
  }

  /**
   * Rows [y0, y1) of the three files as stored: image and weight int16 (blank = -32768), mask uint16.
   * Output arrays are reused when given.
   */
  rows(
    y0: number,
    y1: number,
    out?: { image: Int16Array; weight: Int16Array; mask: Uint16Array },
  ): { image: Int16Array; weight: Int16Array; mask: Uint16Array } {
    const w = this.width;
    const n = (y1 - y0) * w;
    const image = out?.image.subarray(0, n) ?? new Int16Array(n);
    const weight = out?.weight.subarray(0, n) ?? new Int16Array(n);
    const mask = out?.mask.subarray(0, n) ?? new Uint16Array(n);
    const s = this.scaling;
    if (this.#flux.length < n) this.#flux = new Float64Array(n);
    const flux = this.#flux;
    // Background noise, position-hashed.
    const seedKey = this.#seed * 31 + "grizy".indexOf(this.band);
    const gx = this.wcs.x0;
    const gy = this.wcs.y0;
    for (let y = y0; y < y1; y++) {
      const o = (y - y0) * w;
      for (let x = 0; x < w; x++) flux[o + x] = s.noise * GAUSS[hash32(gx + x, gy + y, seedKey) & 0xffff];
    }
    // Stars: Gaussian profiles, drawn within 5 sigma.
    for (const star of this.#stars) {
      const r = Math.ceil(5 * star.sigma);
      if (star.y + r < y0 || star.y - r >= y1) continue;
      const ya = Math.max(y0, Math.floor(star.y - r));
      const yb = Math.min(y1 - 1, Math.ceil(star.y + r));
      const xa = Math.max(0, Math.floor(star.x - r));
      const xb = Math.min(w - 1, Math.ceil(star.x + r));
      const k = -0.5 / (star.sigma * star.sigma);
      for (let y = ya; y <= yb; y++) {
        const dy = y - star.y;
        const o = (y - y0) * w;
        for (let x = xa; x <= xb; x++) {
          const dx = x - star.x;
          flux[o + x] += star.peak * Math.exp(k * (dx * dx + dy * dy));
        }
      }
    }
    const twoSoften = 2 * s.bsoften;
    for (let y = y0; y < y1; y++) {
      const o = (y - y0) * w;
      const [xa, xb] = this.#dataSpan(y);
      for (let x = 0; x < w; x++) {
        const i = o + x;
        if (x < xa || x >= xb) {
          image[i] = BLANK16;
          weight[i] = BLANK16;
          mask[i] = MASK_BITS.BLANK;
          continue;
        }
        let bits = 0;
        let f = flux[i];
        if (f >= s.saturation) {
          f = s.saturation;
          bits |= MASK_BITS.SAT;
        }
        if (x === this.#badColumn) bits |= MASK_BITS.DETECTOR;
        const asinh = ASINH_A * Math.asinh((f - s.boffset) / twoSoften);
        image[i] = clamp16(Math.round((asinh - s.bzero) / s.bscale));
        const variance = s.noise * s.noise + Math.max(0, f);
        weight[i] = clamp16(Math.round((variance - s.weightZero) / s.weightScale));
        mask[i] = bits;
      }
      // About one cosmic-ray hit every four rows.
      const crColumn = hash32(gy + y, seedKey, 0x5eed) % (4 * w);
      if (crColumn >= xa && crColumn < xb) mask[o + crColumn] |= MASK_BITS.CR;
    }
    return { image, weight, mask };
  }

  /** The image header cards (80 characters each, no END) of one of the three files. */
  cards(kind: FileKind): string[] {
    const s = this.scaling;
    const wcs = this.wcs;
    const { projection, cell } = parseSkycell(this.skycell);
    const cards: string[] = [];
    const c = (k: string, v: Parameters<typeof formatCard>[1], comment?: string) =>
      cards.push(formatCard(k, v, comment));
    if (kind === "image") {
      c("BSCALE", asFloat(s.bscale), "Scaling: TRUE = BZERO + BSCALE * DISK");
      c("BZERO", asFloat(s.bzero), "Scaling: TRUE = BZERO + BSCALE * DISK");
      c("BLANK", BLANK16, "Value for undefined pixels");
      c("BSOFTEN", asFloat(s.bsoften), "Scaling: Softening parameter");
      c("BOFFSET", asFloat(s.boffset), "Scaling: Offset parameter");
    } else if (kind === "weight") {
      c("BSCALE", asFloat(s.weightScale), "Scaling: TRUE = BZERO + BSCALE * DISK");
      c("BZERO", asFloat(s.weightZero), "Scaling: TRUE = BZERO + BSCALE * DISK");
      c("BLANK", BLANK16, "Value for undefined pixels");
    }
    c("INHERIT", true, "Inherit primary header keywords");
    c("EXTTYPE", kind === "image" ? "IMAGE" : kind === "mask" ? "MASK" : "VARIANCE", "Extension type");
    c("IMAGEID", 100000 + Number(projection) * 100 + Number(cell), "Image identifier");
    c("SOURCEID", 2, "Source identifier");
    c("PSCAMERA", "GPC1", "Camera name");
    c("PSFORMAT", "SKYCELL", "Camera format");
    c("TESS_ID", "RINGS.V3", "Tessellation identifier");
    c("SKYCELL", this.skycell, "Skycell name");
    c("FILTERID", `${this.band}.00000`, "Filter used");
    c("FPA.FILTER", `${this.band}.00000`, "Filter used (HIERARCH)");
    c("EXPTIME", asFloat(s.exptime), "Exposure time (sec)");
    c("FPA.ZP", asFloat(Number((25 + 2.5 * Math.log10(s.exptime)).toFixed(4))), "Magnitude zero point");
    c("NINPUTS", 8 + (Number(cell) % 7), "Number of input images");
    c("MJD-OBS", asFloat(55197 + Number(cell) / 10), "Mean MJD of the inputs");
    c("CTYPE1", "RA---TAN", "WCS projection type");
    c("CTYPE2", "DEC--TAN", "WCS projection type");
    c("CRVAL1", asFloat(wcs.crval1), "[deg] projection cell centre RA");
    c("CRVAL2", asFloat(wcs.crval2), "[deg] projection cell centre Dec");
    c("CRPIX1", asFloat(wcs.crpix1), "reference pixel");
    c("CRPIX2", asFloat(wcs.crpix2), "reference pixel");
    c("CDELT1", asFloat(-PS1_CDELT), "[deg/pix] pixel scale");
    c("CDELT2", asFloat(PS1_CDELT), "[deg/pix] pixel scale");
    c("PC001001", asFloat(1), "rotation matrix");
    c("PC001002", asFloat(0), "rotation matrix");
    c("PC002001", asFloat(0), "rotation matrix");
    c("PC002002", asFloat(1), "rotation matrix");
    c("EQUINOX", asFloat(2000), "Equinox of the coordinates");
    c("HISTORY", "synthetic PS1-like stack for the local archive");
    c("COMMENT", `projection cell ${projection}, skycell ${cell}, band ${this.band}`);
    return cards;
  }
}

function clamp16(v: number): number {
  return v < -32767 ? -32767 : v > 32767 ? 32767 : v;
}

/** Writes the image, mask and weight files of one skycell and band under `root` (archive tree). */
export async function writeSkycellFiles(
  root: string,
  skycell: string,
  band: string,
  opts: SynthOptions & { bandRows?: number } = {},
): Promise<{ paths: Record<FileKind, string>; bytes: number }> {
  const synth = new SkycellSynth(skycell, band, opts);
  const { width, height } = synth;
  const paths: Record<FileKind, string> = {
    image: localPath(root, skycell, band, "image"),
    mask: localPath(root, skycell, band, "mask"),
    weight: localPath(root, skycell, band, "weight"),
  };
  await Deno.mkdir(path.dirname(paths.image), { recursive: true });
  // Written under temporary names and renamed when complete, so an interrupted run leaves no partial file
  // under a real name.
  const suffix = `.tmp-${Deno.pid}-${Math.floor(Math.random() * 1e9)}`;
  const temp = {
    image: paths.image + suffix,
    mask: paths.mask + suffix,
    weight: paths.weight + suffix,
  };
  const writers = {
    image: await CompressedFitsWriter.create(temp.image, synth.cards("image"), width, height, {
      compression: "RICE_1",
      bitpix: 16,
      checksum: true,
    }),
    weight: await CompressedFitsWriter.create(temp.weight, synth.cards("weight"), width, height, {
      compression: "RICE_1",
      bitpix: 16,
      checksum: true,
    }),
    mask: await CompressedFitsWriter.create(temp.mask, synth.cards("mask"), width, height, {
      compression: "GZIP_1",
      bitpix: 16,
      unsigned: true,
      checksum: true,
    }),
  };
  try {
    const bandRows = opts.bandRows ?? 128;
    const buffers = {
      image: new Int16Array(bandRows * width),
      weight: new Int16Array(bandRows * width),
      mask: new Uint16Array(bandRows * width),
    };
    for (let y = 0; y < height; y += bandRows) {
      const rows = synth.rows(y, Math.min(height, y + bandRows), buffers);
      await writers.image.writeRows(rows.image);
      await writers.weight.writeRows(rows.weight);
      await writers.mask.writeRows(rows.mask);
    }
    await writers.image.close();
    await writers.weight.close();
    await writers.mask.close();
    for (const kind of ["image", "mask", "weight"] as const) await Deno.rename(temp[kind], paths[kind]);
  } catch (err) {
    for (const w of Object.values(writers)) w.abort();
    for (const t of Object.values(temp)) await Deno.remove(t).catch(() => {});
    throw err;
  }
  let bytes = 0;
  for (const p of Object.values(paths)) bytes += (await Deno.stat(p)).size;
  return { paths, bytes };
}

/** One row of the mapping CSV: a main skycell and its padding columns (values as written). */
export interface MappingRow {
  /** The main skycell (`NAME`). */
  name: string;
  /** Padding column values as written (a name, `A/B`, `None` or empty). */
  padding: Partial<Record<(typeof PADDING_COLUMNS)[number], string>>;
}

/** A demo sector/camera/CCD: its mapping rows (main skycells and their padding). */
export interface DemoConfig {
  /** TESS sector. */
  sector: number;
  /** TESS camera. */
  camera: number;
  /** TESS CCD. */
  ccd: number;
  /** Rows of the mapping CSV. */
  rows: MappingRow[];
}

/**
 * The demo CCD (sector 20, camera 3, CCD 3): three main skycells of projection cell 2556 with padding
 * cells in 2556 and 2557, written with blanks, `None` and an `A/B` value. Six skycells in all.
 */
export const demoConfig: DemoConfig = {
  sector: 20,
  camera: 3,
  ccd: 3,
  rows: [
    {
      name: "skycell.2556.080",
      padding: {
        pad_skycell_top: "skycell.2556.090",
        pad_skycell_right: "skycell.2556.081",
        pad_skycell_top_right: "skycell.2556.091",
        pad_skycell_bottom: "None",
        pad_skycell_left: "",
        pad_skycell_bottom_left: "None",
        pad_skycell_bottom_right: "",
        pad_skycell_top_left: "None",
      },
    },
    {
      name: "skycell.2556.081",
      padding: {
        pad_skycell_top: "skycell.2556.091",
        pad_skycell_right: "None",
        pad_skycell_top_right: "None",
        pad_skycell_bottom: "",
        pad_skycell_left: "skycell.2556.080",
        pad_skycell_bottom_left: "",
        pad_skycell_bottom_right: "None",
        pad_skycell_top_left: "skycell.2556.090",
      },
    },
    {
      name: "skycell.2556.090",
      padding: {
        pad_skycell_top: "skycell.2557.000/skycell.2557.001",
        pad_skycell_right: "skycell.2556.091",
        pad_skycell_top_right: "None",
        pad_skycell_bottom: "skycell.2556.080",
        pad_skycell_left: "None",
        pad_skycell_bottom_left: "",
        pad_skycell_bottom_right: "skycell.2556.081",
        pad_skycell_top_left: "None",
      },
    },
  ],
};

/** Every skycell a config names (main and padding), sorted. */
export function configSkycells(config: DemoConfig): string[] {
  const all = new Set<string>();
  for (const row of config.rows) {
    all.add(row.name);
    for (const v of Object.values(row.padding)) {
      for (const part of (v ?? "").split("/")) if (part && part !== "None") all.add(part);
    }
  }
  return [...all].sort();
}

/** Mapping CSV text for a config, shaped like the upstream stage's output. */
export function mappingCsvText(config: DemoConfig, size = FULL_SIZE): string {
  const header = [
    "",
    "NAME",
    "projection",
    "cell",
    "x",
    "y",
    "CRVAL1",
    "CRVAL2",
    "CRPIX1",
    "CRPIX2",
    "NAXIS1",
    "NAXIS2",
    ...[1, 2, 3, 4].flatMap((k) => [`RA_Corner${k}`, `DEC_Corner${k}`]),
    ...PADDING_COLUMNS,
    "pixel_indices",
  ];
  const rows = config.rows.map((row, i) => {
    const { projection, cell } = parseSkycell(row.name);
    const { row: gy, column: gx } = skycellGridPosition(row.name);
    const wcs = skycellWcs(row.name, size);
    const corners = [[1, 1], [wcs.width, 1], [wcs.width, wcs.height], [1, wcs.height]].flatMap(([x, y]) => {
      const { ra, dec } = pixelToSky(wcs, x, y);
      return [ra.toFixed(6), dec.toFixed(6)];
    });
    // TESS pixels that land on the skycell: a long list with commas, quoted in the CSV.
    const pixels: string[] = [];
    for (let k = 0; k < 400; k++) pixels.push(`(${100 + i * 20 + (k % 20)}, ${1500 + Math.floor(k / 20)})`);
    return [
      String(i),
      row.name,
      String(Number(projection)), // the upstream stage writes it as an integer, leading zeros lost
      cell,
      String(gx),
      String(gy),
      String(wcs.crval1),
      String(wcs.crval2),
      String(wcs.crpix1),
      String(wcs.crpix2),
      String(wcs.width),
      String(wcs.height),
      ...corners,
      ...PADDING_COLUMNS.map((c) => row.padding[c] ?? ""),
      `[${pixels.join(", ")}]`,
    ];
  });
  return formatCsv([header, ...rows]);
}

/** Options of {@link writeDemoArchive}. */
export interface DemoArchiveOptions extends SynthOptions {
  /** TESS sector (default 20). */
  sector?: number;
  /** TESS camera (default 3). */
  camera?: number;
  /** TESS CCD (default 3). */
  ccd?: number;
  /** Bands to write (default r, i, z, y). */
  bands?: string[];
  /** The mapping rows (default {@link demoConfig}'s). */
  rows?: MappingRow[];
  /** Where the archive tree goes (default `{dataDir}/ps1_archive`). */
  archiveDir?: string;
  /** Write the CSV at the legacy path instead of the newer one. */
  legacyCsv?: boolean;
  /**
   * Keep files already written by an earlier call with the same size and seed (recorded in
   * `{archiveDir}/synth.json`) instead of generating them again.
   */
  reuse?: boolean;
  /** Worker threads generating files in parallel (default: the number of cores, at most 4; 1 = this thread). */
  workers?: number;
  /** Called after each skycell and band is written. */
  onProgress?: (done: number, total: number, skycell: string, band: string) => void;
}

/** What {@link writeDemoArchive} wrote. */
export interface DemoArchive {
  /** The mapping CSV written. */
  csvPath: string;
  /** All skycells written, sorted. */
  skycells: string[];
  /** Root of the archive tree. */
  archiveDir: string;
  /** Number of FITS files. */
  files: number;
  /** Their total size in bytes. */
  bytes: number;
}

/**
 * Writes a PS1-like archive tree (all skycells of the mapping rows, every band, three files each) and the
 * mapping CSV under `dataDir`, deterministic from the seed.
 */
export async function writeDemoArchive(dataDir: string, opts: DemoArchiveOptions = {}): Promise<DemoArchive> {
  const config: DemoConfig = {
    sector: opts.sector ?? demoConfig.sector,
    camera: opts.camera ?? demoConfig.camera,
    ccd: opts.ccd ?? demoConfig.ccd,
    rows: opts.rows ?? demoConfig.rows,
  };
  const bands = opts.bands ?? ["r", "i", "z", "y"];
  const archiveDir = opts.archiveDir ?? path.join(dataDir, "ps1_archive");
  const skycells = configSkycells(config);
  const paths = mappingCsvPaths(dataDir, config.sector, config.camera, config.ccd);
  const csvPath = opts.legacyCsv ? paths.legacy : paths.newer;
  await Deno.mkdir(path.dirname(csvPath), { recursive: true });
  await Deno.writeTextFile(csvPath, mappingCsvText(config, opts.size));
  const manifestPath = path.join(archiveDir, "synth.json");
  const recipe = JSON.stringify({ size: opts.size ?? FULL_SIZE, seed: opts.seed ?? 1 });
  const previous = await Deno.readTextFile(manifestPath).catch(() => null);
  const reuse = opts.reuse === true && previous === recipe;
  await Deno.mkdir(archiveDir, { recursive: true });
  // The recipe is recorded before writing, so files of another recipe are never taken as reusable.
  await Deno.writeTextFile(manifestPath, recipe);
  const jobs = skycells.flatMap((skycell) => bands.map((band) => ({ skycell, band })));
  let bytes = 0;
  let done = 0;
  const finished = (n: number, skycell: string, band: string) => {
    bytes += n;
    opts.onProgress?.(++done, jobs.length, skycell, band);
  };
  const pending: typeof jobs = [];
  for (const job of jobs) {
    const existing = reuse ? await existingBytes(archiveDir, job.skycell, job.band) : null;
    if (existing !== null) finished(existing, job.skycell, job.band);
    else pending.push(job);
  }
  const cores = Math.min(4, navigator.hardwareConcurrency || 1);
  const workers = Math.max(1, Math.min(opts.workers ?? cores, pending.length));
  if (workers === 1) {
    for (const { skycell, band } of pending) {
      finished((await writeSkycellFiles(archiveDir, skycell, band, opts)).bytes, skycell, band);
    }
  } else {
    await runInWorkers(workers, pending, archiveDir, opts, finished);
  }
  return { csvPath, skycells, archiveDir, files: skycells.length * bands.length * 3, bytes };
}

/** Writes the jobs' files with a pool of workers; rejects with the first failure. */
async function runInWorkers(
  count: number,
  jobs: { skycell: string; band: string }[],
  root: string,
  opts: SynthOptions,
  finished: (bytes: number, skycell: string, band: string) => void,
): Promise<void> {
  const pool = Array.from(
    { length: count },
    () => new Worker(new URL("./synth_worker.ts", import.meta.url), { type: "module" }),
  );
  let next = 0;
  try {
    await Promise.all(pool.map(async (worker) => {
      while (next < jobs.length) {
        const id = next++;
        const { skycell, band } = jobs[id];
        const result = await new Promise<SynthJobResult>((resolve, reject) => {
          worker.onmessage = (e: MessageEvent<SynthJobResult>) => resolve(e.data);
          worker.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`synthesis worker failed on ${skycell} ${band}: ${e.message}`));
          };
          const job: SynthJob = { id, root, skycell, band, size: opts.size, seed: opts.seed };
          worker.postMessage(job);
        });
        if ("error" in result) throw new Error(`${skycell} ${band}: ${result.error}`);
        finished(result.bytes, skycell, band);
      }
    }));
  } finally {
    for (const w of pool) w.terminate();
  }
}

/** Total size of the three files of a skycell and band when all exist, else null. */
async function existingBytes(root: string, skycell: string, band: string): Promise<number | null> {
  let total = 0;
  for (const kind of ["image", "mask", "weight"] as const) {
    const info = await Deno.stat(localPath(root, skycell, band, kind)).catch(() => null);
    if (!info?.isFile) return null;
    total += info.size;
  }
  return total;
}
