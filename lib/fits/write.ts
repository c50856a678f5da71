/**
 * Writing plain (uncompressed) FITS images from a stored header string and pixels, whole or streamed in
 * row bands.
 *
 * The header starts with `SIMPLE`, `BITPIX`, `NAXIS`, `NAXIS1`, `NAXIS2` in fixed format; the other stored
 * cards follow verbatim, except the ones that describe the old data layout and would now be wrong
 * (`XTENSION`, `PCOUNT`, `GCOUNT`, stale `CHECKSUM`/`DATASUM`, and the scaling keywords `BSCALE`, `BZERO`,
 * `BLANK`). float32 pixels are written as `BITPIX = -32` without scaling keywords (NaN stays NaN); uint16
 * pixels as `BITPIX = 16` with `BZERO = 32768` and `BSCALE = 1` (stored value = pixel - 32768). The header
 * ends with `END` and spaces to a 2880-byte block; the data are big endian, padded with zeros.
 *
 * @example
 * ```ts
 * import { writeFits } from "./write.ts";
 * const pixels = new Float32Array(4 * 3).fill(1.5);
 * const fits = writeFits(undefined, pixels, 4, 3, "float32", { checksum: true });
 * fits.length; // 5760: one header block, one data block
 * ```
 * @module
 */

import {
  BLOCK_LENGTH,
  cardKeyword,
  cardValueText,
  formatCard,
  headerBytes,
  headerText,
  splitCards,
} from "./card.ts";
import { ChecksumAccumulator, checksumPlaceholderCard, datasumCard, sealHeader } from "./checksum.ts";

/** Pixel types the store holds: float32 for images and weights, uint16 for masks. */
export type PixelType = "float32" | "uint16";

/** Options of the plain FITS writers. */
export interface WriteOptions {
  /** Add `CHECKSUM` and `DATASUM` cards. */
  checksum?: boolean;
  /** Cards (80 characters each, or concatenated multiples) added after the stored cards, e.g. `HISTORY`. */
  extraCards?: string[];
}

/** A FITS file could not be written (bad dimensions, pixels of the wrong size or type). */
export class FitsWriteError extends Error {
  /** @param message one line naming the file or input that is wrong */
  constructor(message: string) {
    super(message);
    this.name = "FitsWriteError";
  }
}

// Keywords always rebuilt for a primary image HDU, never copied from the stored header.
const STRUCTURAL = new Set([
  "SIMPLE",
  "XTENSION",
  "BITPIX",
  "NAXIS",
  "PCOUNT",
  "GCOUNT",
  "CHECKSUM",
  "DATASUM",
]);
const SCALING = new Set(["BSCALE", "BZERO", "BLANK"]);

function isStructural(keyword: string): boolean {
  return STRUCTURAL.has(keyword) || /^NAXIS\d+$/.test(keyword);
}

/** Bytes per pixel in the file for a pixel type (both are stored in 4 or 2 bytes). */
export function bytesPerPixel(type: PixelType): number {
  return type === "float32" ? 4 : 2;
}

/**
 * The header cards (no `END`) of a plain primary image HDU for `type` pixels, from a stored header string
 * (or none). `BSCALE`/`BZERO` of a uint16 image take the place of the stored ones when present, else follow
 * the mandatory cards.
 */
export function primaryImageCards(
  stored: string | undefined,
  width: number,
  height: number,
  type: PixelType,
  extraCards: readonly string[] = [],
): string[] {
  checkDimensions(width, height);
  const cards = [
    formatCard("SIMPLE", true, "conforms to FITS standard"),
    formatCard("BITPIX", type === "float32" ? -32 : 16, "array data type"),
    formatCard("NAXIS", 2, "number of array dimensions"),
    formatCard("NAXIS1", width),
    formatCard("NAXIS2", height),
  ];
  const mandatoryEnd = cards.length;
  const bscale = formatCard("BSCALE", 1);
  const bzero = formatCard("BZERO", 32768);
  let placedBscale = false;
  let placedBzero = false;
  const storedCards = stored === undefined ? [] : splitCards(stored);
  for (let i = 0; i < storedCards.length; i++) {
    const card = storedCards[i];
    const keyword = cardKeyword(card);
    if (isStructural(keyword)) continue;
    if (SCALING.has(keyword)) {
      if (type !== "uint16" || keyword === "BLANK") continue;
      // Keep the stored card (and its comment) when it already says the right thing.
      if (keyword === "BSCALE" && !placedBscale) {
        cards.push(sameNumber(card, 1) ? card : bscale);
        placedBscale = true;
      } else if (keyword === "BZERO" && !placedBzero) {
        cards.push(sameNumber(card, 32768) ? card : bzero);
        placedBzero = true;
      }
      continue;
    }
    cards.push(card);
  }
  if (type === "uint16") {
    const missing = [];
    if (!placedBscale) missing.push(bscale);
    if (!placedBzero) missing.push(bzero);
    cards.splice(mandatoryEnd, 0, ...missing);
  }
  for (const extra of extraCards) {
    for (let i = 0; i < extra.length; i += 80) cards.push(extra.slice(i, i + 80).padEnd(80));
  }
  return cards;
}

