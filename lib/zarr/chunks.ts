/**
 * Chunks of the toolkit's arrays: the `bytes` (little endian) + `zstd` codec chain with the native
 * `node:zlib` zstd, and the split of a row band (one chunk row of a 2-D array) into chunk files.
 *
 * Edge chunks are padded to the full chunk shape with the fill value, as zarr-python does. Chunks that
 * hold only the fill value are not written (zarr-python 3 does not write them either; they read back as
 * the fill value). Every frame records its content size (`pledgedSrcSize`), which older numcodecs needs.
 *
 * @example
 * ```ts
 * import { decodeChunk, encodeChunk } from "./chunks.ts";
 * const chunk = new Float32Array([1, 2, 3, NaN]);
 * const back = decodeChunk(encodeChunk(chunk), "float32", 4);
 * back[2]; // 3
 * ```
 * @module
 */

import zlib from "node:zlib";
import * as path from "node:path";
import { StoreError } from "./errors.ts";
import { readStoreFileSync } from "./files.ts";
import {
  type ArraySpec,
  CHUNK_KEY_PREFIX,
  defaultChunkKey,
  fillValueOf,
  type StoreDtype,
  ZSTD_LEVEL,
} from "./metadata.ts";
import { maxChunkBytes } from "./verify.ts";

/** A typed array of one of the store's data types. */
export type StoreTypedArray = Float32Array<ArrayBuffer> | Uint16Array<ArrayBuffer>;

// Typed arrays use the platform's byte order; the chunks are little endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("ps1-zarr needs a little-endian platform");
}

/** Decoded bytes of one chunk at most when its size is not known: no chunk this toolkit reads is larger. */
export const MAX_DECODED_BYTES = 1 << 28;

const ZSTD_PARAMS = { [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL };

// `pledgedSrcSize` is a Node zstd option that the bundled typings do not list yet.
type ZstdOptions = NonNullable<Parameters<typeof zlib.zstdCompressSync>[1]> & { pledgedSrcSize?: number };

// node:zlib's sync calls collect their output in `chunkSize` pieces (128 KiB by default) and concatenate
// them, leaving twice the output as garbage per call, which V8 collects only after tens of MB per isolate.
// With one output buffer that is surely big enough (and never from Buffer's shared pool), the result is a
// view of that buffer alone, which {@link releaseBuffer} can free at once.
const MIN_OUTPUT = 65536;

function outputSize(bytes: number): number {
  // ZSTD_COMPRESSBOUND plus slack: the call must not fill the buffer, or it allocates another.
  return Math.max(MIN_OUTPUT, bytes + (bytes >> 8) + (bytes < 131072 ? (131072 - bytes) >> 11 : 0) + 1024);
}

/**
 * Frees the memory of a buffer returned by {@link encodeChunk} or {@link zstdDecompress} now, instead of
 * at the next garbage collection (it is detached: do not use it after). Does nothing for a view that does
 * not own its whole buffer.
 */
export function releaseBuffer(view: ArrayBufferView): void {
  const buffer = view.buffer as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer; detached?: boolean };
  if (
    view.byteOffset === 0 && buffer.byteLength >= MIN_OUTPUT && typeof buffer.transfer === "function" &&
    !buffer.detached && !(buffer instanceof SharedArrayBuffer)
  ) {
    buffer.transfer(0);
  }
}

/**
 * Compresses one chunk's elements (bytes codec, little endian, then zstd level 3). The frame records its
 * content size. The result owns its buffer: pass it to {@link releaseBuffer} once written.
 */
export function encodeChunk(chunk: StoreTypedArray): Uint8Array {
  const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const opts: ZstdOptions = {
    params: ZSTD_PARAMS,
    pledgedSrcSize: bytes.length,
    chunkSize: outputSize(bytes.length),
  };
  return zlib.zstdCompressSync(bytes, opts);
}

/** Allocates a typed array of `dtype` with `n` elements. */
export function allocate(dtype: StoreDtype | string, n: number): StoreTypedArray {
  if (dtype === "float32") return new Float32Array(n);
  if (dtype === "uint16") return new Uint16Array(n);
  throw new StoreError(`unsupported data type ${JSON.stringify(dtype)}`);
}

/**
 * The content size a zstd frame header records, or null when the data is not a zstd frame or the frame
 * does not record it.
 */
export function zstdContentSize(frame: Uint8Array): number | null {
  if (frame.length < 6) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(0, true) !== 0xfd2fb528) return null;
  const descriptor = frame[4];
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  if (fcsFlag === 0 && !singleSegment) return null;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 3];
  const size = [1, 2, 4, 8][fcsFlag];
  if (at + size > frame.length) return null;
  if (fcsFlag === 0) return view.getUint8(at);
  if (fcsFlag === 1) return view.getUint16(at, true) + 256;
  if (fcsFlag === 2) return view.getUint32(at, true);
  return Number(view.getBigUint64(at, true));
}

