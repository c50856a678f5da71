/**
 * A test worker for the pool: writes `bytes` to `file` and gives the buffer back, or fails as the file
 * system does (a missing directory) or with a typed store error.
 * @module
 */
import { StoreError } from "../../lib/zarr/errors.ts";
import { serveTasks } from "../../lib/zarr/pool.ts";

/** One write. */
export interface WriteTask {
  /** Where. */
  file: string;
  /** What (transferred both ways). */
  bytes: Uint8Array<ArrayBuffer>;
  /** Throw a StoreError instead of writing. */
  storeError?: boolean;
}

serveTasks<WriteTask, WriteTask>((task) => {
  if (task.storeError) throw new StoreError(`${task.file}: refused`);
  Deno.writeFileSync(task.file, task.bytes);
  return [task, [task.bytes.buffer]];
});
