/**
 * HCOMPRESS_1 tile decoding, following cfitsio's `fits_hdecompress`: a header (magic 0xDD 0x99, the two
 * tile dimensions, the scale, the sum of all pixels), the H-transform coefficients of the four quadrants
 * coded bit plane by bit plane (each plane quadtree-coded with a fixed Huffman code for the 4-bit
 * quadrant masks, or written directly), then the sign bits; finally the inverse H-transform. Smoothing
 * on decompression (`SMOOTH` != 0) is refused rather than approximated.
 * @module
 */

import { FitsError, fitsMessage } from "../errors.ts";
import type { IntTile, IntTileDecoder, TileInfo } from "./types.ts";

/** MSB-first bit reader over a byte array, with cfitsio's `input_bit`/`input_nbits` semantics. */
class BitInput {
  pos: number;
  #buffer = 0;
  #bitsToGo = 0;
  constructor(readonly bytes: Uint8Array, start: number, readonly where: string) {
    this.pos = start;
  }
  #next(): number {
    if (this.pos >= this.bytes.length) throw new FitsError(`${this.where}: HCOMPRESS stream overrun`);
    return this.bytes[this.pos++];
  }
  /** Restarts at the next byte boundary (`start_inputing_bits`). */
  restart(): void {
    this.#bitsToGo = 0;
  }
  bit(): number {
    if (this.#bitsToGo === 0) {
      this.#buffer = this.#next();
      this.#bitsToGo = 8;
    }
    this.#bitsToGo--;
    return (this.#buffer >> this.#bitsToGo) & 1;
  }
  bits(n: number): number {
    if (this.#bitsToGo < n) {
      this.#buffer = ((this.#buffer << 8) | this.#next()) & 0xffff;
      this.#bitsToGo += 8;
    }
    this.#bitsToGo -= n;
    return (this.#buffer >> this.#bitsToGo) & ((1 << n) - 1);
  }
  /** The fixed Huffman code of 4-bit quadrant masks (`input_huffman`). */
  huffman(): number {
    let c = this.bits(3);
    if (c < 4) return 1 << c;
    c = this.bit() | (c << 1);
    if (c < 13) return [3, 5, 10, 12, 15][c - 8];
    c = this.bit() | (c << 1);
    if (c < 31) return [6, 7, 9, 11, 13][c - 26];
    c = this.bit() | (c << 1);
    return c === 62 ? 0 : 14;
  }
}

function log2Ceil(n: number): number {
  // cfitsio: (int)(log(n)/log(2) + 0.5), then +1 if still too small
  let l = Math.trunc(Math.log(n) / Math.log(2) + 0.5);
  if (n > 1 << l) l++;
  return l;
}

/** Expands 4-bit codes of a compact (nx+1)/2 x (ny+1)/2 array into single bits of an nx x ny array. */
function qtreeCopy(a: Uint8Array, nx: number, ny: number, b: Uint8Array, n: number): void {
  const nx2 = (nx + 1) >> 1, ny2 = (ny + 1) >> 1;
  let k = ny2 * (nx2 - 1) + ny2 - 1;
  for (let i = nx2 - 1; i >= 0; i--) {
    let s00 = 2 * (n * i + ny2 - 1);
    for (let j = ny2 - 1; j >= 0; j--) {
      b[s00] = a[k--];
      s00 -= 2;
    }
  }
  let i = 0;
  for (; i < nx - 1; i += 2) {
    let s00 = n * i, s10 = s00 + n;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = b[s00];
      b[s10 + 1] = v & 1;
      b[s10] = (v >> 1) & 1;
      b[s00 + 1] = (v >> 2) & 1;
      b[s00] = (v >> 3) & 1;
      s00 += 2;
      s10 += 2;
    }
    if (j < ny) {
      const v = b[s00];
      b[s10] = (v >> 1) & 1;
      b[s00] = (v >> 3) & 1;
    }
  }
  if (i < nx) {
    let s00 = n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = b[s00];
      b[s00 + 1] = (v >> 2) & 1;
      b[s00] = (v >> 3) & 1;
      s00 += 2;
    }
    if (j < ny) b[s00] = (b[s00] >> 3) & 1;
  }
}

