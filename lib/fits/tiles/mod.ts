/**
 * The tile decoders, keyed by `ZCMPTYPE`. Adding a compression is adding a file and a line here.
 * @module
 */

import { FitsError, fitsMessage } from "../errors.ts";
import { gzip1, gzip2 } from "./gzip.ts";
import { hcompress } from "./hcompress.ts";
import { nocompress } from "./nocompress.ts";
import { plio } from "./plio.ts";
import { rice } from "./rice.ts";
import type { TileDecoder } from "./types.ts";

export type { ByteTileDecoder, IntTile, IntTileDecoder, TileDecoder, TileInfo } from "./types.ts";

/** Decoders by `ZCMPTYPE` (cfitsio writes `RICE_ONE` for RICE_1 with SUBTRACTIVE_DITHER_2). */
export const TILE_DECODERS: ReadonlyMap<string, TileDecoder> = new Map<string, TileDecoder>([
  ["RICE_1", rice],
  ["RICE_ONE", rice],
  ["GZIP_1", gzip1],
  ["GZIP_2", gzip2],
  ["PLIO_1", plio],
  ["HCOMPRESS_1", hcompress],
  ["NOCOMPRESS", nocompress],
]);

/** The decoder for a `ZCMPTYPE`; throws {@link FitsError} "unsupported compression X" for any other. */
export function tileDecoder(zcmptype: string, source?: string): TileDecoder {
  const d = TILE_DECODERS.get(zcmptype.trim().toUpperCase());
  if (!d) throw new FitsError(fitsMessage(source, `unsupported compression ${zcmptype.trim()}`));
  return d;
}
