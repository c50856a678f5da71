/**
 * RICE_1 tile decoding, as cfitsio's `fits_rdecomp` family: the first value raw (BYTEPIX bytes, big
 * endian), then blocks of BLOCKSIZE pixels each led by an FS code (3, 4 or 5 bits for BYTEPIX 1, 2, 4).
 * Code 0 repeats the last value for the whole block, the largest code stores the block's differences raw,
 * anything else is Rice-coded zig-zag differences with `FS = code - 1` low bits.
 * @module
 */

import { FitsError, fitsMessage } from "../errors.ts";
import type { IntTileDecoder, TileInfo } from "./types.ts";

/**
 * Decodes a Rice stream of `n` values of `bytepix` bytes into `out`. Values are summed in 32 bits and
 * stored into `out`, whose type does the wrap-around: an Int16Array for BYTEPIX 2 and a Uint8Array for
 * BYTEPIX 1 hold exactly cfitsio's 16-bit and unsigned 8-bit results. Throws {@link FitsError} when the
 * stream ends before all values are decoded.
 */
export function riceDecode(
  c: Uint8Array,
  n: number,
  blocksize: number,
  bytepix: number,
  out: Int32Array | Int16Array | Uint8Array,
  where = "RICE_1 tile",
): void {
  let fsbits: number, fsmax: number, bbits: number;
  if (bytepix === 1) [fsbits, fsmax, bbits] = [3, 6, 8];
  else if (bytepix === 2) [fsbits, fsmax, bbits] = [4, 14, 16];
  else if (bytepix === 4) [fsbits, fsmax, bbits] = [5, 25, 32];
  else throw new FitsError(`${where}: unsupported BYTEPIX ${bytepix}`);
  const cend = c.length;
  if (cend < bytepix + 1 && n > 0) throw new FitsError(`${where}: Rice stream overrun (only ${cend} bytes)`);
  if (bytepix === 2 && !(out instanceof Int32Array)) return riceDecodeShort(c, n, blocksize, out, where);
  // The bit reader reads bytes past the end as 0; the check after each block turns that into an error.
  let p = 0;
  let lastpix = 0;
  for (let k = 0; k < bytepix; k++) lastpix = (lastpix << 8) | c[p++];
  const mask = bbits === 32 ? -1 : (1 << bbits) - 1;
  let b = c[p++];
  let nbits = 8;
  for (let i = 0; i < n;) {
    nbits -= fsbits;
    while (nbits < 0) {
      b = (b << 8) | (c[p++] | 0);
      nbits += 8;
    }
    const fs = (b >>> nbits) - 1;
    b &= (1 << nbits) - 1;
    const imax = i + blocksize < n ? i + blocksize : n;
    if (fs < 0) {
      for (; i < imax; i++) out[i] = lastpix;
    } else if (fs === fsmax) {
      for (; i < imax; i++) {
        let k = bbits - nbits;
        let diff = k >= 32 ? 0 : b << k;
        for (k -= 8; k >= 0; k -= 8) {
          b = c[p++] | 0;
          diff |= b << k;
        }
        if (nbits > 0) {
          b = c[p++] | 0;
          diff |= b >>> -k;
          b &= (1 << nbits) - 1;
        } else b = 0;
        diff &= mask;
        lastpix = (lastpix + ((diff >>> 1) ^ -(diff & 1))) | 0;
        out[i] = lastpix;
      }
    } else {
      for (; i < imax; i++) {
        while (b === 0) {
          nbits += 8;
          b = c[p++] | 0;
          if (p > cend + 4) throw new FitsError(`${where}: Rice stream overrun (ran past ${cend} bytes)`);
        }
        const nzero = nbits - (32 - Math.clz32(b));
        nbits -= nzero + 1;
        b ^= 1 << nbits;
        nbits -= fs;
        while (nbits < 0) {
          b = (b << 8) | (c[p++] | 0);
          nbits += 8;
        }
        const diff = (nzero << fs) | (b >>> nbits);
        b &= (1 << nbits) - 1;
        // zig-zag: even -> diff / 2, odd -> ~(diff / 2)
        lastpix = (lastpix + ((diff >>> 1) ^ -(diff & 1))) | 0;
        out[i] = lastpix;
      }
    }
    if (p > cend) throw new FitsError(`${where}: Rice stream overrun (needs more than its ${cend} bytes)`);
  }
}

/**
 * {@link riceDecode} for BYTEPIX 2, the PS1 stack case, with the code sizes as constants (FS code 4 bits,
 * raw-block code 14, 16-bit values): about a fifth faster than the general loop in V8.
 */
function riceDecodeShort(
  c: Uint8Array,
  n: number,
  blocksize: number,
  out: Int16Array | Uint8Array,
  where: string,
): void {
  const cend = c.length;
  let lastpix = (c[0] << 8) | c[1];
  let p = 2;
  let b = c[p++];
  let nbits = 8;
  for (let i = 0; i < n;) {
    nbits -= 4;
    if (nbits < 0) {
      b = (b << 8) | (c[p++] | 0);
      nbits += 8;
    }
    const fs = (b >>> nbits) - 1;
    b &= (1 << nbits) - 1;
    const imax = i + blocksize < n ? i + blocksize : n;
    if (fs < 0) {
      for (; i < imax; i++) out[i] = lastpix;
    } else if (fs === 14) {
      for (; i < imax; i++) {
        // 16 raw bits: the nbits left in b, then whole bytes.
        let k = 16 - nbits;
        let diff = b << k;
        for (k -= 8; k >= 0; k -= 8) {
          b = c[p++] | 0;
          diff |= b << k;
        }
        if (nbits > 0) {
          b = c[p++] | 0;
          diff |= b >>> -k;
          b &= (1 << nbits) - 1;
        } else b = 0;
        diff &= 0xffff;
        lastpix = (lastpix + ((diff >>> 1) ^ -(diff & 1))) | 0;
        out[i] = lastpix;
      }
    } else {
      for (; i < imax; i++) {
        while (b === 0) {
          nbits += 8;
          b = c[p++] | 0;
          if (p > cend + 4) throw new FitsError(`${where}: Rice stream overrun (ran past ${cend} bytes)`);
        }
        const nzero = nbits - (32 - Math.clz32(b));
        nbits -= nzero + 1;
        b ^= 1 << nbits;
        nbits -= fs;
        while (nbits < 0) {
          b = (b << 8) | (c[p++] | 0);
          nbits += 8;
        }
        const diff = (nzero << fs) | (b >>> nbits);
        b &= (1 << nbits) - 1;
        lastpix = (lastpix + ((diff >>> 1) ^ -(diff & 1))) | 0;
        out[i] = lastpix;
      }
    }
    if (p > cend) throw new FitsError(`${where}: Rice stream overrun (needs more than its ${cend} bytes)`);
  }
}

/** The RICE_1 (and `RICE_ONE`) tile decoder. */
export const rice: IntTileDecoder = {
  kind: "int",
  decode(compressed: Uint8Array, info: TileInfo, out: Int32Array | Int16Array | Uint8Array): void {
    const blocksize = Number(info.params.get("BLOCKSIZE") ?? 32);
    const bytepix = Number(info.params.get("BYTEPIX") ?? info.bytepix);
    riceDecode(
      compressed,
      info.pixels,
      blocksize,
      bytepix,
      out,
      fitsMessage(info.source, `RICE_1 tile ${info.tile + 1}`),
    );
  },
};