/**
 * Decompresses zstd data and checks the result against the content size the frame records. The native
 * decoder returns what it could decode from a cut-off frame without an error, so a torn file is only seen
 * by its length; throws {@link StoreError} naming `where`. `expectedBytes` (or else the recorded size)
 * sizes the output buffer; the result then owns its buffer (see {@link releaseBuffer}).
 */
export function zstdDecompress(compressed: Uint8Array, where = "chunk", expectedBytes?: number): Uint8Array {
  if (compressed.length === 0) throw new StoreError(`${where}: empty chunk file`);
  const recorded = zstdContentSize(compressed);
  if (expectedBytes !== undefined && recorded !== null && recorded !== expectedBytes) {
    throw new StoreError(
      `${where}: its zstd frame records ${recorded} bytes, the chunk has ${expectedBytes}`,
    );
  }
  // The output is capped at what the chunk must hold (or, not knowing it, at a bound no chunk reaches):
  // a small file that inflates to gigabytes fails here without allocating them.
  const cap = expectedBytes ?? Math.min(recorded ?? MAX_DECODED_BYTES, MAX_DECODED_BYTES);
  let raw: Uint8Array;
  try {
    raw = zlib.zstdDecompressSync(compressed, {
      chunkSize: Math.max(MIN_OUTPUT, cap + 64),
      maxOutputLength: cap,
    });
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new StoreError(`${where}: decodes to more than ${cap} bytes, more than the chunk holds`);
    }
    throw new StoreError(`${where}: zstd decode failed (${(err as Error).message})`);
  }
  if (recorded !== null && raw.byteLength < recorded) {
    throw new StoreError(
      `${where}: truncated chunk file (its zstd frame decodes to ${raw.byteLength} of ${recorded} bytes)`,
    );
  }
  return raw;
}

/**
 * Decompresses a chunk written with {@link encodeChunk} (or by zarr-python with the same codecs) and
 * checks that it holds exactly `elements` values; throws {@link StoreError} (naming `where`) otherwise.
 */
export function decodeChunk(
  compressed: Uint8Array,
  dtype: StoreDtype | string,
  elements: number,
  where = "chunk",
): StoreTypedArray {
  if (dtype !== "float32" && dtype !== "uint16") {
    throw new StoreError(`unsupported data type ${JSON.stringify(dtype)}`);
  }
  const bytes = elements * (dtype === "uint16" ? 2 : 4);
  const raw = zstdDecompress(compressed, where, bytes);
  if (raw.byteLength !== bytes) {
    throw new StoreError(`${where}: decoded ${raw.byteLength} bytes, expected ${bytes}`);
  }
  if (raw.byteOffset === 0 && raw.buffer instanceof ArrayBuffer) {
    // Use the decoder's own buffer: no copy.
    return dtype === "float32"
      ? new Float32Array(raw.buffer, 0, elements)
      : new Uint16Array(raw.buffer, 0, elements);
  }
  const out = allocate(dtype, elements);
  new Uint8Array(out.buffer).set(raw);
  return out;
}

/** True when every element equals the fill value (NaN counts as equal to a NaN fill). */
export function isAllFill(chunk: StoreTypedArray, fill: number): boolean {
  if (Number.isNaN(fill)) {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === chunk[i]) return false;
    return true;
  }
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== fill) return false;
  return true;
}

/** What writing one band of chunks did. */
export interface BandWriteResult {
  /** Chunk files written (all-fill chunks are skipped). */
  written: number;
  /** Compressed bytes written. */
  bytes: number;
  /** Keys of the chunk files written (`c/{row}/{column}`). */
  keys: string[];
}

/** Throws {@link StoreError} unless `band` holds exactly the rows of chunk row `chunkRow`, whole width. */
export function checkBand(arrayDir: string, spec: ArraySpec, chunkRow: number, band: StoreTypedArray): void {
  const [height, width] = spec.shape;
  const rows = Math.min(spec.chunks[0], height - chunkRow * spec.chunks[0]);
  if (!Number.isInteger(chunkRow) || !(rows > 0) || band.length !== rows * width) {
    throw new StoreError(
      `${arrayDir}: band ${chunkRow} has ${band.length} values, expected ${
        Math.max(rows, 0) || 0
      } x ${width}`,
    );
  }
}

/**
 * Copies chunk `col` of a checked band (see {@link checkBand}) into `chunk` (the full chunk shape), padding
 * an edge chunk with the fill value. Returns false when the chunk holds nothing but the fill value (it is
 * then not to be written).
 */
