/**
 * Worker of the chunk encoding pool: compresses one chunk row of an array and writes its chunk files
 * into the (temporary) array directory, then hands the band buffer back for reuse.
 * @module
 */

import { type BandWriteResult, type StoreTypedArray, writeChunkRow } from "./chunks.ts";
import type { ArraySpec } from "./metadata.ts";
import { serveTasks } from "./pool.ts";

/** One chunk row to encode and write. */
export interface ChunkRowTask {
  /** Directory of the array being built. */
  arrayDir: string;
  /** The array's shape, type and chunks. */
  spec: ArraySpec;
  /** Chunk row index. */
  chunkRow: number;
  /** The rows of that chunk row, whole width (transferred). */
  band: StoreTypedArray;
}

/** What a worker answers: the counts, and the band buffer given back. */
export interface ChunkRowDone extends BandWriteResult {
  /** The band buffer, for reuse. */
  band: StoreTypedArray;
}

let scratch: StoreTypedArray | undefined;

serveTasks<ChunkRowTask, ChunkRowDone>((task) => {
  const n = task.spec.chunks[0] * task.spec.chunks[1];
  const sameType = task.spec.dtype === "float32"
    ? scratch instanceof Float32Array
    : scratch instanceof Uint16Array;
  if (!scratch || !sameType || scratch.length !== n) {
    scratch = task.spec.dtype === "float32" ? new Float32Array(n) : new Uint16Array(n);
  }
  const result = writeChunkRow(task.arrayDir, task.spec, task.chunkRow, task.band, scratch);
  return [{ ...result, band: task.band }, [task.band.buffer]];
});
