/**
 * The shape shared by the tile decoders: each turns one tile's compressed bytes into pixel values.
 * @module
 */

/** What a decoder needs to know about the tile and the file. */
export interface TileInfo {
  /** File name for error messages. */
  source: string;
  /** 0-based tile number. */
  tile: number;
  /** Number of pixels in the tile. */
  pixels: number;
  /** Tile width and height (first and second axis). */
  nx: number;
  ny: number;
  /** Bytes per stored integer value: 1, 2 or 4 (BYTEPIX for Rice; from ZBITPIX for the others). */
  bytepix: number;
  /** `ZNAMEi`/`ZVALi` parameters, upper-case names (BLOCKSIZE, BYTEPIX, SMOOTH, SCALE...). */
  params: Map<string, number | string>;
}

/** Integer tile buffer: Uint8Array for 8-bit images, Int16Array for 16-bit, Int32Array for 32-bit/quantized. */
export type IntTile = Int32Array | Int16Array | Uint8Array;

/**
 * A decoder that yields integers (Rice, PLIO, HCOMPRESS): writes `info.pixels` values into `out`; the
 * array type gives the wrap-around of the stored integer type.
 */
export interface IntTileDecoder {
  kind: "int";
  decode(compressed: Uint8Array, info: TileInfo, out: IntTile): void;
}

/**
 * A decoder that yields the tile's raw big-endian bytes (GZIP_1, GZIP_2, NOCOMPRESS), `elementSize` bytes
 * per pixel; the caller interprets them as integers or floats.
 */
export interface ByteTileDecoder {
  kind: "bytes";
  decode(compressed: Uint8Array, info: TileInfo, elementSize: number): Uint8Array;
}

/** Any tile decoder. */
export type TileDecoder = IntTileDecoder | ByteTileDecoder;