export function chunkOfBand(
  spec: ArraySpec,
  chunkRow: number,
  col: number,
  band: StoreTypedArray,
  chunk: StoreTypedArray,
): boolean {
  const [height, width] = spec.shape;
  const [cr, cc] = spec.chunks;
  const rows = Math.min(cr, height - chunkRow * cr);
  const x0 = col * cc;
  const cols = Math.min(cc, width - x0);
  const fill = fillValueOf(spec.dtype);
  if (rows < cr || cols < cc) chunk.fill(fill);
  for (let r = 0; r < rows; r++) chunk.set(band.subarray(r * width + x0, r * width + x0 + cols), r * cc);
  return !isAllFill(chunk, fill);
}

/** Encodes a chunk and writes it to `file` (the directory must exist); returns the bytes written. */
export function writeChunkFile(file: string, chunk: StoreTypedArray): number {
  const encoded = encodeChunk(chunk);
  const bytes = encoded.length;
  try {
    // createNew: a chunk file is written once; one already there means two writers share the directory.
    Deno.writeFileSync(file, encoded, { createNew: true });
  } catch (err) {
    throw new StoreError(`${file}: cannot write the chunk (${(err as Error).message})`, { cause: err });
  } finally {
    releaseBuffer(encoded);
  }
  return bytes;
}

/**
 * Splits one chunk row of an array into chunks and writes the non-empty ones under `arrayDir`
 * (`c/{row}/{column}`). `band` holds rows [chunkRow * chunkRows, min(H, (chunkRow + 1) * chunkRows)) of
 * the whole width, row-major. `scratch` is reused as the chunk buffer when it has the chunk's size.
 */
export function writeChunkRow(
  arrayDir: string,
  spec: ArraySpec,
  chunkRow: number,
  band: StoreTypedArray,
  scratch?: StoreTypedArray,
): BandWriteResult {
  checkBand(arrayDir, spec, chunkRow, band);
  const [cr, cc] = spec.chunks;
  const fits = scratch !== undefined && scratch.length === cr * cc &&
    (spec.dtype === "float32" ? scratch instanceof Float32Array : scratch instanceof Uint16Array);
  const own = !fits;
  const chunk = own ? allocate(spec.dtype, cr * cc) : scratch!;
  const rowKey = defaultChunkKey([chunkRow]);
  let made = false;
  const result: BandWriteResult = { written: 0, bytes: 0, keys: [] };
  try {
    for (let col = 0; col * cc < spec.shape[1]; col++) {
      if (!chunkOfBand(spec, chunkRow, col, band, chunk)) continue;
      if (!made) {
        makeRowDir(arrayDir, rowKey);
        made = true;
      }
      const key = defaultChunkKey([chunkRow, col]);
      result.bytes += writeChunkFile(path.join(arrayDir, key), chunk);
      result.written++;
      result.keys.push(key);
    }
  } finally {
    if (own) releaseBuffer(chunk);
  }
  return result;
}

/**
 * Makes `c/` and `c/{row}` inside an array directory that must exist: never with `recursive`, so a temp
 * array removed meanwhile (by a cleanup, or a deleted group) is an error, not silently recreated.
 */
function makeRowDir(arrayDir: string, rowKey: string): void {
  for (const dir of [path.join(arrayDir, CHUNK_KEY_PREFIX), path.join(arrayDir, rowKey)]) {
    try {
      Deno.mkdirSync(dir);
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) continue;
      if (err instanceof Deno.errors.NotFound) {
        throw new StoreError(`${arrayDir}: the array directory disappeared while its chunks were written`);
      }
      throw new StoreError(`${dir}: cannot create (${(err as Error).message})`);
    }
  }
}

/**
 * Reads and decodes one chunk file of the toolkit's codec chain (bytes + zstd), bounded: the file must be
 * a regular file inside the store (`root`) no larger than a chunk can be, and it must decode to exactly
 * `elements` values. An absent file is the fill value (null) unless `required` (the completion marker
 * records it), which throws {@link StoreError} naming the chunk file.
 */
export function readChunkFileSync(
  root: string,
  file: string,
  dtype: StoreDtype | string,
  elements: number,
  opts: { required?: boolean } = {},
): StoreTypedArray | null {
  const bytes = readStoreFileSync(root, file, maxChunkBytes(elements, dtype));
  if (bytes === undefined) {
    if (opts.required) {
      throw new StoreError(
        `${file}: chunk file missing (the completion marker records it): the array is damaged`,
      );
    }
    return null;
  }
  return decodeChunk(bytes, dtype, elements, file);
}
