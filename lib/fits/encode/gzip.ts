/**
 * The GZIP_1 tile encoder: the tile's pixels as big-endian bytes, gzip-compressed (RFC 1952), as cfitsio
 * writes them. The bytes are produced by the caller (see `bigEndianBytes`); this module only compresses.
 *
 * @example
 * ```ts
 * import { gzipTile } from "./gzip.ts";
 * const packed = gzipTile(new Uint8Array(1000));
 * packed[0] === 0x1f && packed[1] === 0x8b; // true: a gzip member
 * ```
 * @module
 */

import { gzipSync } from "node:zlib";

/** Default deflate level: cfitsio writes GZIP_1 tiles at level 1 (fastest), which suits tile data well. */
export const GZIP_TILE_LEVEL = 1;

/** Compresses one tile's big-endian bytes with gzip. */
export function gzipTile(bytes: Uint8Array, level: number = GZIP_TILE_LEVEL): Uint8Array {
  const out = gzipSync(bytes, { level });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Big-endian bytes of integer or float pixels (16-bit, 32-bit integers or float32), written into `out`
 * when it is large enough (else into a new array) and returned as a view of exactly the pixels' size.
 */
export function bigEndianBytes(
  pixels: Int16Array | Int32Array | Float32Array,
  out?: Uint8Array,
): Uint8Array {
  const width = pixels.BYTES_PER_ELEMENT;
  const size = pixels.length * width;
  const bytes = out && out.length >= size ? out.subarray(0, size) : new Uint8Array(size);
  const src = new Uint8Array(pixels.buffer, pixels.byteOffset, size);
  if (width === 2) {
    for (let i = 0; i < size; i += 2) {
      bytes[i] = src[i + 1];
      bytes[i + 1] = src[i];
    }
  } else {
    for (let i = 0; i < size; i += 4) {
      bytes[i] = src[i + 3];
      bytes[i + 1] = src[i + 2];
      bytes[i + 2] = src[i + 1];
      bytes[i + 3] = src[i];
    }
  }
  return bytes;
}
