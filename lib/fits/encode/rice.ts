/**
 * The RICE_1 tile encoder, producing the same bit stream as cfitsio's `fits_rcomp` family.
 *
 * Layout: the first pixel raw (BYTEPIX bytes), then per block of BLOCKSIZE pixels an FS code of 3, 4 or 5
 * bits (BYTEPIX 1, 2, 4). Differences from the previous pixel are zig-zag mapped (`2d` or `-2d-1`).
 * FS code 0 means the whole block is zero differences; the maximum code means the block's differences are
 * stored raw; otherwise code = fs + 1 and each difference is written as `d >> fs` zero bits, a one bit,
 * and the low `fs` bits. Bits are packed most significant first and the last byte is padded with zeros.
 *
 * As in cfitsio, differences wrap at the BYTEPIX width (a jump from -32768 to 32767 is a difference of -1).
 *
 * @example
 * ```ts
 * import { RiceEncoder } from "./rice.ts";
 * const enc = new RiceEncoder();
 * const bytes = enc.encode(new Int16Array([100, 101, 99, 100]), 2);
 * bytes.length; // 4: two raw bytes, then a 4-bit FS code and four short codes
 * ```
 * @module
 */

/** BLOCKSIZE cfitsio and fpack use. */
export const RICE_BLOCKSIZE = 32;

/** Pixel integers a RICE_1 tile is encoded from (the typed array decides nothing; BYTEPIX does). */
export type RiceInput = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array;

/** A RICE_1 tile cannot be encoded with these parameters. */
export class RiceEncodeError extends Error {
  /** @param message one line naming the parameter that is wrong */
  constructor(message: string) {
    super(message);
    this.name = "RiceEncodeError";
  }
}

/**
 * Encodes tiles with RICE_1. Keeps its output and scratch buffers between calls: the array returned by
 * {@link encode} is a view that the next call overwrites.
 */
export class RiceEncoder {
  #out = new Uint8Array(1 << 16);
  #diff = new Uint32Array(RICE_BLOCKSIZE);