function sameNumber(card: string, value: number): boolean {
  const text = cardValueText(card);
  return text !== undefined && text !== "" && Number(text.replace(/[dD]/, "E")) === value;
}

function checkDimensions(width: number, height: number): void {
  if (!Number.isSafeInteger(width) || width < 1 || !Number.isSafeInteger(height) || height < 1) {
    throw new FitsWriteError(`invalid image size ${width} x ${height}`);
  }
}

/**
 * The header block (whole 2880-byte blocks) of a plain FITS image: mandatory keywords in fixed format, the
 * stored cards verbatim apart from those it replaces, `extraCards`, `END`, space padding. With
 * `checksum`, `CHECKSUM` (placeholder) and `DATASUM` cards are added last, to be filled by
 * {@link sealHeader}.
 */
export function fitsHeaderBlock(
  stored: string | undefined,
  width: number,
  height: number,
  type: PixelType,
  extraCards?: string[],
  opts: { checksum?: boolean } = {},
): Uint8Array {
  const cards = primaryImageCards(stored, width, height, type, extraCards);
  if (opts.checksum) cards.push(checksumPlaceholderCard(), datasumCard(0));
  return headerBytes(headerText(cards));
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes pixels as FITS data bytes: float32 as big-endian IEEE (NaN bit patterns kept), uint16 as
 * big-endian int16 of pixel - 32768. Writes into `out` (from its start) when given; returns the bytes
 * written (a view of `out`).
 */
export function encodeRows(
  pixels: Float32Array | Uint16Array,
  type: PixelType,
  out?: Uint8Array,
): Uint8Array {
  const n = pixels.length;
  const size = n * bytesPerPixel(type);
  if (type === "float32" && !(pixels instanceof Float32Array)) {
    throw new FitsWriteError("float32 rows must be a Float32Array");
  }
  if (type === "uint16" && !(pixels instanceof Uint16Array)) {
    throw new FitsWriteError("uint16 rows must be a Uint16Array");
  }
  if (out && out.length < size) {
    throw new FitsWriteError(`output buffer of ${out.length} bytes < ${size} needed`);
  }
  const bytes = out ? out.subarray(0, size) : new Uint8Array(size);
  if (type === "float32") {
    const src = new Uint32Array(pixels.buffer, pixels.byteOffset, n);
    if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
      const dst = new Uint32Array(bytes.buffer, bytes.byteOffset, n);
      for (let i = 0; i < n; i++) {
        const x = src[i];
        dst[i] = (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
      }
    } else {
      const view = new DataView(bytes.buffer, bytes.byteOffset, size);
      for (let i = 0; i < n; i++) view.setUint32(4 * i, src[i]);
    }
  } else {
    const src = pixels as Uint16Array;
    if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
      const dst = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      for (let i = 0; i < n; i++) {
        // Flipping the top bit is subtracting 32768 in two's complement; then swap to big endian.
        const v = src[i] ^ 0x8000;
        dst[i] = (v >>> 8) | ((v & 0xff) << 8);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = src[i] ^ 0x8000;
        bytes[2 * i] = v >>> 8;
        bytes[2 * i + 1] = v & 0xff;
      }
    }
  }
  return bytes;
}

/** Bytes of zero padding after `dataBytes` bytes of data. */
export function dataPadding(dataBytes: number): number {
  return (BLOCK_LENGTH - (dataBytes % BLOCK_LENGTH)) % BLOCK_LENGTH;
}

/**
 * A whole plain FITS file in memory: header block, big-endian data, zero padding. `pixels` holds
 * `width * height` values row-major (row 0 first, as FITS stores them).
 */
export function writeFits(
  stored: string | undefined,
  pixels: Float32Array | Uint16Array,
  width: number,
  height: number,
  type: PixelType,
  opts: WriteOptions = {},
): Uint8Array {
  checkDimensions(width, height);
  if (pixels.length !== width * height) {
    throw new FitsWriteError(`pixels hold ${pixels.length} values, expected ${width} x ${height}`);
  }
  const header = fitsHeaderBlock(stored, width, height, type, opts.extraCards, { checksum: opts.checksum });
  const dataBytes = width * height * bytesPerPixel(type);
  const out = new Uint8Array(header.length + dataBytes + dataPadding(dataBytes));
  out.set(header);
  const data = encodeRows(pixels, type, out.subarray(header.length));
  if (opts.checksum) {
    const acc = new ChecksumAccumulator();
    acc.add(data);
    sealHeader(out.subarray(0, header.length), acc.value);
  }
  return out;
}

