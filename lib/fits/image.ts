/**
 * Reading images from FITS files in row bands: plain images (primary HDU or IMAGE extension) and
 * tile-compressed images (BINTABLE with `ZIMAGE = T`), with `BSCALE`/`BZERO` applied and `BLANK`/`ZBLANK`
 * pixels as NaN, the way astropy presents the data (float32 for 8/16-bit scaled integers, float64 rounded
 * to float32 for 32-bit ones, uint16 for `BITPIX 16` with `BZERO 32768`).
 *
 * Only the tiles that cover the requested rows are decoded, so a 6300 x 6300 image can be read in
 * 1024-row bands with bounded memory.
 *
 * @example
 * ```ts ignore
 * import { openImage } from "./image.ts";
 * const img = openImage(await Deno.readFile("stk.fits"), { source: "stk.fits" });
 * const band = img.readRows(0, 1024, "float32");
 * ```
 * @module
 */

import { astropyStoreHeader, buildImageHeader } from "./astropy_header.ts";
import { FitsError, fitsMessage } from "./errors.ts";
import { imageGeometry } from "./geometry.ts";
import { type Hdu, scanHdus } from "./hdu.ts";
import type { FitsHeader } from "./header.ts";
import { type DitherMethod, ditherRow, parseDitherMethod, unquantizeTile } from "./quantize.ts";
import { inflateTile } from "./tiles/gzip.ts";
import { type IntTile, type TileDecoder, tileDecoder, type TileInfo } from "./tiles/mod.ts";

/** Output pixel types the store uses. */
export type PixelType = "float32" | "uint16";

/** A FITS image opened for reading in row bands. */
export interface ImageReader {
  /** File name used in error messages. */
  readonly source: string;
  /** Image width (NAXIS1). */
  readonly width: number;
  /** Image height (NAXIS2). */
  readonly height: number;
  /** `ZCMPTYPE` of a tile-compressed image, or null for a plain image. */
  readonly compression: string | null;
  /** The image header (rebuilt from the table header for compressed HDUs). */
  readonly imageHeader: FitsHeader;
  /** Reads rows [y0, y1) as float32 (row-major); `out` is reused when given (length >= rows * width). */
  readRows(y0: number, y1: number, type: "float32", out?: Float32Array): Float32Array;
  /** Reads rows [y0, y1) as uint16 (row-major); `out` is reused when given (length >= rows * width). */
  readRows(y0: number, y1: number, type: "uint16", out?: Uint16Array): Uint16Array;
  /** Reads rows [y0, y1) in either type. */
  readRows(
    y0: number,
    y1: number,
    type: PixelType,
    out?: Float32Array | Uint16Array,
  ): Float32Array | Uint16Array;
  /**
   * The header string astropy's `hdu.header.tostring()` gives after `hdu.data` was read (see
   * astropy_header.ts). The later `astype` to the store's type does not touch the header, so `type` only
   * documents the caller's intent.
   */
  storeHeader(type: PixelType): string;
}

/** How stored integers become physical values, following astropy's rules. */
interface IntScaling {
  bitpix: number;
  bscale: number;
  bzero: number;
  /** BLANK value (astropy ignores BLANK = 0), or undefined. */
  blank: number | undefined;
}

/** astropy's data kind for an integer image: raw integers, unsigned 16-bit, or float32/float64 scaled. */
type IntMode = "raw" | "uint" | "float32" | "float64";

function intMode(s: IntScaling): IntMode {
  if (s.bscale === 1 && s.bzero === 0 && s.blank === undefined) return "raw";
  if (s.bscale === 1 && s.bitpix === 16 && s.bzero === 32768) return "uint";
  if (s.bscale === 1 && s.bitpix === 32 && s.bzero === 2147483648) return "uint";
  return s.bitpix > 16 ? "float64" : "float32";
}

/** One stored integer to its float value, as astropy computes it (see {@link intsToFloat32}). */
function physical(v: number, s: IntScaling, mode: IntMode): number {
  if (mode === "raw") return v;
  if (mode === "uint") return v + s.bzero;
  if (s.blank !== undefined && s.blank !== 0 && v === s.blank) return NaN;
  if (mode === "float64") return v * s.bscale + s.bzero;
  let x = v;
  if (s.bscale !== 1) x = Math.fround(x * Math.fround(s.bscale));
  if (s.bzero !== 0) x = Math.fround(x + Math.fround(s.bzero));
  return x;
}