/** Coefficient array: Int32Array for 8/16-bit images, Float64Array holding exact 64-bit integers otherwise. */
type Coefficients = Int32Array | Float64Array;

/**
 * Sets bit plane `bit` from compact 4-bit codes `a` in the nx x ny block of `b` (row stride n). Each bit
 * is set once per plane, so adding 2^bit is the same as OR-ing it, also for 64-bit planes in doubles.
 */
function qtreeBitins(
  a: Uint8Array,
  nx: number,
  ny: number,
  b: Coefficients,
  off: number,
  n: number,
  bit: number,
): void {
  const pv = 2 ** bit;
  let k = 0;
  let i = 0;
  for (; i < nx - 1; i += 2) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = a[k++];
      if (v & 1) b[s00 + n + 1] += pv;
      if (v & 2) b[s00 + n] += pv;
      if (v & 4) b[s00 + 1] += pv;
      if (v & 8) b[s00] += pv;
      s00 += 2;
    }
    if (j < ny) {
      const v = a[k++];
      if (v & 2) b[s00 + n] += pv;
      if (v & 8) b[s00] += pv;
    }
  }
  if (i < nx) {
    let s00 = off + n * i;
    let j = 0;
    for (; j < ny - 1; j += 2) {
      const v = a[k++];
      if (v & 4) b[s00 + 1] += pv;
      if (v & 8) b[s00] += pv;
      s00 += 2;
    }
    if (j < ny) {
      const v = a[k++];
      if (v & 8) b[s00] += pv;
    }
  }
}

/** Decodes the bit planes of one quadrant (nqx x nqy values at `off`, row stride n). */
function qtreeDecode(
  inp: BitInput,
  a: Coefficients,
  off: number,
  n: number,
  nqx: number,
  nqy: number,
  planes: number,
): void {
  const nqmax = Math.max(nqx, nqy);
  const log2n = log2Ceil(nqmax);
  const scratch = new Uint8Array(((nqx + 1) >> 1) * ((nqy + 1) >> 1) + 4);
  for (let bit = planes - 1; bit >= 0; bit--) {
    const b = inp.bits(4);
    if (b === 0) {
      const count = ((nqx + 1) >> 1) * ((nqy + 1) >> 1);
      for (let i = 0; i < count; i++) scratch[i] = inp.bits(4);
      qtreeBitins(scratch, nqx, nqy, a, off, n, bit);
    } else if (b !== 0xf) {
      throw new FitsError(`${inp.where}: HCOMPRESS bad bit plane format code ${b}`);
    } else {
      scratch[0] = inp.huffman();
      let nx = 1, ny = 1, nfx = nqx, nfy = nqy, c = 1 << log2n;
      for (let k = 1; k < log2n; k++) {
        c >>= 1;
        nx <<= 1;
        ny <<= 1;
        if (nfx <= c) nx--;
        else nfx -= c;
        if (nfy <= c) ny--;
        else nfy -= c;
        qtreeCopy(scratch, nx, ny, scratch, ny);
        for (let i = nx * ny - 1; i >= 0; i--) if (scratch[i]) scratch[i] = inp.huffman();
      }
      qtreeBitins(scratch, nqx, nqy, a, off, n, bit);
    }
  }
}

/** cfitsio `unshuffle`: the first half of n elements (stride n2) to even places, the second half to odd. */
function unshuffle(a: Coefficients, off: number, n: number, n2: number, tmp: Coefficients): void {
  const nhalf = (n + 1) >> 1;
  for (let i = nhalf, p = off + n2 * nhalf, t = 0; i < n; i++, p += n2) tmp[t++] = a[p];
  for (let i = nhalf - 1, p2 = off + n2 * (nhalf - 1), p1 = off + ((n2 * (nhalf - 1)) << 1); i >= 0; i--) {
    a[p1] = a[p2];
    p2 -= n2;
    p1 -= 2 * n2;
  }
  for (let i = 1, p1 = off + n2, t = 0; i < n; i += 2, p1 += 2 * n2) a[p1] = tmp[t++];
}

