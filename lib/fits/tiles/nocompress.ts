/**
 * NOCOMPRESS tiles: the tile's big-endian bytes stored as they are.
 * @module
 */

import { FitsError, fitsMessage } from "../errors.ts";
import type { ByteTileDecoder, TileInfo } from "./types.ts";

/** The NOCOMPRESS tile decoder. */
export const nocompress: ByteTileDecoder = {
  kind: "bytes",
  decode(compressed: Uint8Array, info: TileInfo, elementSize: number): Uint8Array {
    if (compressed.length < info.pixels * elementSize) {
      throw new FitsError(
        fitsMessage(
          info.source,
          `NOCOMPRESS tile ${info.tile + 1}: ${compressed.length} bytes, needs ${info.pixels * elementSize}`,
        ),
      );
    }
    return compressed;
  },
};
