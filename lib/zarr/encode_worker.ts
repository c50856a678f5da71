/**
 * Worker of the chunk encoding pool: compresses one chunk (already padded to the full chunk shape) and
 * writes it to its file in the (temporary) array directory, then hands the chunk buffer back for reuse.
 * @module
 */

import { type StoreTypedArray, writeChunkFile } from "./chunks.ts";
import { serveTasks } from "./pool.ts";

/** One chunk to encode and write. */
export interface ChunkTask {
  /** The chunk file to write (its directory exists). */
  file: string;
  /** The chunk's elements at the full chunk shape (transferred). */
  chunk: StoreTypedArray;
}

/** What a worker answers: the compressed size, and the chunk buffer given back. */
export interface ChunkDone {
  /** Compressed bytes written. */
  bytes: number;
  /** The chunk buffer, for reuse. */
  chunk: StoreTypedArray;
}

serveTasks<ChunkTask, ChunkDone>((task) => {
  const bytes = writeChunkFile(task.file, task.chunk);
  return [{ bytes, chunk: task.chunk }, [task.chunk.buffer]];
});