/** The inverse H-transform of an nx x ny array (row stride ny), cfitsio's `hinv` without smoothing. */
function hinv(a: Int32Array, nx: number, ny: number): void {
  const nmax = Math.max(nx, ny);
  const log2n = log2Ceil(nmax);
  const tmp = new Int32Array((nmax + 1) >> 1);
  let shift = 1;
  let bit0 = 1 << (log2n - 1);
  let bit1 = bit0 << 1;
  let bit2 = bit0 << 2;
  let mask0 = -bit0;
  let mask1 = mask0 << 1;
  const mask2 = mask0 << 2;
  let prnd0 = bit0 >> 1;
  let prnd1 = bit1 >> 1;
  const prnd2 = bit2 >> 1;
  let nrnd0 = prnd0 - 1;
  let nrnd1 = prnd1 - 1;
  const nrnd2 = prnd2 - 1;
  a[0] = (a[0] + (a[0] >= 0 ? prnd2 : nrnd2)) & mask2;
  let nxtop = 1, nytop = 1, nxf = nx, nyf = ny, c = 1 << log2n;
  for (let k = log2n - 1; k >= 0; k--) {
    c >>= 1;
    nxtop <<= 1;
    nytop <<= 1;
    if (nxf <= c) nxtop--;
    else nxf -= c;
    if (nyf <= c) nytop--;
    else nyf -= c;
    if (k === 0) {
      nrnd0 = 0;
      shift = 2;
    }
    for (let i = 0; i < nxtop; i++) unshuffle(a, ny * i, nytop, 1, tmp);
    for (let j = 0; j < nytop; j++) unshuffle(a, j, nxtop, ny, tmp);
    const oddx = nxtop % 2, oddy = nytop % 2;
    let i = 0;
    for (; i < nxtop - oddx; i += 2) {
      let s00 = ny * i, s10 = s00 + ny;
      for (let j = 0; j < nytop - oddy; j += 2) {
        let h0 = a[s00];
        let hx = a[s10];
        let hy = a[s00 + 1];
        let hc = a[s10 + 1];
        hx = (hx + (hx >= 0 ? prnd1 : nrnd1)) & mask1;
        hy = (hy + (hy >= 0 ? prnd1 : nrnd1)) & mask1;
        hc = (hc + (hc >= 0 ? prnd0 : nrnd0)) & mask0;
        const lowbit0 = hc & bit0;
        hx = hx >= 0 ? hx - lowbit0 : hx + lowbit0;
        hy = hy >= 0 ? hy - lowbit0 : hy + lowbit0;
        const lowbit1 = (hc ^ hx ^ hy) & bit1;
        h0 = h0 >= 0 ? h0 + lowbit0 - lowbit1 : h0 + (lowbit0 === 0 ? lowbit1 : lowbit0 - lowbit1);
        a[s10 + 1] = (h0 + hx + hy + hc) >> shift;
        a[s10] = (h0 + hx - hy - hc) >> shift;
        a[s00 + 1] = (h0 - hx + hy - hc) >> shift;
        a[s00] = (h0 - hx - hy + hc) >> shift;
        s00 += 2;
        s10 += 2;
      }
      if (oddy) {
        let h0 = a[s00];
        let hx = a[s10];
        hx = (hx >= 0 ? hx + prnd1 : hx + nrnd1) & mask1;
        const lowbit1 = hx & bit1;
        h0 = h0 >= 0 ? h0 - lowbit1 : h0 + lowbit1;
        a[s10] = (h0 + hx) >> shift;
        a[s00] = (h0 - hx) >> shift;
      }
    }
    if (oddx) {
      let s00 = ny * i;
      let j = 0;
      for (; j < nytop - oddy; j += 2) {
        let h0 = a[s00];
        let hy = a[s00 + 1];
        hy = (hy >= 0 ? hy + prnd1 : hy + nrnd1) & mask1;
        const lowbit1 = hy & bit1;
        h0 = h0 >= 0 ? h0 - lowbit1 : h0 + lowbit1;
        a[s00 + 1] = (h0 + hy) >> shift;
        a[s00] = (h0 - hy) >> shift;
        s00 += 2;
      }
      if (oddy) a[s00] = a[s00] >> shift;
    }
    bit2 = bit1;
    bit1 = bit0;
    bit0 >>= 1;
    mask1 = mask0;
    mask0 >>= 1;
    prnd1 = prnd0;
    prnd0 >>= 1;
    nrnd1 = nrnd0;
    nrnd0 = prnd0 - 1;
  }
  void bit2;
}

