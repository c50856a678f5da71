/**
 * Tile-compressed FITS images in the layout of fpack and the PS1 archive: an empty primary HDU, then the
 * image as a compressed BINTABLE in extension 1 (`ZIMAGE = T`), one table row per tile, tiles of whole
 * image rows (one row per tile by default), the compressed bytes in the heap behind `COMPRESSED_DATA`
 * (`1PB`) descriptors.
 *
 * - RICE_1 (`BLOCKSIZE` 32, `BYTEPIX` 2 or 4) for 16- and 32-bit integers, and for float32 quantized with
 *   `SUBTRACTIVE_DITHER_1` (or `NO_DITHER`): per-tile `ZSCALE`/`ZZERO` columns, `ZBLANK` for NaN, the cfitsio
 *   dither sequence seeded from `ZDITHER0`. A float tile that cannot be quantized (constant values, or
 *   infinities) is stored losslessly in `GZIP_COMPRESSED_DATA`, as cfitsio does.
 * - GZIP_1 for 16- and 32-bit integers and float32 (lossless, `ZQUANTIZ = 'NONE'`, unless a quantize level
 *   is given).
 *
 * The image header cards (`BSCALE`, `BZERO`, `BLANK`, WCS, ...) are copied into the table header as they
 * are given; the keywords that describe the image structure become `ZBITPIX`, `ZNAXISn` and friends.
 *
 * @example
 * ```ts
 * import { compressImage } from "./compress.ts";
 * const data = new Int16Array(64 * 32).map((_, i) => i % 97);
 * const fits = compressImage([], 64, 32, data, { compression: "RICE_1", bitpix: 16 });
 * fits.length % 2880; // 0
 * ```
 * @module
 */

import { cardKeyword, formatCard, headerBytes, headerText, setCard } from "./card.ts";
import {
  ChecksumAccumulator,
  checksumPlaceholderCard,
  datasumCard,
  onesComplementAdd,
  sealHeader,
} from "./checksum.ts";
import { bigEndianBytes, GZIP_TILE_LEVEL, gzipTile } from "./encode/gzip.ts";
import { RICE_BLOCKSIZE, RiceEncoder } from "./encode/rice.ts";
import { NULL_VALUE, type QuantizeMethod, Quantizer } from "./encode/quantize.ts";
import { dataPadding, writeAll } from "./write.ts";

/** Options of {@link compressImage}. */
export interface CompressOptions {
  /** Tile compression (`ZCMPTYPE`). */
  compression: "RICE_1" | "GZIP_1";
  /** `ZBITPIX`: 16 (Int16Array, or Uint16Array written with BZERO 32768), 32 (Int32Array), -32 (Float32Array). */
  bitpix: 16 | 32 | -32;
  /**
   * Float quantization level q: the quantization step is the tile's noise / q (cfitsio's rule); a negative
   * value is the step itself. Default 4 for RICE_1; GZIP_1 floats are lossless unless this is given; 0
   * asks for lossless (GZIP_1 only).
   */
  quantizeLevel?: number;
  /** Dithering of quantized floats (default `SUBTRACTIVE_DITHER_1`). */
  dither?: QuantizeMethod;
  /** `ZDITHER0`, 1-10000 (default 1). */
  ditherSeed?: number;
  /** Image rows per tile (`ZTILE2`, default 1). */
  tileRows?: number;
  /** Deflate level of GZIP_1 tiles (default 1, as cfitsio). */
  gzipLevel?: number;
  /** Add `CHECKSUM`/`DATASUM` to both HDUs. */
  checksum?: boolean;
}

/** The image cannot be compressed with these options (wrong array type, bad size or option). */
export class CompressError extends Error {
  /** @param message one line naming the option or input that is wrong */
  constructor(message: string) {
    super(message);
    this.name = "CompressError";
  }
}