/**
 * float32 values of every 16-bit integer (index v + 32768) for 8- and 16-bit images: one table lookup
 * per pixel instead of the blank test and two float32 roundings.
 */
function scalingTable(s: IntScaling, mode: IntMode): Float32Array {
  const lut = new Float32Array(65536);
  for (let v = -32768; v < 32768; v++) lut[v + 32768] = physical(v, s, mode);
  return lut;
}

/**
 * Writes `n` stored integers from `src[si..]` to `out[oi..]` as float32 the way astropy computes them.
 * float32 mode multiplies and adds in float32 (numpy with a float32 array); float64 mode in double.
 * With `lut` (8/16-bit images) each value is looked up.
 */
function intsToFloat32(
  src: IntTile,
  si: number,
  n: number,
  out: Float32Array,
  oi: number,
  s: IntScaling,
  mode: IntMode,
  lut?: Float32Array,
): void {
  if (lut && !(src instanceof Int32Array)) {
    for (let i = 0; i < n; i++) out[oi + i] = lut[src[si + i] + 32768];
    return;
  }
  const blank = s.blank === undefined || s.blank === 0 ? NaN : s.blank;
  if (mode === "raw") {
    for (let i = 0; i < n; i++) out[oi + i] = src[si + i];
  } else if (mode === "uint") {
    const off = s.bzero;
    for (let i = 0; i < n; i++) out[oi + i] = src[si + i] + off;
  } else if (mode === "float32") {
    const fs = Math.fround(s.bscale);
    const fz = Math.fround(s.bzero);
    const mul = s.bscale !== 1;
    const add = s.bzero !== 0;
    for (let i = 0; i < n; i++) {
      const v = src[si + i];
      if (v === blank) out[oi + i] = NaN;
      else {
        // Each step rounds to float32, as numpy does on a float32 array.
        let x = v;
        if (mul) x = Math.fround(x * fs);
        if (add) x = x + fz;
        out[oi + i] = x;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = src[si + i];
      out[oi + i] = v === blank ? NaN : v * s.bscale + s.bzero;
    }
  }
}

/** Stored integers to uint16: astropy's data cast with `astype(uint16)` (integer wrap-around). */
function intsToUint16(
  src: IntTile,
  si: number,
  n: number,
  out: Uint16Array,
  oi: number,
  s: IntScaling,
  mode: IntMode,
): void {
  if (mode === "raw" || mode === "uint") {
    const off = mode === "uint" ? s.bzero : 0;
    for (let i = 0; i < n; i++) out[oi + i] = src[si + i] + off;
    return;
  }
  const tmp = new Float32Array(n);
  intsToFloat32(src, si, n, tmp, 0, s, mode);
  floatsToUint16(tmp, 0, n, out, oi);
}

/** Floats to uint16 as a C cast: truncation toward zero, wrap-around; NaN and infinities become 0. */
function floatsToUint16(
  src: Float32Array | Float64Array,
  si: number,
  n: number,
  out: Uint16Array,
  oi: number,
): void {
  for (let i = 0; i < n; i++) {
    const v = src[si + i];
    out[oi + i] = Number.isFinite(v) ? Math.trunc(v) : 0;
  }
}

function checkRows(reader: { source: string; height: number }, y0: number, y1: number): void {
  if (!Number.isInteger(y0) || !Number.isInteger(y1) || y0 < 0 || y1 > reader.height || y0 > y1) {
    throw new RangeError(`${reader.source}: rows [${y0}, ${y1}) outside the image (height ${reader.height})`);
  }
}

function outputBuffer(
  type: PixelType,
  n: number,
  out: Float32Array | Uint16Array | undefined,
): Float32Array | Uint16Array {
  if (out) {
    if (type === "float32" && !(out instanceof Float32Array)) {
      throw new TypeError("out must be a Float32Array");
    }
    if (type === "uint16" && !(out instanceof Uint16Array)) throw new TypeError("out must be a Uint16Array");
    if (out.length < n) throw new RangeError(`out holds ${out.length} pixels, the rows need ${n}`);
    return out;
  }
  return type === "float32" ? new Float32Array(n) : new Uint16Array(n);
}

/** A plain (uncompressed) image HDU. */
class PlainImage implements ImageReader {
  readonly compression = null;
  readonly width: number;
  readonly height: number;
  readonly imageHeader: FitsHeader;
  #bytes: Uint8Array;
  #view: DataView;
  #hdu: Hdu;
  #bitpix: number;
  #scaling: IntScaling;
  #mode: IntMode;
  #row = new Int32Array(0);
  #floatRow = new Float64Array(0);

  constructor(readonly source: string, bytes: Uint8Array, hdu: Hdu) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#hdu = hdu;
    this.imageHeader = hdu.header;
    const h = hdu.header;
    this.#bitpix = h.getNumber("BITPIX")!;
    ({ width: this.width, height: this.height } = imageGeometry(h, source));
    const blank = this.#bitpix > 0 ? h.getNumber("BLANK") : undefined;
    this.#scaling = {
      bitpix: this.#bitpix,
      bscale: h.getNumber("BSCALE", 1)!,
      bzero: h.getNumber("BZERO", 0)!,
      blank,
    };
    this.#mode = intMode(this.#scaling);
    if (this.#bitpix === 64) throw new FitsError(fitsMessage(source, "unsupported BITPIX 64 image"));
  }

  readRows(y0: number, y1: number, type: "float32", out?: Float32Array): Float32Array;
  readRows(y0: number, y1: number, type: "uint16", out?: Uint16Array): Uint16Array;
  readRows(
    y0: number,
    y1: number,
    type: PixelType,
    out?: Float32Array | Uint16Array,
  ): Float32Array | Uint16Array;
  readRows(
    y0: number,
    y1: number,
    type: PixelType,
    out?: Float32Array | Uint16Array,
  ): Float32Array | Uint16Array {
    checkRows(this, y0, y1);
    const w = this.width;
    const result = outputBuffer(type, (y1 - y0) * w, out);
    const bp = Math.abs(this.#bitpix) / 8;
    const v = this.#view;
    const s = this.#scaling;
    for (let y = y0; y < y1; y++) {
      const base = this.#hdu.dataStart + y * w * bp;
      const oi = (y - y0) * w;
      if (this.#bitpix < 0) {
        if (this.#floatRow.length < w) this.#floatRow = new Float64Array(w);
        const row = this.#floatRow;
        const scaled = s.bscale !== 1 || s.bzero !== 0;
        for (let x = 0; x < w; x++) {
          const f = this.#bitpix === -32 ? v.getFloat32(base + 4 * x) : v.getFloat64(base + 8 * x);
          row[x] = scaled ? f * s.bscale + s.bzero : f;
        }
        if (result instanceof Float32Array) { for (let x = 0; x < w; x++) result[oi + x] = row[x]; }
        else floatsToUint16(row, 0, w, result, oi);
        continue;
      }
      if (this.#row.length < w) this.#row = new Int32Array(w);
      const ints = this.#row;
      if (this.#bitpix === 16) { for (let x = 0; x < w; x++) ints[x] = v.getInt16(base + 2 * x); }
      else if (this.#bitpix === 32) { for (let x = 0; x < w; x++) ints[x] = v.getInt32(base + 4 * x); }
      else for (let x = 0; x < w; x++) ints[x] = this.#bytes[base + x];
      if (result instanceof Float32Array) intsToFloat32(ints, 0, w, result, oi, s, this.#mode);
      else intsToUint16(ints, 0, w, result, oi, s, this.#mode);
    }
    return result;
  }

  storeHeader(_type: PixelType): string {
    return astropyStoreHeader(this.imageHeader, this.#scaling);
  }
}

/** Where a binary table column sits in a row and how its values are stored. */
interface Column {
  offset: number;
  /** TFORM type letter (for P/Q descriptors: the element type). */
  type: string;
  /** P or Q for variable-length arrays, else "". */
  descriptor: "" | "P" | "Q";
}

const TFORM_SIZES: Record<string, number> = {
  L: 1,
  X: 1,
  B: 1,
  I: 2,
  J: 4,
  K: 8,
  A: 1,
  E: 4,
  D: 8,
  C: 8,
  M: 16,
};

function parseColumns(h: FitsHeader, source: string): Map<string, Column> {
  const cols = new Map<string, Column>();
  const tfields = h.getNumber("TFIELDS", 0)!;
  let offset = 0;
  for (let i = 1; i <= tfields; i++) {
    const tform = (h.getString(`TFORM${i}`) ?? "").trim().toUpperCase();
    const m = /^(\d*)([LXBIJKAEDCMPQ])([A-Z]?)/.exec(tform);
    if (!m) throw new FitsError(fitsMessage(source, `invalid TFORM${i} '${tform}'`));
    const repeat = m[1] === "" ? 1 : Number(m[1]);
    const name = (h.getString(`TTYPE${i}`) ?? "").trim().toUpperCase();
    let size: number;
    if (m[2] === "P" || m[2] === "Q") {
      size = m[2] === "P" ? 8 : 16;
      cols.set(name, { offset, type: m[3] || "B", descriptor: m[2] });
      offset += repeat === 0 ? 0 : size;
      continue;
    }
    size = m[2] === "X" ? Math.ceil(repeat / 8) : repeat * TFORM_SIZES[m[2]];
    cols.set(name, { offset, type: m[2], descriptor: "" });
    offset += size;
  }
  return cols;
}

/** A tile-compressed image in a BINTABLE extension. */
class CompressedImage implements ImageReader {
  readonly compression: string;
  readonly width: number;
  readonly height: number;
  readonly imageHeader: FitsHeader;
  #table: FitsHeader;
  #bytes: Uint8Array;
  #view: DataView;
  #hdu: Hdu;
  #rowBytes: number;
  #nrows: number;
  #heapStart: number;
  #heapLength: number;
  #cols: Map<string, Column>;
  #decoder: TileDecoder;
  #zbitpix: number;
  #tileW: number;
  #tileH: number;
  #tilesX: number;
  #params = new Map<string, number | string>();
  #quantized: boolean;
  #dither: DitherMethod;
  #zdither0: number;
  #scaling: IntScaling;
  #mode: IntMode;
  #ints: IntTile = new Int32Array(0);
  #floats = new Float32Array(0);
  #lut: Float32Array | undefined;
  #cachedTile = -1;
  #cachedKind: TileKind = "int";
  #raw: Uint8Array = new Uint8Array(0);

  constructor(readonly source: string, bytes: Uint8Array, hdu: Hdu) {
    const h = hdu.header;
    this.#table = h;
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#hdu = hdu;
    this.compression = (h.getString("ZCMPTYPE") ?? "").trim();
    this.#zbitpix = h.getNumber("ZBITPIX", 0)!;
    if (![8, 16, 32, -32, -64].includes(this.#zbitpix)) {
      throw new FitsError(fitsMessage(source, `unsupported ZBITPIX ${h.get("ZBITPIX")}`));
    }
    ({ width: this.width, height: this.height } = imageGeometry(h, source));
    this.#decoder = tileDecoder(this.compression || "(missing ZCMPTYPE)", source);
    this.#tileW = h.getNumber("ZTILE1", this.width)!;
    this.#tileH = h.getNumber("ZNAXIS", 1)! >= 2 ? h.getNumber("ZTILE2", 1)! : 1;
    if (this.#tileW < 1 || this.#tileH < 1) throw new FitsError(fitsMessage(source, "invalid ZTILE1/ZTILE2"));
    this.#tilesX = Math.ceil(this.width / this.#tileW);
    for (let i = 1; h.has(`ZNAME${i}`); i++) {
      const v = h.get(`ZVAL${i}`);
      this.#params.set(
        (h.getString(`ZNAME${i}`) ?? "").trim().toUpperCase(),
        typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : String(v),
      );
    }
    this.#rowBytes = h.getNumber("NAXIS1", 0)!;
    this.#nrows = h.getNumber("NAXIS2", 0)!;
    const tiles = this.#tilesX * Math.ceil(this.height / this.#tileH);
    if (this.#nrows < tiles) {
      throw new FitsError(
        fitsMessage(source, `compressed table has ${this.#nrows} rows, the tiling needs ${tiles}`),
      );
    }
    const theap = h.getNumber("THEAP", this.#rowBytes * this.#nrows)!;
    this.#heapStart = hdu.dataStart + theap;
    this.#heapLength = hdu.dataStart + hdu.dataLength - this.#heapStart;
    this.#cols = parseColumns(h, source);
    if (!this.#cols.has("COMPRESSED_DATA")) {
      throw new FitsError(fitsMessage(source, "compressed image without a COMPRESSED_DATA column"));
    }
    const zq = h.getString("ZQUANTIZ");
    this.#quantized = this.#zbitpix < 0 && zq?.trim().toUpperCase() !== "NONE" &&
      (zq !== undefined || this.#cols.has("ZSCALE") || h.has("ZSCALE"));
    const dm = parseDitherMethod(zq);
    this.#dither = dm === "NONE" ? "NO_DITHER" : dm;
    this.#zdither0 = h.getNumber("ZDITHER0", 1)!;
    const blank = this.#zbitpix > 0 ? (h.getNumber("ZBLANK") ?? h.getNumber("BLANK")) : undefined;
    this.#scaling = {
      bitpix: this.#zbitpix,
      bscale: h.getNumber("BSCALE", 1)!,
      bzero: h.getNumber("BZERO", 0)!,
      blank,
    };
    this.#mode = intMode(this.#scaling);
    if ((this.#zbitpix === 16 || this.#zbitpix === 8) && this.#mode !== "raw") {
      this.#lut = scalingTable(this.#scaling, this.#mode);
    }
    this.imageHeader = buildImageHeader(h);
  }

  /** The integer tile buffer for `n` pixels, typed by the stored integer size. */
  #intTile(n: number): IntTile {
    const size = this.#quantized ? 4 : Math.abs(this.#zbitpix) / 8;
    const ok = this.#ints.length >= n &&
      (size === 1
        ? this.#ints instanceof Uint8Array
        : size === 2
        ? this.#ints instanceof Int16Array
        : this.#ints instanceof Int32Array);
    if (!ok) this.#ints = size === 1 ? new Uint8Array(n) : size === 2 ? new Int16Array(n) : new Int32Array(n);
    return this.#ints;
  }

  /** Reads a heap descriptor of `column` in table row `row`; checks it lies inside the heap. */
  #descriptor(column: Column, row: number, tile: number, name: string): Uint8Array {
    const at = this.#hdu.dataStart + row * this.#rowBytes + column.offset;
    let count: number, offset: number;
    if (column.descriptor === "P") {
      count = this.#view.getInt32(at);
      offset = this.#view.getInt32(at + 4);
    } else {
      count = Number(this.#view.getBigInt64(at));
      offset = Number(this.#view.getBigInt64(at + 8));
    }
    const len = count * (TFORM_SIZES[column.type] ?? 1);
    if (count < 0 || offset < 0 || offset + len > this.#heapLength) {
      throw new FitsError(
        fitsMessage(
          this.source,
          `tile ${
            tile + 1
          }: ${name} descriptor (${count} elements at heap offset ${offset}) points outside the heap (${this.#heapLength} bytes)`,
        ),
      );
    }
    const start = this.#heapStart + offset;
    return this.#bytes.subarray(start, start + len);
  }

  #scalar(name: string, row: number, fallback: number | undefined): number | undefined {
    const c = this.#cols.get(name);
    if (!c) return this.#table.getNumber(name, fallback);
    const at = this.#hdu.dataStart + row * this.#rowBytes + c.offset;
    switch (c.type) {
      case "D":
        return this.#view.getFloat64(at);
      case "E":
        return this.#view.getFloat32(at);
      case "J":
        return this.#view.getInt32(at);
      case "I":
        return this.#view.getInt16(at);
      case "K":
        return Number(this.#view.getBigInt64(at));
      default:
        return fallback;
    }
  }

  /**
   * Decodes tile `t` (nx * ny pixels). Returns integers in `this.#ints` ("int") or float32 values in
   * `this.#floats` ("float").
   */
  #decodeTile(t: number, nx: number, ny: number): TileKind {
    const n = nx * ny;
    this.#intTile(n);
    if (this.#floats.length < n) this.#floats = new Float32Array(n);
    const data = this.#descriptor(this.#cols.get("COMPRESSED_DATA")!, t, t, "COMPRESSED_DATA");
    if (data.length === 0) return this.#decodeFallback(t, n);
    const info: TileInfo = {
      source: this.source,
      tile: t,
      pixels: n,
      nx,
      ny,
      bytepix: this.#quantized ? 4 : Math.abs(this.#zbitpix) / 8,
      params: this.#params,
    };
    const ints = this.#ints;
    if (this.#decoder.kind === "int") {
      if (this.#zbitpix < 0 && !this.#quantized) {
        throw new FitsError(
          fitsMessage(this.source, `${this.compression} floating-point tile without ZQUANTIZ/ZSCALE`),
        );
      }
      this.#decoder.decode(data, info, ints);
    } else {
      const floatTile = this.#zbitpix < 0 && !this.#quantized;
      const size = floatTile ? Math.abs(this.#zbitpix) / 8 : info.bytepix;
      const raw = this.#decoder.decode(data, info, size);
      if (floatTile) {
        bigEndianFloats(raw, n, size, this.#floats);
        return "float";
      }
      if (size === 2) {
        // 16-bit GZIP/NOCOMPRESS tiles are converted straight from their bytes (one pass instead of two).
        this.#raw = raw;
        return "short";
      }
      bigEndianInts(raw, n, size, ints);
    }
    if (!this.#quantized) return "int";
    const zscale = this.#scalar("ZSCALE", t, 1)!;
    const zzero = this.#scalar("ZZERO", t, 0)!;
    const zblank = this.#scalar("ZBLANK", t, undefined);
    unquantizeTile(ints as Int32Array, n, this.#floats, this.#dither, ditherRow(t, this.#zdither0), {
      zscale,
      zzero,
      zblank,
    });
    return "float";
  }

  /** A tile stored losslessly in GZIP_COMPRESSED_DATA or UNCOMPRESSED_DATA (cfitsio's fallback). */
  #decodeFallback(t: number, n: number): "int" | "float" {
    const size = this.#zbitpix < 0 ? Math.abs(this.#zbitpix) / 8 : Math.abs(this.#zbitpix) / 8;
    const gz = this.#cols.get("GZIP_COMPRESSED_DATA");
    const unc = this.#cols.get("UNCOMPRESSED_DATA");
    let raw: Uint8Array | undefined;
    if (gz) {
      const d = this.#descriptor(gz, t, t, "GZIP_COMPRESSED_DATA");
      if (d.length > 0) {
        raw = inflateTile(d, fitsMessage(this.source, `GZIP_COMPRESSED_DATA tile ${t + 1}`), n * size);
      }
    }
    if (!raw && unc) {
      const d = this.#descriptor(unc, t, t, "UNCOMPRESSED_DATA");
      if (d.length > 0) raw = d;
    }
    if (!raw) throw new FitsError(fitsMessage(this.source, `tile ${t + 1} has no data in any column`));
    if (raw.length < n * size) {
      throw new FitsError(
        fitsMessage(this.source, `tile ${t + 1}: lossless data ${raw.length} bytes, needs ${n * size}`),
      );
    }
    if (this.#zbitpix < 0) {
      bigEndianFloats(raw, n, size, this.#floats);
      return "float";
    }
    bigEndianInts(raw, n, size, this.#ints);
    return "int";
  }

  readRows(y0: number, y1: number, type: "float32", out?: Float32Array): Float32Array;
  readRows(y0: number, y1: number, type: "uint16", out?: Uint16Array): Uint16Array;
  readRows(
    y0: number,
    y1: number,
    type: PixelType,
    out?: Float32Array | Uint16Array,
  ): Float32Array | Uint16Array;
  readRows(
    y0: number,
    y1: number,
    type: PixelType,
    out?: Float32Array | Uint16Array,
  ): Float32Array | Uint16Array {
    checkRows(this, y0, y1);
    const w = this.width;
    const result = outputBuffer(type, (y1 - y0) * w, out);
    if (y0 === y1) return result;
    const th = this.#tileH, tw = this.#tileW;
    const ty0 = Math.floor(y0 / th), ty1 = Math.floor((y1 - 1) / th);
    for (let ty = ty0; ty <= ty1; ty++) {
      const tileY = ty * th;
      const ny = Math.min(th, this.height - tileY);
      const r0 = Math.max(y0, tileY), r1 = Math.min(y1, tileY + ny);
      for (let tx = 0; tx < this.#tilesX; tx++) {
        const tileX = tx * tw;
        const nx = Math.min(tw, w - tileX);
        const t = ty * this.#tilesX + tx;
        // A tile taller than the band (or a whole-image tile) is decoded once for consecutive bands.
        if (this.#cachedTile !== t) {
          this.#cachedTile = -1;
          this.#cachedKind = this.#decodeTile(t, nx, ny);
          this.#cachedTile = t;
        }
        const kind = this.#cachedKind;
        for (let y = r0; y < r1; y++) {
          const si = (y - tileY) * nx;
          const oi = (y - y0) * w + tileX;
          if (kind === "short") {
            shortsToOutput(this.#raw, si, nx, result, oi, this.#scaling, this.#mode, this.#lut);
          } else if (kind === "float") {
            if (result instanceof Float32Array) result.set(this.#floats.subarray(si, si + nx), oi);
            else floatsToUint16(this.#floats, si, nx, result, oi);
          } else if (result instanceof Float32Array) {
            intsToFloat32(this.#ints, si, nx, result, oi, this.#scaling, this.#mode, this.#lut);
          } else intsToUint16(this.#ints, si, nx, result, oi, this.#scaling, this.#mode);
        }
      }
    }
    return result;
  }

  storeHeader(_type: PixelType): string {
    return astropyStoreHeader(this.imageHeader, this.#scaling);
  }
}

/** What a decoded tile holds: integers (`#ints`), float32 values (`#floats`) or big-endian 16-bit bytes (`#raw`). */
type TileKind = "int" | "float" | "short";

/**
 * Big-endian 16-bit integers (pixels `si..si+n` of `raw`) to the output type. The unsigned bits XOR 0x8000
 * are the signed value + 32768: the uint16 of `BZERO = 32768` data and the index into the scaling table.
 */
function shortsToOutput(
  raw: Uint8Array,
  si: number,
  n: number,
  out: Float32Array | Uint16Array,
  oi: number,
  s: IntScaling,
  mode: IntMode,
  lut: Float32Array | undefined,
): void {
  let j = 2 * si;
  if (out instanceof Uint16Array && (mode === "uint" || mode === "raw")) {
    const flip = mode === "uint" ? 0x8000 : 0;
    for (let i = 0; i < n; i++, j += 2) out[oi + i] = ((raw[j] << 8) | raw[j + 1]) ^ flip;
  } else if (out instanceof Float32Array && lut) {
    for (let i = 0; i < n; i++, j += 2) out[oi + i] = lut[((raw[j] << 8) | raw[j + 1]) ^ 0x8000];
  } else {
    const ints = new Int16Array(n);
    for (let i = 0; i < n; i++, j += 2) ints[i] = (raw[j] << 8) | raw[j + 1];
    if (out instanceof Float32Array) intsToFloat32(ints, 0, n, out, oi, s, mode);
    else intsToUint16(ints, 0, n, out, oi, s, mode);
  }
}

/** Big-endian integers of `size` bytes (1 unsigned; 2, 4 signed) into `out`. */
function bigEndianInts(raw: Uint8Array, n: number, size: number, out: IntTile): void {
  if (size === 1) { for (let i = 0; i < n; i++) out[i] = raw[i]; }
  else if (size === 2) {
    for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = ((raw[j] << 24) | (raw[j + 1] << 16)) >> 16;
  } else {
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      out[i] = (raw[j] << 24) | (raw[j + 1] << 16) | (raw[j + 2] << 8) | raw[j + 3];
    }
  }
}

/** Big-endian float32 or float64 values into float32 `out`. */
function bigEndianFloats(raw: Uint8Array, n: number, size: number, out: Float32Array): void {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (size === 4) { for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i); }
  else for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i);
}

/**
 * Opens the image of a FITS file: extension 1 when the file has extensions, else the primary HDU (as the
 * Python tools do). Tile-compressed extensions (`ZIMAGE = T`) are decoded tile by tile on demand.
 * Throws {@link FitsError} naming the file for anything that is not a readable image, including an image
 * that is not 2-D or larger than `MAX_IMAGE_AXIS` (geometry.ts) a side (checked from the header, before any
 * allocation).
 */
export function openImage(bytes: Uint8Array, opts: { source?: string } = {}): ImageReader {
  const source = opts.source ?? "FITS data";
  const hdus = scanHdus(bytes, source);
  const hdu = hdus.length > 1 ? hdus[1] : hdus[0];
  const h = hdu.header;
  const compressed = h.get("ZIMAGE") === true;
  const xt = h.getString("XTENSION")?.trim();
  if (!compressed && hdu.index > 0 && xt !== "IMAGE") {
    throw new FitsError(fitsMessage(source, `extension 1 is a ${xt ?? "?"} HDU, not an image`));
  }
  // The size is checked before any reader (or caller) allocates buffers sized by it.
  imageGeometry(h, source);
  if (compressed) return new CompressedImage(source, bytes, hdu);
  return new PlainImage(source, bytes, hdu);
}