/**
 * Writes a plain FITS image to a file band by band, so memory holds one band at a time. Rows must be
 * given in order and add up to the image height; {@link close} pads the data and, with `checksum`,
 * rewrites the header with the final sums.
 *
 * @example
 * ```ts ignore
 * const w = await FitsStreamWriter.create("out.fits", header, 6300, 6300, "float32");
 * for (let y = 0; y < 6300; y += 1024) await w.writeRows(await band(y, Math.min(6300, y + 1024)));
 * await w.close();
 * ```
 */
export class FitsStreamWriter {
  #file: Deno.FsFile;
  #path: string;
  #header: Uint8Array;
  #type: PixelType;
  #width: number;
  #height: number;
  #remainingPixels: number;
  #checksum: ChecksumAccumulator | null;
  #buffer = new Uint8Array(0);
  #closed = false;

  private constructor(
    file: Deno.FsFile,
    path: string,
    header: Uint8Array,
    width: number,
    height: number,
    type: PixelType,
    checksum: boolean,
  ) {
    this.#file = file;
    this.#path = path;
    this.#header = header;
    this.#width = width;
    this.#height = height;
    this.#type = type;
    this.#remainingPixels = width * height;
    this.#checksum = checksum ? new ChecksumAccumulator() : null;
  }

  /** Creates (or truncates) `path` and writes the header. */
  static async create(
    path: string,
    stored: string | undefined,
    width: number,
    height: number,
    type: PixelType,
    opts: WriteOptions = {},
  ): Promise<FitsStreamWriter> {
    const header = fitsHeaderBlock(stored, width, height, type, opts.extraCards, { checksum: opts.checksum });
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      await writeAll(file, header);
    } catch (err) {
      file.close();
      throw err;
    }
    return new FitsStreamWriter(file, path, header, width, height, type, opts.checksum ?? false);
  }

  /** Writes the next whole rows (`pixels.length` a multiple of the width). */
  async writeRows(pixels: Float32Array | Uint16Array): Promise<void> {
    if (this.#closed) throw new FitsWriteError(`${this.#path}: write after close`);
    if (pixels.length % this.#width !== 0) {
      throw new FitsWriteError(
        `${this.#path}: band of ${pixels.length} values is not whole rows of ${this.#width}`,
      );
    }
    if (pixels.length > this.#remainingPixels) {
      throw new FitsWriteError(`${this.#path}: more rows than the image height`);
    }
    const size = pixels.length * bytesPerPixel(this.#type);
    if (this.#buffer.length < size) this.#buffer = new Uint8Array(size);
    await this.writeEncodedRows(encodeRows(pixels, this.#type, this.#buffer));
  }

  /**
   * Writes the next whole rows already encoded as FITS data (big endian, as {@link encodeRows} gives
   * them), e.g. by a worker thread.
   */
  async writeEncodedRows(bytes: Uint8Array): Promise<void> {
    if (this.#closed) throw new FitsWriteError(`${this.#path}: write after close`);
    const rowBytes = this.#width * bytesPerPixel(this.#type);
    if (bytes.length % rowBytes !== 0) {
      throw new FitsWriteError(`${this.#path}: ${bytes.length} bytes are not whole rows of ${rowBytes}`);
    }
    const pixels = bytes.length / bytesPerPixel(this.#type);
    if (pixels > this.#remainingPixels) {
      throw new FitsWriteError(`${this.#path}: more rows than the image height`);
    }
    this.#checksum?.add(bytes);
    await writeAll(this.#file, bytes);
    this.#remainingPixels -= pixels;
  }

  /** Pads the data unit, fills in the checksum cards if asked, and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#remainingPixels !== 0) {
        throw new FitsWriteError(
          `${this.#path}: closed with ${this.#remainingPixels / this.#width} rows unwritten`,
        );
      }
      const total = this.#height * this.#width * bytesPerPixel(this.#type);
      await writeAll(this.#file, new Uint8Array(dataPadding(total)));
      if (this.#checksum) {
        sealHeader(this.#header, this.#checksum.value);
        await this.#file.seek(0, Deno.SeekMode.Start);
        await writeAll(this.#file, this.#header);
      }
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

/** Writes all of `bytes` to `file` (a single write may take only part). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}
