/**
 * Quantizing float32 tiles to integers for tile compression, following cfitsio (`fits_quantize_float`):
 * the quantization step `ZSCALE` is the tile's background noise divided by the quantize level q (or -q
 * itself when q is negative); the noise is the smallest non-zero of three median-absolute-difference
 * estimators (2nd, 3rd and 5th order differences along rows, median of the row medians). With
 * `SUBTRACTIVE_DITHER_1` each value is offset by a pseudo-random number from cfitsio's table before
 * rounding, so that decoding with the same sequence spreads the rounding error evenly.
 *
 * A tile is not quantized (the caller stores it losslessly) when it has fewer than two pixels, no noise
 * (e.g. constant values), infinities, or a range too wide for 32-bit integers. NaN pixels become
 * {@link NULL_VALUE} (`ZBLANK`).
 *
 * @example
 * ```ts ignore
 * import { Quantizer } from "./quantize.ts";
 * const q = new Quantizer("SUBTRACTIVE_DITHER_1", 4);
 * const ints = new Int32Array(100);
 * const r = q.quantize(new Float32Array(100).map(() => Math.random()), 100, 1, 1, ints);
 * r?.zscale; // the step, about a quarter of the noise
 * ```
 * @module
 */

import { ditherRandoms, ditherSeedIndex, N_RANDOM, NULL_VALUE } from "../quantize.ts";

export { NULL_VALUE };

/** Quantization methods the encoder writes (`ZQUANTIZ`). */
export type QuantizeMethod = "SUBTRACTIVE_DITHER_1" | "NO_DITHER";

// Integers reserved below the data range (cfitsio's N_RESERVED_VALUES).
const N_RESERVED_VALUES = 10;
const INT_MAX = 2147483647;

/** The scaling of one quantized tile. */
export interface QuantizedTile {
  /** `ZSCALE`: the quantization step. */
  zscale: number;
  /** `ZZERO`: the value of integer 0 (before the dither offset). */
  zzero: number;
  /** Whether some pixels were NaN (stored as {@link NULL_VALUE}). */
  hasNull: boolean;
}

/** cfitsio's rounding: half away from zero, then truncation to a 32-bit integer. */
function nint(x: number): number {
  return x >= 0 ? Math.trunc(x + 0.5) | 0 : Math.trunc(x - 0.5) | 0;
}

/**
 * Quantizes float32 tiles. Keeps scratch buffers between tiles.
 */
export class Quantizer {
  #method: QuantizeMethod;
  #level: number;
  #random: Float32Array;
  #diff2 = new Float32Array(0);
  #diff3 = new Float32Array(0);
  #diff5 = new Float32Array(0);
  #good = new Float32Array(0);

  /**
   * @param method dithering method
   * @param level q: step = noise / q; a negative value is the step itself
   */
  constructor(method: QuantizeMethod, level: number) {
    this.#method = method;
    this.#level = level;
    this.#random = ditherRandoms();
  }

