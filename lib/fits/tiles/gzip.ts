/**
 * GZIP_1 and GZIP_2 tile decoding: the tile's big-endian bytes, gzip (or zlib) compressed. GZIP_2 first
 * shuffles the bytes so that all most significant bytes come first, then the next, and so on.
 * @module
 */

import { unzipSync } from "node:zlib";
import { FitsError, fitsMessage } from "../errors.ts";
import type { ByteTileDecoder, TileInfo } from "./types.ts";

/** Inflates a gzip or zlib stream; throws {@link FitsError} naming `where` on corrupt data. */
export function inflateTile(compressed: Uint8Array, where: string): Uint8Array {
  try {
    const buf = unzipSync(compressed);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new FitsError(`${where}: corrupt gzip data (${(e as Error).message})`);
  }
}

function checkLength(bytes: Uint8Array, info: TileInfo, elementSize: number, name: string): void {
  if (bytes.length < info.pixels * elementSize) {
    throw new FitsError(
      fitsMessage(
        info.source,
        `${name} tile ${info.tile + 1}: ${bytes.length} bytes, needs ${info.pixels * elementSize}`,
      ),
    );
  }
}

/** The GZIP_1 tile decoder. */
export const gzip1: ByteTileDecoder = {
  kind: "bytes",
  decode(compressed: Uint8Array, info: TileInfo, elementSize: number): Uint8Array {
    const bytes = inflateTile(compressed, fitsMessage(info.source, `GZIP_1 tile ${info.tile + 1}`));
    checkLength(bytes, info, elementSize, "GZIP_1");
    return bytes;
  },
};

/** Undoes the GZIP_2 byte shuffle: byte plane j of `n` values moves back to byte j of each value. */
export function unshuffle(shuffled: Uint8Array, n: number, elementSize: number): Uint8Array {
  const out = new Uint8Array(n * elementSize);
  for (let j = 0; j < elementSize; j++) {
    const plane = j * n;
    for (let i = 0; i < n; i++) out[i * elementSize + j] = shuffled[plane + i];
  }
  return out;
}

/** The GZIP_2 tile decoder. */
export const gzip2: ByteTileDecoder = {
  kind: "bytes",
  decode(compressed: Uint8Array, info: TileInfo, elementSize: number): Uint8Array {
    const bytes = inflateTile(compressed, fitsMessage(info.source, `GZIP_2 tile ${info.tile + 1}`));
    checkLength(bytes, info, elementSize, "GZIP_2");
    return elementSize === 1 ? bytes : unshuffle(bytes, info.pixels, elementSize);
  },
};
