/**
 * Worker of the ingest pool: turns one FITS file (a download or a local mirror file) into the chunk files
 * of a temporary array, row band by row band, so at most one chunk row of decoded pixels is in memory.
 * It reads only the FITS part of the file (`[0, end of the last HDU)`: trailing bytes cost nothing), checks
 * its `DATASUM`/`CHECKSUM` cards, digests it (SHA-256, for the provenance) and returns the store header
 * string (astropy's form), which the main thread commits with the array.
 * @module
 */

import { createHash } from "node:crypto";
import { readFitsExtentSync } from "../fits/extent.ts";
import { scanHdus } from "../fits/hdu.ts";
import { openImage } from "../fits/image.ts";
import { verifyChecksums } from "../fits/verify.ts";
import { type StoreTypedArray, writeChunkRow } from "../zarr/chunks.ts";
import { serveTasks } from "../zarr/pool.ts";
import type { BuildHandle } from "../zarr/store.ts";

/** One file to ingest into a temp array directory. */
export interface IngestTask {
  /** FITS file to read. */
  fitsPath: string;
  /** Name of the source in messages (URL or path). */
  source: string;
  /** The array build the chunks go into (its temp directory, shape, type and chunks). */
  build: BuildHandle;
}

/** What the worker did. */
export interface IngestDone {
  /** The header string for `attributes.header`. */
  header: string;
  /** Chunk files written. */
  written: number;
  /** Their keys, for the build to check before its commit. */
  keys: string[];
  /** Compressed bytes written. */
  bytes: number;
  /** Source file size. */
  sourceBytes: number;
  /** `sha256:<hex>` of the source file. */
  digest: string;
  /** HDUs whose checksum cards were verified. */
  checksums: number;
  /** Oddities accepted (a stale `CHECKSUM` over intact data, trailing bytes), one line each. */
  warnings: string[];
  /** Decoded bytes (pixels x element size). */
  decodedBytes: number;
  /** CPU-heavy time in the worker, ms. */
  ms: number;
}

// Grow-only memory kept across tasks and viewed as float32 or uint16 as the array needs: new large
// buffers per file (or per switch between images and masks) leave garbage the allocator holds on to.
let bandMemory = new ArrayBuffer(0);
let chunkMemory = new ArrayBuffer(0);
let fileBuffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);

/**
 * Reads the first `size` bytes of a file into a buffer kept across tasks: first writes to freshly
 * allocated memory are slow on these machines (about 0.3 s per 100 MB), so one grow-only buffer beats a
 * new one per file. `size` is the end of the FITS data, so bytes after it are never read.
 */
function readPrefix(file: string, size: number): Uint8Array<ArrayBuffer> {
  const handle = Deno.openSync(file, { read: true });
  try {
    if (fileBuffer.length < size) fileBuffer = new Uint8Array(Math.ceil(size * 1.1));
    const bytes = fileBuffer.subarray(0, size);
    let got = 0;
    while (got < size) {
      const n = handle.readSync(bytes.subarray(got));
      if (n === null) throw new Error(`${file}: file shrank while reading`);
      got += n;
    }
    return bytes;
  } finally {
    handle.close();
  }
}

/** A `dtype` view of `n` elements over `memory`, growing it (to the returned buffer) when too small. */
function view(memory: ArrayBuffer, dtype: string, n: number): [StoreTypedArray, ArrayBuffer] {
  const bytes = n * (dtype === "float32" ? 4 : 2);
  const buf = memory.byteLength >= bytes ? memory : new ArrayBuffer(bytes);
  return [dtype === "float32" ? new Float32Array(buf, 0, n) : new Uint16Array(buf, 0, n), buf];
}

/** SHA-256 of the bytes, fed in slices (WebCrypto would copy the whole file first). */
function sha256(bytes: Uint8Array): string {
  const hash = createHash("sha256");
  const SLICE = 4 << 20;
  for (let i = 0; i < bytes.length; i += SLICE) hash.update(bytes.subarray(i, i + SLICE));
  return hash.digest("hex");
}

function ingest(task: IngestTask): IngestDone {
  const start = performance.now();
  const extent = readFitsExtentSync(task.fitsPath, task.source);
  const bytes = readPrefix(task.fitsPath, extent.end);
  const digest = sha256(bytes);
  const hdus = scanHdus(bytes, task.source);
  const { datasums, checksums, warnings } = verifyChecksums(bytes, hdus, task.source);
  if (extent.warning) warnings.push(extent.warning);
  const image = openImage(bytes, { source: task.source });
  const { spec, dir } = task.build;
  const [height, width] = spec.shape;
  if (image.width !== width || image.height !== height) {
    throw new Error(
      `${task.source}: image is ${image.height} x ${image.width}, expected ${height} x ${width}`,
    );
  }
  const type = spec.dtype;
  const rowsPerBand = spec.chunks[0];
  let band: StoreTypedArray, scratch: StoreTypedArray;
  [band, bandMemory] = view(bandMemory, type, rowsPerBand * width);
  [scratch, chunkMemory] = view(chunkMemory, type, spec.chunks[0] * spec.chunks[1]);
  const keys: string[] = [];
  let stored = 0;
  for (let row = 0, y0 = 0; y0 < height; row++, y0 += rowsPerBand) {
    const y1 = Math.min(height, y0 + rowsPerBand);
    const out = band.subarray(0, (y1 - y0) * width) as StoreTypedArray;
    image.readRows(y0, y1, type, out as Float32Array & Uint16Array);
    const r = writeChunkRow(dir, spec, row, out, scratch);
    for (const key of r.keys) keys.push(key);
    stored += r.bytes;
  }
  return {
    header: image.storeHeader(type),
    written: keys.length,
    keys,
    bytes: stored,
    sourceBytes: bytes.length,
    digest: `sha256:${digest}`,
    checksums: Math.max(datasums, checksums),
    warnings,
    decodedBytes: width * height * (type === "float32" ? 4 : 2),
    ms: performance.now() - start,
  };
}

serveTasks<IngestTask, IngestDone>((task) => [ingest(task), []]);
