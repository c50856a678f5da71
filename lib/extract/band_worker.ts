/**
 * Worker of the extraction's band pool: reads the chunk files that cover one row band of a window,
 * decodes them (little-endian bytes + zstd, the store's own codec chain) and writes the window's pixels
 * into the band buffer, either as they are or already encoded as FITS data (big endian, uint16 as
 * pixel - 32768), so the calling thread only has to write the bytes. The buffer comes and goes back by
 * transfer, so no band is copied between threads.
 * @module
 */

import * as path from "node:path";
import { encodeRows } from "../fits/write.ts";
import { readChunkFileSync } from "../zarr/chunks.ts";
import { serveTasks } from "../zarr/pool.ts";

/** One band of a window to decode. */
export interface BandTask {
  /** File-system path of the store (chunk files must lie inside it). */
  root: string;
  /** File-system path of the array directory. */
  dir: string;
  /** Element type. */
  dtype: "float32" | "uint16";
  /** Fill value of absent chunks. */
  fill: number;
  /** Chunk shape [rows, columns]. */
  chunks: [number, number];
  /** Rows [y0, y1) of the band. */
  rows: [number, number];
  /** Columns [x0, x1) of the window. */
  cols: [number, number];
  /** Chunk keys (relative to `dir`) by chunk row then chunk column, starting at `firstChunk`. */
  keys: string[][];
  /** Per key: true when the chunk file must exist (the completion marker records it). */
  required: boolean[][];
  /** Grid coordinates of `keys[0][0]`. */
  firstChunk: [number, number];
  /** Encode as FITS data (true) or leave as native little-endian pixels (false). */
  fits: boolean;
  /** The band buffer (transferred), at least (y1 - y0) * (x1 - x0) * bytes per pixel long. */
  buffer: ArrayBuffer;
}

/** What a worker answers: the buffer back, and how many of its bytes hold the band. */
export interface BandDone {
  /** The band buffer. */
  buffer: ArrayBuffer;
  /** Bytes of the band. */
  length: number;
}

/** Fills `task.buffer` with the band: the worker's whole job, callable on any thread. */
export function decodeBand(task: BandTask): BandDone {
  const [cr, cc] = task.chunks;
  const [y0, y1] = task.rows;
  const [x0, x1] = task.cols;
  const w = x1 - x0;
  const bpp = task.dtype === "float32" ? 4 : 2;
  const length = (y1 - y0) * w * bpp;
  if (task.buffer.byteLength < length) {
    throw new Error(`band buffer of ${task.buffer.byteLength} bytes < ${length} needed`);
  }
  const View = task.dtype === "float32" ? Float32Array : Uint16Array;
  const bytes = new Uint8Array(task.buffer, 0, length);
  const pixels = new View(task.buffer, 0, length / bpp);
  const fillRow = new View(cc).fill(task.fill);
  const put = (segment: Float32Array | Uint16Array, at: number) => {
    if (task.fits) encodeRows(segment, task.dtype, bytes.subarray(at * bpp));
    else pixels.set(segment as never, at);
  };
  task.keys.forEach((rowKeys, i) => {
    const row = task.firstChunk[0] + i;
    const ry0 = Math.max(y0, row * cr);
    const ry1 = Math.min(y1, (row + 1) * cr);
    rowKeys.forEach((key, j) => {
      const col = task.firstChunk[1] + j;
      const cx0 = Math.max(x0, col * cc);
      const cx1 = Math.min(x1, (col + 1) * cc);
      const chunk = readChunkFileSync(task.root, path.join(task.dir, key), task.dtype, cr * cc, {
        required: task.required[i][j],
      });
      for (let y = ry0; y < ry1; y++) {
        const at = (y - y0) * w + (cx0 - x0);
        if (chunk) {
          const src = (y - row * cr) * cc + (cx0 - col * cc);
          put(chunk.subarray(src, src + (cx1 - cx0)), at);
        } else {
          put(fillRow.subarray(0, cx1 - cx0), at);
        }
      }
    });
  });
  return { buffer: task.buffer, length };
}

// In a worker, serve tasks; imported on the main thread (for decodeBand), do nothing.
if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  serveTasks<BandTask, BandDone>((task) => {
    const done = decodeBand(task);
    return [done, [done.buffer]];
  });
}