// Keywords of the image header that the compressed table rebuilds or that belong to the table itself.
const REBUILT = new Set([
  "SIMPLE",
  "XTENSION",
  "BITPIX",
  "NAXIS",
  "PCOUNT",
  "GCOUNT",
  "EXTEND",
  "TFIELDS",
  "THEAP",
  "CHECKSUM",
  "DATASUM",
  "ZIMAGE",
  "ZCMPTYPE",
  "ZBITPIX",
  "ZNAXIS",
  "ZSIMPLE",
  "ZTENSION",
  "ZEXTEND",
  "ZPCOUNT",
  "ZGCOUNT",
  "ZQUANTIZ",
  "ZDITHER0",
  "ZBLANK",
  "ZSCALE",
  "ZZERO",
  "ZHECKSUM",
  "ZDATASUM",
]);
const REBUILT_PATTERN = /^(NAXIS|ZNAXIS|ZTILE|ZNAME|ZVAL|TTYPE|TFORM|TUNIT|TNULL|TSCAL|TZERO|TDIM)\d+$/;

function isRebuilt(keyword: string): boolean {
  return REBUILT.has(keyword) || REBUILT_PATTERN.test(keyword);
}

/** Options resolved and checked once, shared by the in-memory and the streaming writer. */
interface Plan {
  compression: "RICE_1" | "GZIP_1";
  bitpix: 16 | 32 | -32;
  width: number;
  height: number;
  tileRows: number;
  nTiles: number;
  quantized: boolean;
  quantizeLevel: number;
  method: QuantizeMethod;
  ditherSeed: number;
  gzipLevel: number;
  checksum: boolean;
}

function makePlan(width: number, height: number, opts: CompressOptions): Plan {
  if (!Number.isSafeInteger(width) || width < 1 || !Number.isSafeInteger(height) || height < 1) {
    throw new CompressError(`invalid image size ${width} x ${height}`);
  }
  if (opts.compression !== "RICE_1" && opts.compression !== "GZIP_1") {
    throw new CompressError(`unsupported compression ${opts.compression}`);
  }
  if (opts.bitpix !== 16 && opts.bitpix !== 32 && opts.bitpix !== -32) {
    throw new CompressError(`unsupported bitpix ${opts.bitpix}`);
  }
  const tileRows = opts.tileRows ?? 1;
  if (!Number.isSafeInteger(tileRows) || tileRows < 1) {
    throw new CompressError(`invalid tileRows ${tileRows}`);
  }
  const ditherSeed = opts.ditherSeed ?? 1;
  if (!Number.isInteger(ditherSeed) || ditherSeed < 1 || ditherSeed > 10000) {
    throw new CompressError(`invalid ditherSeed ${ditherSeed} (1-10000)`);
  }
  const isFloat = opts.bitpix === -32;
  let quantizeLevel = opts.quantizeLevel;
  if (isFloat && quantizeLevel === undefined && opts.compression === "RICE_1") quantizeLevel = 4;
  const quantized = isFloat && quantizeLevel !== undefined && quantizeLevel !== 0;
  if (isFloat && opts.compression === "RICE_1" && !quantized) {
    throw new CompressError("RICE_1 float32 needs quantization (quantizeLevel must not be 0)");
  }
  if (quantized && !Number.isFinite(quantizeLevel)) {
    throw new CompressError(`invalid quantizeLevel ${quantizeLevel}`);
  }
  const method = opts.dither ?? "SUBTRACTIVE_DITHER_1";
  if (method !== "SUBTRACTIVE_DITHER_1" && method !== "NO_DITHER") {
    throw new CompressError(`unsupported dither ${method}`);
  }
  return {
    compression: opts.compression,
    bitpix: opts.bitpix,
    width,
    height,
    tileRows,
    nTiles: Math.ceil(height / tileRows),
    quantized,
    quantizeLevel: quantizeLevel ?? 0,
    method,
    ditherSeed,
    gzipLevel: opts.gzipLevel ?? GZIP_TILE_LEVEL,
    checksum: opts.checksum ?? false,
  };
}

type TileData = Int16Array | Uint16Array | Int32Array | Float32Array;

