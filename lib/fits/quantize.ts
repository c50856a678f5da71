/**
 * Quantized floating-point tiles (`ZQUANTIZ`), decoding side, and the dither table shared with the encoder.
 *
 * cfitsio dithers with a fixed table of 10000 pseudo-random numbers in (0, 1) made by the Park-Miller
 * minimal standard generator (seed 1, a = 16807, m = 2^31 - 1), stored as float32. A tile starts at
 * table position `(ditherRow - 1) % 10000`, where `ditherRow` is the tile's 1-based number plus
 * `ZDITHER0 - 1`; the first offset used is `table[trunc(table[iseed] * 500)]`, and each pixel moves one
 * position on; at the end of the table the next seed is taken.
 *
 * @example
 * ```ts
 * import { ditherRandoms } from "./quantize.ts";
 * ditherRandoms().length; // 10000
 * ```
 * @module
 */

/** Number of values in cfitsio's dither table (`N_RANDOM`). */
export const N_RANDOM = 10000;
/** The integer marking a NaN pixel in quantized tiles (cfitsio `NULL_VALUE`, written as `ZBLANK`). */
export const NULL_VALUE = -2147483647;
/** The integer marking an exact 0.0 with `SUBTRACTIVE_DITHER_2` (cfitsio `ZERO_VALUE`). */
export const ZERO_VALUE = -2147483646;

/** The quantization methods of the FITS standard (`ZQUANTIZ`). */
export type DitherMethod = "NO_DITHER" | "SUBTRACTIVE_DITHER_1" | "SUBTRACTIVE_DITHER_2";

let table: Float32Array | undefined;

/**
 * cfitsio's dither table (`fits_init_randoms`): 10000 float32 values from the Park-Miller generator.
 * The same array is returned on every call; do not modify it.
 */
export function ditherRandoms(): Float32Array {
  if (table) return table;
  const a = 16807;
  const m = 2147483647;
  const t = new Float32Array(N_RANDOM);
  let seed = 1;
  for (let i = 0; i < N_RANDOM; i++) {
    // a * seed < 2^46, exact in a double, as in cfitsio's double arithmetic.
    const temp = a * seed;
    seed = temp - m * Math.trunc(temp / m);
    t[i] = seed / m;
  }
  // cfitsio checks that the generator ends at this seed.
  if (seed !== 1043618065) throw new Error(`dither table self-check failed (seed ${seed})`);
  table = t;
  return t;
}

/**
 * The dither row of a tile: its 1-based number plus `ZDITHER0 - 1` (`ZDITHER0` defaults to 1, as in
 * cfitsio when the keyword is absent).
 */
export function ditherRow(tileIndex0: number, zdither0 = 1): number {
  return tileIndex0 + zdither0;
}

/** Position in the dither table where a tile starts: `(ditherRow - 1) % 10000`. */
export function ditherSeedIndex(row: number): number {
  return ((row - 1) % N_RANDOM + N_RANDOM) % N_RANDOM;
}

/** Scaling of one quantized tile. */
export interface TileScaling {
  /** `ZSCALE` of the tile. */
  zscale: number;
  /** `ZZERO` of the tile. */
  zzero: number;
  /** The integer that marks NaN pixels (`ZBLANK`), or undefined when the tile has none. */
  zblank?: number;
}

/**
 * Restores float32 values from a quantized tile, as cfitsio's `unquantize_i4r4`/`fffi4r4`:
 * dithered: `(int - r + 0.5) * ZSCALE + ZZERO`; `NO_DITHER`: `int * ZSCALE + ZZERO`, computed in double
 * and rounded once to float32. `ZBLANK` pixels become NaN; with `SUBTRACTIVE_DITHER_2` the
 * {@link ZERO_VALUE} integer is an exact 0. The dither position advances on every pixel, blank or not.
 *
 * @param input quantized integers of the tile
 * @param n number of pixels
 * @param out float32 destination (at least `n` long)
 * @param method dithering method of the file
 * @param row the tile's dither row ({@link ditherRow})
 */
export function unquantizeTile(
  input: Int32Array,
  n: number,
  out: Float32Array,
  method: DitherMethod,
  row: number,
  scaling: TileScaling,
): void {
  const { zscale, zzero } = scaling;
  const blank = scaling.zblank ?? NaN; // NaN never equals an integer, so "no blank" needs no branch
  if (method === "NO_DITHER") {
    for (let i = 0; i < n; i++) {
      const v = input[i];
      out[i] = v === blank ? NaN : v * zscale + zzero;
    }
    return;
  }
  const r = ditherRandoms();
  const zeroMarker = method === "SUBTRACTIVE_DITHER_2" ? ZERO_VALUE : NaN;
  let iseed = ditherSeedIndex(row);
  let next = Math.trunc(r[iseed] * 500);
  for (let i = 0; i < n; i++) {
    const v = input[i];
    if (v === blank) out[i] = NaN;
    else if (v === zeroMarker) out[i] = 0;
    else out[i] = (v - r[next] + 0.5) * zscale + zzero;
    if (++next === N_RANDOM) {
      if (++iseed === N_RANDOM) iseed = 0;
      next = Math.trunc(r[iseed] * 500);
    }
  }
}

/**
 * Parses `ZQUANTIZ`. An absent keyword (files from before dithering existed) means `NO_DITHER`, as in
 * cfitsio; `NONE` marks losslessly compressed floats.
 */
export function parseDitherMethod(zquantiz: string | undefined): DitherMethod | "NONE" {
  if (zquantiz === undefined) return "NO_DITHER";
  const q = zquantiz.trim().toUpperCase();
  if (q === "NO_DITHER") return "NO_DITHER";
  if (q === "SUBTRACTIVE_DITHER_1") return "SUBTRACTIVE_DITHER_1";
  if (q === "SUBTRACTIVE_DITHER_2") return "SUBTRACTIVE_DITHER_2";
  if (q === "NONE") return "NONE";
  return "NO_DITHER";
}