  /**
   * Quantizes one tile of `nx * ny` pixels into `out`. `ditherRow` is cfitsio's dither row: the tile's
   * 1-based number plus `ZDITHER0` - 1. Returns the tile's scaling, or `null` when the tile must be stored
   * losslessly instead.
   */
  quantize(
    tile: Float32Array,
    nx: number,
    ny: number,
    ditherRow: number,
    out: Int32Array,
  ): QuantizedTile | null {
    const n = nx * ny;
    if (n <= 1) return null;
    let minval = Infinity;
    let maxval = -Infinity;
    let nGood = 0;
    for (let i = 0; i < n; i++) {
      const v = tile[i];
      if (v !== v) continue;
      // Infinities cannot be quantized; the lossless fallback keeps them exactly.
      if (v === Infinity || v === -Infinity) return null;
      if (v < minval) minval = v;
      if (v > maxval) maxval = v;
      nGood++;
    }
    let delta: number;
    if (this.#level >= 0) {
      let stdev: number;
      if (nGood === 0) {
        // Every pixel is NaN: any scaling works, these are cfitsio's dummy values.
        minval = 0;
        maxval = 1;
        stdev = 1;
      } else {
        const [noise2, noise3, noise5] = this.#noise(tile, nx, ny);
        stdev = noise3;
        if (noise2 !== 0 && noise2 < stdev) stdev = noise2;
        if (noise5 !== 0 && noise5 < stdev) stdev = noise5;
      }
      delta = this.#level === 0 ? stdev / 4 : stdev / this.#level;
      if (delta === 0) return null;
    } else {
      delta = -this.#level;
      if (nGood === 0) {
        minval = 0;
        maxval = 1;
      }
    }
    if ((maxval - minval) / delta > 2 * INT_MAX - N_RESERVED_VALUES) return null;

    const dither = this.#method !== "NO_DITHER";
    const random = this.#random;
    let iseed = 0;
    let nextrand = 0;
    if (dither) {
      iseed = ditherSeedIndex(ditherRow);
      nextrand = Math.trunc(random[iseed] * 500);
    }
    const hasNull = nGood !== n;
    let zeropt: number;
    if (!hasNull) {
      if ((maxval - minval) / delta < INT_MAX - N_RESERVED_VALUES) {
        // A zero point on a multiple of delta keeps repeated compress/decompress cycles stable.
        zeropt = Math.trunc(minval / delta + 0.5) * delta;
      } else {
        zeropt = (minval + maxval) / 2;
      }
    } else {
      // Shift the range up against the null value so that nulls stay distinct.
      zeropt = minval - delta * (NULL_VALUE + N_RESERVED_VALUES);
    }
    if (dither) {
      for (let i = 0; i < n; i++) {
        const v = tile[i];
        out[i] = v !== v ? NULL_VALUE : nint((v - zeropt) / delta + random[nextrand] - 0.5);
        // The sequence advances for every pixel, null or not.
        nextrand++;
        if (nextrand === N_RANDOM) {
          iseed++;
          if (iseed === N_RANDOM) iseed = 0;
          nextrand = Math.trunc(random[iseed] * 500);
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = tile[i];
        out[i] = v !== v ? NULL_VALUE : nint((v - zeropt) / delta);
      }
    }
    return { zscale: delta, zzero: zeropt, hasNull };
  }

  /**
   * The three noise estimates of cfitsio's `FnNoise5`: per row of at least 9 good pixels, the medians of
   * |v5 - v7|, |2 v5 - v3 - v7| and |6 v5 - 4 v3 - 4 v7 + v1 + v9| over a sliding window of good pixels
   * (skipping flat stretches), then the median over rows, scaled to a Gaussian sigma.
   */
  #noise(tile: Float32Array, nx: number, ny: number): [number, number, number] {
    if (nx < 9) {
      nx = nx * ny;
      ny = 1;
    }
    if (nx < 9) return [0, 0, 0];
    if (this.#diff2.length < nx) {
      this.#diff2 = new Float32Array(nx);
      this.#diff3 = new Float32Array(nx);
      this.#diff5 = new Float32Array(nx);
    }
    const d2 = this.#diff2, d3 = this.#diff3, d5 = this.#diff5;
    const rows2: number[] = [], rows3: number[] = [], rows5: number[] = [];
    const f = Math.fround;
    if (this.#good.length < nx) this.#good = new Float32Array(nx);
    const g = this.#good;
    for (let y = 0; y < ny; y++) {
      // The window slides over good pixels only: NaN pixels are skipped, not treated as gaps.
      let m = 0;
      for (let x = 0, row = y * nx; x < nx; x++) {
        const v = tile[row + x];
        if (v === v) g[m++] = v;
      }
      let nvals = 0;
      let nvals2 = 0;
      for (let i = 8; i < m; i++) {
        const v1 = g[i - 8], v3 = g[i - 6], v4 = g[i - 5], v5 = g[i - 4], v6 = g[i - 3], v7 = g[i - 2];
        const v9 = g[i];
        if (!(v5 === v6 && v6 === v7)) d2[nvals2++] = Math.abs(f(v5 - v7));
        if (!(v3 === v4 && v4 === v5 && v5 === v6 && v6 === v7)) {
          d3[nvals] = Math.abs(f(f(f(2 * v5) - v3) - v7));
          d5[nvals] = Math.abs(f(f(f(f(f(6 * v5) - f(4 * v3)) - f(4 * v7)) + v1) + v9));
          nvals++;
        }
      }
      if (nvals === 0) continue;
      if (nvals === 1) {
        if (nvals2 === 1) rows2.push(d2[0]);
        rows3.push(d3[0]);
        rows5.push(d5[0]);
      } else {
        // cfitsio takes the 2nd-order median over the first nvals differences.
        if (nvals2 > 1) rows2.push(lowerMedian(d2, nvals));
        rows3.push(lowerMedian(d3, nvals));
        rows5.push(lowerMedian(d5, nvals));
      }
    }
    return [1.0483579 * rowMedian(rows2), 0.6052697 * rowMedian(rows3), 0.1772048 * rowMedian(rows5)];
  }
}

/** Median of the row estimates: the mean of the two middle values. */
function rowMedian(values: number[]): number {
  if (values.length === 0) return 0;
  if (values.length === 1) return values[0];
  values.sort((a, b) => a - b);
  const n = values.length;
  return (values[(n - 1) >> 1] + values[n >> 1]) / 2;
}

// Scratch for the radix selection (shared: quantization runs on one thread at a time per isolate).
const COUNTS = new Uint32Array(4096);
let gathered = new Uint32Array(0);
let gatheredFloats = new Float32Array(0);

/**
 * The element of rank (n - 1) / 2 among the first n values of `a` (all non-negative), by radix selection
 * on the float bit patterns, which order like the values for non-negative floats. Counting passes avoid
 * the unpredictable branches of a comparison-based quickselect, which dominated the quantizer's time.
 */
function lowerMedian(a: Float32Array, n: number): number {
  const bits = new Uint32Array(a.buffer, a.byteOffset, n);
  if (gathered.length < n) {
    gathered = new Uint32Array(a.length);
    gatheredFloats = new Float32Array(gathered.buffer);
  }
  let k = (n - 1) >> 1;
  // Level 1: the top 12 bits (exponent and the first mantissa bits).
  COUNTS.fill(0);
  for (let i = 0; i < n; i++) COUNTS[bits[i] >>> 20]++;
  let bucket = 0;
  while (k >= COUNTS[bucket]) k -= COUNTS[bucket++];
  let m = 0;
  for (let i = 0; i < n; i++) if (bits[i] >>> 20 === bucket) gathered[m++] = bits[i];
  // Level 2: the next 12 bits, among the values of that bucket.
  if (m > 32) {
    COUNTS.fill(0);
    for (let i = 0; i < m; i++) COUNTS[(gathered[i] >>> 8) & 0xfff]++;
    let sub = 0;
    while (k >= COUNTS[sub]) k -= COUNTS[sub++];
    let m2 = 0;
    for (let i = 0; i < m; i++) if (((gathered[i] >>> 8) & 0xfff) === sub) gathered[m2++] = gathered[i];
    m = m2;
  }
  gathered.subarray(0, m).sort();
  return gatheredFloats[k];
}