function checkDataType(data: TileData, bitpix: number): void {
  const ok = (bitpix === 16 && (data instanceof Int16Array || data instanceof Uint16Array)) ||
    (bitpix === 32 && data instanceof Int32Array) || (bitpix === -32 && data instanceof Float32Array);
  if (!ok) {
    throw new CompressError(`bitpix ${bitpix} does not match the data array (${data.constructor.name})`);
  }
}

/** One compressed tile: its `COMPRESSED_DATA` bytes, or a lossless fallback, and its scaling. */
interface EncodedTile {
  data: Uint8Array;
  fallback?: Uint8Array;
  zscale: number;
  zzero: number;
  hasNull: boolean;
}

const EMPTY = new Uint8Array(0);
const HEAP_WRITE_SIZE = 4 << 20;

/** Compresses tiles one at a time with reused scratch buffers. */
class TileCompressor {
  #plan: Plan;
  #rice = new RiceEncoder();
  #quantizer: Quantizer | null;
  #ints: Int32Array;
  #shifted: Int16Array;
  #bigEndian: Uint8Array;

  constructor(plan: Plan) {
    this.#plan = plan;
    const tilePixels = plan.width * plan.tileRows;
    this.#quantizer = plan.quantized ? new Quantizer(plan.method, plan.quantizeLevel) : null;
    this.#ints = new Int32Array(plan.quantized ? tilePixels : 0);
    this.#shifted = new Int16Array(plan.bitpix === 16 ? tilePixels : 0);
    this.#bigEndian = new Uint8Array(tilePixels * 4);
  }