/** Bit `bit` (a power of two) of the two's complement of an exact integer `x`, as 0 or `bit`. */
function bitOf(x: number, bit: number): number {
  return Math.floor(x / bit) % 2 === 0 ? 0 : bit;
}

/**
 * {@link hinv} for 32-bit images (cfitsio's `hinv64`): the same steps on exact integers held in doubles,
 * with `& mask` as flooring to a multiple, `>> shift` as floor division and bit tests by division.
 */
function hinv64(a: Float64Array, nx: number, ny: number): void {
  const nmax = Math.max(nx, ny);
  const log2n = log2Ceil(nmax);
  const tmp = new Float64Array((nmax + 1) >> 1);
  const floorTo = (x: number, m: number) => Math.floor(x / m) * m;
  let div = 2;
  let bit0 = 2 ** (log2n - 1);
  let bit1 = bit0 * 2;
  const bit2 = bit0 * 4;
  let prnd0 = Math.floor(bit0 / 2);
  let prnd1 = bit1 / 2;
  const prnd2 = bit2 / 2;
  let nrnd0 = prnd0 - 1;
  let nrnd1 = prnd1 - 1;
  const nrnd2 = prnd2 - 1;
  a[0] = floorTo(a[0] + (a[0] >= 0 ? prnd2 : nrnd2), bit2);
  let nxtop = 1, nytop = 1, nxf = nx, nyf = ny, c = 1 << log2n;
  for (let k = log2n - 1; k >= 0; k--) {
    c >>= 1;
    nxtop <<= 1;
    nytop <<= 1;
    if (nxf <= c) nxtop--;
    else nxf -= c;
    if (nyf <= c) nytop--;
    else nyf -= c;
    if (k === 0) {
      nrnd0 = 0;
      div = 4;
    }
    for (let i = 0; i < nxtop; i++) unshuffle(a, ny * i, nytop, 1, tmp);
    for (let j = 0; j < nytop; j++) unshuffle(a, j, nxtop, ny, tmp);
    // mask0 = -bit0 floors to a multiple of bit0; with bit0 = 0.5 on the last pass it is -1 (no-op).
    const m0 = bit0 >= 1 ? bit0 : 1;
    const oddx = nxtop % 2, oddy = nytop % 2;
    let i = 0;
    for (; i < nxtop - oddx; i += 2) {
      let s00 = ny * i, s10 = s00 + ny;
      for (let j = 0; j < nytop - oddy; j += 2) {
        let h0 = a[s00];
        let hx = a[s10];
        let hy = a[s00 + 1];
        let hc = a[s10 + 1];
        hx = floorTo(hx + (hx >= 0 ? prnd1 : nrnd1), bit1);
        hy = floorTo(hy + (hy >= 0 ? prnd1 : nrnd1), bit1);
        hc = floorTo(hc + (hc >= 0 ? prnd0 : nrnd0), m0);
        const lowbit0 = bit0 >= 1 ? bitOf(hc, bit0) : 0;
        hx = hx >= 0 ? hx - lowbit0 : hx + lowbit0;
        hy = hy >= 0 ? hy - lowbit0 : hy + lowbit0;
        const lowbit1 = (bitOf(hc, bit1) + bitOf(hx, bit1) + bitOf(hy, bit1)) % (2 * bit1) === bit1
          ? bit1
          : 0;
        h0 = h0 >= 0 ? h0 + lowbit0 - lowbit1 : h0 + (lowbit0 === 0 ? lowbit1 : lowbit0 - lowbit1);
        a[s10 + 1] = Math.floor((h0 + hx + hy + hc) / div);
        a[s10] = Math.floor((h0 + hx - hy - hc) / div);
        a[s00 + 1] = Math.floor((h0 - hx + hy - hc) / div);
        a[s00] = Math.floor((h0 - hx - hy + hc) / div);
        s00 += 2;
        s10 += 2;
      }
      if (oddy) {
        let h0 = a[s00];
        let hx = a[s10];
        hx = floorTo(hx >= 0 ? hx + prnd1 : hx + nrnd1, bit1);
        const lowbit1 = bitOf(hx, bit1);
        h0 = h0 >= 0 ? h0 - lowbit1 : h0 + lowbit1;
        a[s10] = Math.floor((h0 + hx) / div);
        a[s00] = Math.floor((h0 - hx) / div);
      }
    }
    if (oddx) {
      let s00 = ny * i;
      let j = 0;
      for (; j < nytop - oddy; j += 2) {
        let h0 = a[s00];
        let hy = a[s00 + 1];
        hy = floorTo(hy >= 0 ? hy + prnd1 : hy + nrnd1, bit1);
        const lowbit1 = bitOf(hy, bit1);
        h0 = h0 >= 0 ? h0 - lowbit1 : h0 + lowbit1;
        a[s00 + 1] = Math.floor((h0 + hy) / div);
        a[s00] = Math.floor((h0 - hy) / div);
        s00 += 2;
      }
      if (oddy) a[s00] = Math.floor(a[s00] / div);
    }
    bit1 = bit0;
    bit0 = bit0 / 2;
    prnd1 = prnd0;
    prnd0 = Math.floor(prnd0 / 2);
    nrnd1 = nrnd0;
    nrnd0 = prnd0 - 1;
  }
}