  /**
   * Encodes `pixels` (interpreted as BYTEPIX-wide integers: 8-bit unsigned, 16- or 32-bit signed) with
   * RICE_1 and returns the compressed bytes (a view into the encoder's buffer).
   */
  encode(pixels: RiceInput, bytepix: 1 | 2 | 4, blockSize: number = RICE_BLOCKSIZE): Uint8Array {
    let fsBits: number, fsMax: number, bBits: number;
    if (bytepix === 1) [fsBits, fsMax, bBits] = [3, 6, 8];
    else if (bytepix === 2) [fsBits, fsMax, bBits] = [4, 14, 16];
    else if (bytepix === 4) [fsBits, fsMax, bBits] = [5, 25, 32];
    else throw new RiceEncodeError(`unsupported BYTEPIX ${bytepix}`);
    if (!Number.isInteger(blockSize) || blockSize < 1) {
      throw new RiceEncodeError(`invalid BLOCKSIZE ${blockSize}`);
    }
    const n = pixels.length;
    if (n === 0) return this.#out.subarray(0, 0);
    if (this.#diff.length < blockSize) this.#diff = new Uint32Array(blockSize);
    const diff = this.#diff;
    const bMask = bBits === 32 ? 0xffffffff : (1 << bBits) - 1;
    // Normalise the input to the value cfitsio sees: unsigned char, signed short, signed int.
    const norm = bytepix === 1 ? 0xff : 0;
    const shift = bytepix === 2 ? 16 : 0;
    // Worst case per block: every difference raw, or unary parts (bounded by about 3 bits per pixel beyond
    // the FS bits, see the FS choice below); a generous bound keeps the hot loop free of checks.
    const blockBound = Math.ceil((blockSize * (bBits + 8) + fsBits) / 8) + 8;

    let out = this.#out;
    let pos = 0;
    let acc = 0; // pending bits, fewer than 8 after each flush
    let nb = 0;

    const ensure = (extra: number) => {
      if (pos + extra > out.length) {
        const grown = new Uint8Array(Math.max(out.length * 2, pos + extra));
        grown.set(out.subarray(0, pos));
        out = grown;
      }
    };
    ensure(8 + blockBound);

    const value = (i: number): number => {
      const v = pixels[i];
      if (norm) return v & norm;
      if (shift) return (v << shift) >> shift;
      return v | 0;
    };

    // First pixel raw, in bBits bits (two halves for 32 bits so shifts stay within 32-bit integers).
    let last = value(0);
    if (bBits === 32) {
      const u = last >>> 0;
      out[pos++] = u >>> 24;
      out[pos++] = (u >>> 16) & 0xff;
      out[pos++] = (u >>> 8) & 0xff;
      out[pos++] = u & 0xff;
    } else if (bBits === 16) {
      out[pos++] = (last >>> 8) & 0xff;
      out[pos++] = last & 0xff;
    } else {
      out[pos++] = last & 0xff;
    }

    for (let start = 0; start < n; start += blockSize) {
      const count = Math.min(blockSize, n - start);
      if (pos + blockBound > out.length) ensure(blockBound);
      let pixelSum = 0;
      if (bytepix === 4) {
        for (let j = 0; j < count; j++) {
          const next = pixels[start + j] | 0;
          const d = (next - last) | 0;
          const z = ((d << 1) ^ (d >> 31)) >>> 0;
          diff[j] = z;
          pixelSum += z;
          last = next;
        }
      } else {
        const wrap = 32 - bBits;
        for (let j = 0; j < count; j++) {
          const next = value(start + j);
          const d = ((next - last) << wrap) >> wrap;
          const z = (d << 1) ^ (d >> 31);
          diff[j] = z;
          pixelSum += z;
          last = next;
        }
      }
      // FS from the mean difference, exactly as cfitsio computes it (integer halving of the block size).
      let dpsum = (pixelSum - Math.floor(count / 2) - 1) / count;
      if (dpsum < 0) dpsum = 0;
      let psum = Math.floor(dpsum) >>> 1;
      let fs = 0;
      while (psum > 0) {
        psum >>>= 1;
        fs++;
      }

      if (fs >= fsMax) {
        // High entropy: FS code fsMax + 1, then every difference raw.
        acc = (acc << fsBits) | (fsMax + 1);
        nb += fsBits;
        while (nb >= 8) {
          nb -= 8;
          out[pos++] = acc >>> nb;
        }
        acc &= (1 << nb) - 1;
        for (let j = 0; j < count; j++) {
          const z = (diff[j] & bMask) >>> 0;
          if (bBits === 32) {
            acc = (acc << 16) | (z >>> 16);
            nb += 16;
            while (nb >= 8) {
              nb -= 8;
              out[pos++] = acc >>> nb;
            }
            acc &= (1 << nb) - 1;
            acc = (acc << 16) | (z & 0xffff);
            nb += 16;
          } else {
            acc = (acc << bBits) | z;
            nb += bBits;
          }
          while (nb >= 8) {
            nb -= 8;
            out[pos++] = acc >>> nb;
          }
          acc &= (1 << nb) - 1;
        }
      } else if (fs === 0 && pixelSum === 0) {
        // Low entropy: all differences zero, FS code 0 alone.
        acc <<= fsBits;
        nb += fsBits;
        while (nb >= 8) {
          nb -= 8;
          out[pos++] = acc >>> nb;
        }
        acc &= (1 << nb) - 1;
      } else {
        acc = (acc << fsBits) | (fs + 1);
        nb += fsBits;
        while (nb >= 8) {
          nb -= 8;
          out[pos++] = acc >>> nb;
        }
        acc &= (1 << nb) - 1;
        const fsMask = (1 << fs) - 1;
        for (let j = 0; j < count; j++) {
          const z = diff[j];
          let top = z >>> fs;
          if (top + 1 + fs <= 24) {
            // top zeros, a one, then the low fs bits, in one go.
            const len = top + 1 + fs;
            acc = (acc << len) | (1 << fs) | (z & fsMask);
            nb += len;
          } else {
            if (pos + (top >>> 3) + 16 > out.length) ensure((top >>> 3) + 16 + blockBound);
            while (top >= 16) {
              acc <<= 16;
              nb += 16;
              while (nb >= 8) {
                nb -= 8;
                out[pos++] = acc >>> nb;
              }
              acc &= (1 << nb) - 1;
              top -= 16;
            }
            acc = (acc << (top + 1)) | 1;
            nb += top + 1;
            while (nb >= 8) {
              nb -= 8;
              out[pos++] = acc >>> nb;
            }
            acc &= (1 << nb) - 1;
            if (fs > 0) {
              acc = (acc << fs) | (z & fsMask);
              nb += fs;
            }
          }
          while (nb >= 8) {
            nb -= 8;
            out[pos++] = acc >>> nb;
          }
          acc &= (1 << nb) - 1;
        }
      }
    }
    if (nb > 0) out[pos++] = (acc << (8 - nb)) & 0xff;
    this.#out = out;
    return out.subarray(0, pos);
  }
}