  /** Compresses tile `index` (0-based) of `rows` image rows. The returned bytes are the caller's to keep. */
  compress(tile: TileData, rows: number, index: number): EncodedTile {
    const plan = this.#plan;
    if (this.#quantizer) {
      const ints = this.#ints.subarray(0, tile.length);
      // cfitsio seeds each tile's dither from its 1-based row number in the table plus ZDITHER0 - 1.
      const q = this.#quantizer.quantize(
        tile as Float32Array,
        plan.width,
        rows,
        index + plan.ditherSeed,
        ints,
      );
      if (!q) {
        const raw = bigEndianBytes(tile as Float32Array, this.#bigEndian);
        return { data: EMPTY, fallback: gzipTile(raw, plan.gzipLevel), zscale: 0, zzero: 0, hasNull: false };
      }
      return { data: this.#pack(ints), zscale: q.zscale, zzero: q.zzero, hasNull: q.hasNull };
    }
    let values = tile as Int16Array | Int32Array | Float32Array;
    if (tile instanceof Uint16Array) {
      // Stored value = pixel - 32768, i.e. the top bit flipped, read as int16.
      const dst = this.#shifted.subarray(0, tile.length);
      for (let i = 0; i < tile.length; i++) dst[i] = tile[i] ^ 0x8000;
      values = dst;
    }
    return { data: this.#pack(values), zscale: 0, zzero: 0, hasNull: false };
  }

  #pack(values: Int16Array | Int32Array | Float32Array): Uint8Array {
    if (this.#plan.compression === "RICE_1") {
      return this.#rice.encode(values as Int16Array | Int32Array, values instanceof Int16Array ? 2 : 4)
        .slice();
    }
    return gzipTile(bigEndianBytes(values, this.#bigEndian), this.#plan.gzipLevel);
  }
}

/** The table columns: descriptor (8 bytes), ZSCALE/ZZERO doubles, then the fallback descriptor. */
interface Layout {
  withFallback: boolean;
  withZblank: boolean;
  maxData: number;
  maxFallback: number;
  heapSize: number;
}

function rowLength(plan: Plan, layout: Layout): number {
  return 8 + (plan.quantized ? 16 : 0) + (layout.withFallback ? 8 : 0);
}

function imageCardsFor(cards: string[], unsigned: boolean): string[] {
  let imageCards = cards.flatMap(splitCardText).filter((c) => !isRebuilt(cardKeyword(c)));
  if (unsigned) {
    imageCards = setCard(imageCards, formatCard("BSCALE", 1));
    imageCards = setCard(imageCards, formatCard("BZERO", 32768));
  }
  return imageCards;
}

function splitCardText(text: string): string[] {
  const out = [];
  for (let i = 0; i < text.length; i += 80) out.push(text.slice(i, i + 80).padEnd(80));
  return out;
}

/** The empty primary HDU's header block. */
function primaryHeader(checksum: boolean): Uint8Array {
  const cards = [
    formatCard("SIMPLE", true, "conforms to FITS standard"),
    formatCard("BITPIX", 8, "array data type"),
    formatCard("NAXIS", 0, "number of array dimensions"),
    formatCard("EXTEND", true),
  ];
  if (checksum) cards.push(checksumPlaceholderCard(), datasumCard(0));
  const block = headerBytes(headerText(cards));
  if (checksum) sealHeader(block, 0);
  return block;
}

/** The compressed-image table header block, in fpack's card order. */
function tableHeader(plan: Plan, layout: Layout, imageCards: string[]): Uint8Array {
  const columns: [string, string][] = [["COMPRESSED_DATA", `1PB(${layout.maxData})`]];
  if (plan.quantized) columns.push(["ZSCALE", "1D"], ["ZZERO", "1D"]);
  if (layout.withFallback) columns.push(["GZIP_COMPRESSED_DATA", `1PB(${layout.maxFallback})`]);
  const cards: string[] = [
    formatCard("XTENSION", "BINTABLE", "binary table extension"),
    formatCard("BITPIX", 8, "8-bit bytes"),
    formatCard("NAXIS", 2, "2-dimensional binary table"),
    formatCard("NAXIS1", rowLength(plan, layout), "width of table in bytes"),
    formatCard("NAXIS2", plan.nTiles, "number of rows in table"),
    formatCard("PCOUNT", layout.heapSize, "size of special data area"),
    formatCard("GCOUNT", 1, "one data group (required keyword)"),
    formatCard("TFIELDS", columns.length, "number of fields in each row"),
  ];
  columns.forEach(([name, form], i) => {
    const n = i + 1;
    cards.push(formatCard(`TTYPE${n}`, name, `label for field ${String(n).padStart(3)}`));
    const what = form.startsWith("1P") ? "variable length array" : "8-byte DOUBLE";
    cards.push(formatCard(`TFORM${n}`, form, `data format of field: ${what}`));
  });
  cards.push(
    formatCard("ZIMAGE", true, "extension contains compressed image"),
    formatCard("ZTILE1", plan.width, "size of tiles to be compressed"),
    formatCard("ZTILE2", Math.min(plan.tileRows, plan.height), "size of tiles to be compressed"),
    formatCard("ZCMPTYPE", plan.compression, "compression algorithm"),
  );
  if (layout.withZblank) {
    cards.push(formatCard("ZBLANK", NULL_VALUE, "null value in the compressed integer array"));
  }
  if (plan.compression === "RICE_1") {
    cards.push(
      formatCard("ZNAME1", "BLOCKSIZE", "compression block size"),
      formatCard("ZVAL1", RICE_BLOCKSIZE, "pixels per block"),
      formatCard("ZNAME2", "BYTEPIX", "bytes per pixel (1, 2, 4, or 8)"),
      formatCard("ZVAL2", plan.bitpix === 16 ? 2 : 4, "bytes per pixel (1, 2, 4, or 8)"),
    );
  }
  if (!imageCards.some((c) => cardKeyword(c) === "EXTNAME")) {
    cards.push(formatCard("EXTNAME", "COMPRESSED_IMAGE"));
  }
  cards.push(
    formatCard("ZTENSION", "IMAGE", "Image extension"),
    formatCard("ZBITPIX", plan.bitpix, "array data type"),
    formatCard("ZNAXIS", 2, "number of array dimensions"),
    formatCard("ZNAXIS1", plan.width),
    formatCard("ZNAXIS2", plan.height),
    formatCard("ZPCOUNT", 0, "number of parameters"),
    formatCard("ZGCOUNT", 1, "number of groups"),
  );
  if (plan.bitpix === -32) {
    if (plan.quantized) {
      cards.push(formatCard("ZQUANTIZ", plan.method, "Pixel Quantization Algorithm"));
      if (plan.method !== "NO_DITHER") {
        cards.push(formatCard("ZDITHER0", plan.ditherSeed, "dithering offset when quantizing floats"));
      }
    } else {
      cards.push(formatCard("ZQUANTIZ", "NONE", "Lossless compression without quantization"));
    }
  }
  cards.push(...imageCards);
  if (plan.checksum) cards.push(checksumPlaceholderCard(), datasumCard(0));
  return headerBytes(headerText(cards));
}

/** Writes table row `index` (descriptors relative to the heap start, and the tile's scaling) into `table`. */
function putRow(
  table: DataView,
  plan: Plan,
  layout: Layout,
  index: number,
  tile: EncodedTile,
  heapOffset: number,
): void {
  let at = index * rowLength(plan, layout);
  table.setInt32(at, tile.data.length);
  table.setInt32(at + 4, tile.data.length ? heapOffset : 0);
  at += 8;
  if (plan.quantized) {
    table.setFloat64(at, tile.zscale);
    table.setFloat64(at + 8, tile.zzero);
    at += 16;
  }
  if (layout.withFallback) {
    const len = tile.fallback?.length ?? 0;
    table.setInt32(at, len);
    table.setInt32(at + 4, len ? heapOffset + tile.data.length : 0);
  }
}

/**
 * Compresses an image into a complete FITS file in memory (empty primary HDU + compressed image
 * extension). `cards` are the image header cards (80 characters each, no `END`); structural keywords among
 * them are ignored and rebuilt. `data` holds `width * height` values row-major: integers as stored in the
 * file (Int16Array, Int32Array), or unsigned 16-bit values (Uint16Array, stored as value - 32768 with
 * `BZERO = 32768`, `BSCALE = 1` set in the header), or float32. The `GZIP_COMPRESSED_DATA` column and
 * `ZBLANK` appear only when some tile needs them, as with fpack.
 */
export function compressImage(
  cards: string[],
  width: number,
  height: number,
  data: TileData,
  opts: CompressOptions,
): Uint8Array {
  const plan = makePlan(width, height, opts);
  checkDataType(data, plan.bitpix);
  if (data.length !== width * height) {
    throw new CompressError(`data hold ${data.length} values, expected ${width} x ${height}`);
  }
  const compressor = new TileCompressor(plan);
  const tiles: EncodedTile[] = [];
  const layout: Layout = { withFallback: false, withZblank: false, maxData: 0, maxFallback: 0, heapSize: 0 };
  for (let t = 0; t < plan.nTiles; t++) {
    const y = t * plan.tileRows;
    const rows = Math.min(plan.tileRows, height - y);
    const tile = compressor.compress(data.subarray(y * width, (y + rows) * width), rows, t);
    tiles.push(tile);
    layout.maxData = Math.max(layout.maxData, tile.data.length);
    layout.maxFallback = Math.max(layout.maxFallback, tile.fallback?.length ?? 0);
    layout.withFallback ||= tile.fallback !== undefined;
    layout.withZblank ||= tile.hasNull;
    layout.heapSize += tile.data.length + (tile.fallback?.length ?? 0);
  }
  if (layout.heapSize > 0x7fffffff) {
    throw new CompressError(`heap of ${layout.heapSize} bytes too large for 1PB descriptors`);
  }
  const primary = primaryHeader(plan.checksum);
  const header = tableHeader(plan, layout, imageCardsFor(cards, data instanceof Uint16Array));
  const tableSize = rowLength(plan, layout) * plan.nTiles;
  const dataSize = tableSize + layout.heapSize;
  const out = new Uint8Array(primary.length + header.length + dataSize + dataPadding(dataSize));
  out.set(primary, 0);
  out.set(header, primary.length);
  const dataStart = primary.length + header.length;
  const table = new DataView(out.buffer, dataStart, tableSize);
  let heapOffset = 0;
  tiles.forEach((tile, t) => {
    putRow(table, plan, layout, t, tile, heapOffset);
    out.set(tile.data, dataStart + tableSize + heapOffset);
    heapOffset += tile.data.length;
    if (tile.fallback) {
      out.set(tile.fallback, dataStart + tableSize + heapOffset);
      heapOffset += tile.fallback.length;
    }
  });
  if (plan.checksum) {
    const acc = new ChecksumAccumulator();
    acc.add(out.subarray(dataStart, dataStart + dataSize));
    sealHeader(out.subarray(primary.length, dataStart), acc.value);
  }
  return out;
}

/**
 * Writes a tile-compressed FITS file band by band, so memory holds one band and one tile's output at a
 * time. The header and table are written last (their size is fixed in advance: the table always has the
 * `GZIP_COMPRESSED_DATA` column and `ZBLANK` for quantized floats, unlike {@link compressImage} which adds
 * them only when needed).
 *
 * @example
 * ```ts ignore
 * const w = await CompressedFitsWriter.create("out.fits.fz", cards, 6300, 6300, { compression: "RICE_1", bitpix: -32 });
 * for (let y = 0; y < 6300; y += 1024) await w.writeRows(band(y, Math.min(6300, y + 1024)));
 * await w.close();
 * ```
 */
export class CompressedFitsWriter {
  #file: Deno.FsFile;
  #path: string;
  #plan: Plan;
  #layout: Layout;
  #imageCards: string[];
  #compressor: TileCompressor;
  #table: Uint8Array;
  #dataStart: number;
  #heapSum = new ChecksumAccumulator();
  // Compressed tiles are small (one image row each by default): gather them into larger writes.
  #heapBuffer = new Uint8Array(HEAP_WRITE_SIZE);
  #heapFill = 0;
  #pending: TileData | null = null;
  #pendingRows = 0;
  #nextTile = 0;
  #closed = false;

  private constructor(file: Deno.FsFile, path: string, plan: Plan, layout: Layout, imageCards: string[]) {
    this.#file = file;
    this.#path = path;
    this.#plan = plan;
    this.#layout = layout;
    this.#imageCards = imageCards;
    this.#compressor = new TileCompressor(plan);
    this.#table = new Uint8Array(rowLength(plan, layout) * plan.nTiles);
    this.#dataStart = primaryHeader(false).length + tableHeader(plan, layout, imageCards).length;
  }

  /**
   * Creates (or truncates) `path`. `unsigned` says uint16 rows will be given (stored with BZERO 32768);
   * the pixel arrays passed to {@link writeRows} must then be Uint16Array.
   */
  static async create(
    path: string,
    cards: string[],
    width: number,
    height: number,
    opts: CompressOptions & { unsigned?: boolean },
  ): Promise<CompressedFitsWriter> {
    const plan = makePlan(width, height, opts);
    if (opts.unsigned && plan.bitpix !== 16) throw new CompressError("unsigned rows need bitpix 16");
    // Fixed header size: the largest descriptor counts and heap fit in the 20-column value fields.
    const layout: Layout = {
      withFallback: plan.quantized,
      withZblank: plan.quantized,
      maxData: 0,
      maxFallback: 0,
      heapSize: 0,
    };
    const imageCards = imageCardsFor(cards, opts.unsigned ?? false);
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    const writer = new CompressedFitsWriter(file, path, plan, layout, imageCards);
    try {
      // Reserve the headers and the table; they are rewritten at close.
      await writeAll(file, new Uint8Array(writer.#dataStart + writer.#table.length));
    } catch (err) {
      file.close();
      throw err;
    }
    return writer;
  }

  /** Writes the next whole image rows (`pixels.length` a multiple of the width), in order. */
  async writeRows(pixels: TileData): Promise<void> {
    const plan = this.#plan;
    if (this.#closed) throw new CompressError(`${this.#path}: write after close`);
    checkDataType(pixels, plan.bitpix);
    if (pixels.length % plan.width !== 0) {
      throw new CompressError(
        `${this.#path}: band of ${pixels.length} values is not whole rows of ${plan.width}`,
      );
    }
    let rowsIn = pixels.length / plan.width;
    if (this.#nextTile * plan.tileRows + this.#pendingRows + rowsIn > plan.height) {
      throw new CompressError(`${this.#path}: more rows than the image height`);
    }
    let at = 0;
    while (rowsIn > 0) {
      const tileRowsNow = Math.min(plan.tileRows, plan.height - this.#nextTile * plan.tileRows);
      if (this.#pendingRows === 0 && rowsIn >= tileRowsNow) {
        // A whole tile straight from the band.
        await this.#emit(pixels.subarray(at, at + tileRowsNow * plan.width), tileRowsNow);
        at += tileRowsNow * plan.width;
        rowsIn -= tileRowsNow;
        continue;
      }
      // Tiles that span bands are gathered in a buffer.
      if (!this.#pending || this.#pending.constructor !== pixels.constructor) {
        this.#pending = new (pixels.constructor as new (n: number) => TileData)(plan.width * plan.tileRows);
      }
      const take = Math.min(rowsIn, tileRowsNow - this.#pendingRows);
      this.#pending.set(pixels.subarray(at, at + take * plan.width) as never, this.#pendingRows * plan.width);
      this.#pendingRows += take;
      at += take * plan.width;
      rowsIn -= take;
      if (this.#pendingRows === tileRowsNow) {
        await this.#emit(this.#pending.subarray(0, tileRowsNow * plan.width), tileRowsNow);
        this.#pendingRows = 0;
      }
    }
  }

  async #emit(tile: TileData, rows: number): Promise<void> {
    const encoded = this.#compressor.compress(tile, rows, this.#nextTile);
    const layout = this.#layout;
    putRow(new DataView(this.#table.buffer), this.#plan, layout, this.#nextTile, encoded, layout.heapSize);
    for (const part of [encoded.data, encoded.fallback]) {
      if (!part || part.length === 0) continue;
      await this.#writeHeap(part);
      this.#heapSum.add(part);
      layout.heapSize += part.length;
    }
    layout.maxData = Math.max(layout.maxData, encoded.data.length);
    layout.maxFallback = Math.max(layout.maxFallback, encoded.fallback?.length ?? 0);
    if (layout.heapSize > 0x7fffffff) {
      throw new CompressError(`${this.#path}: heap too large for 1PB descriptors`);
    }
    this.#nextTile++;
  }

  async #writeHeap(part: Uint8Array): Promise<void> {
    if (this.#heapFill + part.length > this.#heapBuffer.length) await this.#flushHeap();
    if (part.length > this.#heapBuffer.length) {
      await writeAll(this.#file, part);
      return;
    }
    this.#heapBuffer.set(part, this.#heapFill);
    this.#heapFill += part.length;
  }

  async #flushHeap(): Promise<void> {
    await writeAll(this.#file, this.#heapBuffer.subarray(0, this.#heapFill));
    this.#heapFill = 0;
  }

  /** Pads the file, writes the final headers and table, and closes it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#nextTile !== this.#plan.nTiles) {
        throw new CompressError(
          `${this.#path}: closed with ${this.#plan.nTiles - this.#nextTile} tiles unwritten`,
        );
      }
      const dataSize = this.#table.length + this.#layout.heapSize;
      await this.#flushHeap();
      await writeAll(this.#file, new Uint8Array(dataPadding(dataSize)));
      const primary = primaryHeader(this.#plan.checksum);
      const header = tableHeader(this.#plan, this.#layout, this.#imageCards);
      if (primary.length + header.length !== this.#dataStart) {
        throw new CompressError(`${this.#path}: header size changed while writing`);
      }
      if (this.#plan.checksum) {
        const acc = new ChecksumAccumulator();
        acc.add(this.#table);
        sealHeader(header, onesComplementAdd(acc.value, this.#heapSum.value));
      }
      await this.#file.seek(0, Deno.SeekMode.Start);
      await writeAll(this.#file, primary);
      await writeAll(this.#file, header);
      await writeAll(this.#file, this.#table);
    } finally {
      this.#file.close();
    }
  }

  /** Closes the file without finishing it (the partial file is left for the caller to remove). */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}