/**
 * Decodes one HCOMPRESS_1 stream of `npix` pixels into `out` (row-major, the stream's second dimension
 * varying fastest). Throws {@link FitsError} on a bad magic number, size mismatch or overrun.
 */
export function hdecompress(
  bytes: Uint8Array,
  npix: number,
  out: IntTile,
  where: string,
  wide = false,
): void {
  if (bytes.length < 23 || bytes[0] !== 0xdd || bytes[1] !== 0x99) {
    throw new FitsError(`${where}: not an HCOMPRESS stream (bad magic number)`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nx = v.getInt32(2);
  const ny = v.getInt32(6);
  const scale = v.getInt32(10);
  const sumall = v.getBigInt64(14);
  const planes = [bytes[22], bytes[23], bytes[24]];
  if (nx <= 0 || ny <= 0 || nx * ny !== npix) {
    throw new FitsError(`${where}: HCOMPRESS tile is ${nx} x ${ny}, expected ${npix} pixels`);
  }
  // cfitsio decodes 8/16-bit images in 32-bit integers (wrapping like C) and others in 64-bit.
  const a: Coefficients = wide ? new Float64Array(npix) : new Int32Array(npix);
  const inp = new BitInput(bytes, 25, where);
  const nx2 = (nx + 1) >> 1, ny2 = (ny + 1) >> 1;
  qtreeDecode(inp, a, 0, ny, nx2, ny2, planes[0]);
  qtreeDecode(inp, a, ny2, ny, nx2, ny >> 1, planes[1]);
  qtreeDecode(inp, a, ny * nx2, ny, nx >> 1, ny2, planes[1]);
  qtreeDecode(inp, a, ny * nx2 + ny2, ny, nx >> 1, ny >> 1, planes[2]);
  if (inp.bits(4) !== 0) throw new FitsError(`${where}: HCOMPRESS bad bit plane values (no end code)`);
  inp.restart();
  for (let i = 0; i < npix; i++) if (a[i] !== 0 && inp.bit() !== 0) a[i] = -a[i];
  a[0] = wide ? Number(sumall) : Number(BigInt.asIntN(32, sumall));
  if (scale > 1) { for (let i = 0; i < npix; i++) a[i] *= scale; }
  if (a instanceof Float64Array) hinv64(a, nx, ny);
  else hinv(a, nx, ny);
  // Stores wrap to the tile's integer type, as C's conversions do.
  for (let i = 0; i < npix; i++) out[i] = a[i];
}

/** The HCOMPRESS_1 tile decoder. */
export const hcompress: IntTileDecoder = {
  kind: "int",
  decode(compressed: Uint8Array, info: TileInfo, out: IntTile): void {
    const where = fitsMessage(info.source, `HCOMPRESS_1 tile ${info.tile + 1}`);
    const smooth = Number(info.params.get("SMOOTH") ?? 0);
    if (smooth !== 0) throw new FitsError(`${where}: unsupported HCOMPRESS_1 smoothing (SMOOTH = ${smooth})`);
    hdecompress(compressed, info.pixels, out, where, info.bytepix > 2);
  },
};
