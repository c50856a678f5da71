/**
 * GZIP_1 and GZIP_2 tile decoding: the tile's big-endian bytes, gzip (or zlib) compressed. GZIP_2 first
 * shuffles the bytes so that all most significant bytes come first, then the next, and so on. A tile never
 * inflates past its own size (pixels x bytes per pixel).
 * @module
 */

import { unzipSync } from "node:zlib";
import { FitsError, fitsMessage } from "../errors.ts";
import type { ByteTileDecoder, TileInfo } from "./types.ts";

/**
 * Inflates a gzip or zlib stream; throws {@link FitsError} naming `where` on corrupt data. With
 * `maxBytes` (a tile's size) the output is capped there: a stream that would inflate further is refused
 * as soon as it passes the cap, so a few MB crafted to inflate to gigabytes (a "tile bomb") costs at most
 * `maxBytes` of memory and the time to inflate that much.
 */
export function inflateTile(compressed: Uint8Array, where: string, maxBytes?: number): Uint8Array {
  try {
    const buf = maxBytes === undefined ? unzipSync(compressed) : unzipSync(compressed, {
      // zlib refuses 0; an empty tile inflating to one byte is still caught by the length check below.
      maxOutputLength: Math.max(1, maxBytes),
    });
    if (maxBytes !== undefined && buf.byteLength > maxBytes) {
      throw new FitsError(`${where}: gzip data inflate to more than the tile's ${maxBytes} bytes`);
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    if (e instanceof FitsError) throw e;
    if (maxBytes !== undefined && (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new FitsError(`${where}: gzip data inflate to more than the tile's ${maxBytes} bytes`);
    }
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
    const where = fitsMessage(info.source, `GZIP_1 tile ${info.tile + 1}`);
    const bytes = inflateTile(compressed, where, info.pixels * elementSize);
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
    const where = fitsMessage(info.source, `GZIP_2 tile ${info.tile + 1}`);
    const bytes = inflateTile(compressed, where, info.pixels * elementSize);
    checkLength(bytes, info, elementSize, "GZIP_2");
    return elementSize === 1 ? bytes : unshuffle(bytes, info.pixels, elementSize);
  },
};
