/**
 * The worker pool behind {@link ArrayBuild.writeChunkRow}: tasks run on at most `size` workers, a failing
 * task rejects only itself, and closing the pool settles every task (queued or running) instead of leaving
 * callers waiting forever.
 */
import assert from "node:assert/strict";
import type { ChunkRowDone, ChunkRowTask } from "../../lib/zarr/encode_worker.ts";
import { WorkerPool } from "../../lib/zarr/pool.ts";
import type { ArraySpec } from "../../lib/zarr/metadata.ts";
import { testImage, withStore, withTempDir } from "./_helpers.ts";

const WORKER = new URL("../../lib/zarr/encode_worker.ts", import.meta.url);

function task(dir: string, row: number, spec: ArraySpec, band?: Float32Array<ArrayBuffer>): ChunkRowTask {
  const n = Math.min(spec.chunks[0], spec.shape[0] - row * spec.chunks[0]) * spec.shape[1];
  return { arrayDir: dir, spec, chunkRow: row, band: band ?? new Float32Array(n).fill(1) };
}

Deno.test("pool runs every task, gives the band buffers back and rejects only the failing task", async () => {
  await withTempDir(async (dir) => {
    const pool = new WorkerPool<ChunkRowTask, ChunkRowDone>(WORKER, 2);
    try {
      const spec: ArraySpec = { shape: [400, 300], dtype: "float32", chunks: [100, 100] };
      const jobs = [0, 1, 2, 3].map((row) => {
        const t = task(dir, row, spec);
        return pool.run(t, [t.band.buffer]);
      });
      const bad = pool.run(task(dir, 0, spec, new Float32Array(3))).then(() => null, (err: Error) => err);
      const done = await Promise.all(jobs);
      assert.deepEqual(done.map((d) => d.written), [3, 3, 3, 3]);
      assert.ok(done.every((d) => d.band.length === 100 * 300 && d.band[0] === 1));
      assert.match(String((await bad)?.message), /band 0 has 3 values/);
      // The pool still works after a failed task.
      const again = await pool.run(task(dir, 1, spec));
      assert.equal(again.written, 3);
    } finally {
      pool.close();
    }
  });
});

Deno.test("closing the pool rejects the running and the queued tasks", async () => {
  await withTempDir(async (dir) => {
    const pool = new WorkerPool<ChunkRowTask, ChunkRowDone>(WORKER, 1);
    const spec: ArraySpec = { shape: [2048, 2048], dtype: "float32", chunks: [1024, 1024] };
    const image = testImage("float32", 1024, 2048, { seed: 1 }) as Float32Array<ArrayBuffer>;
    const running = pool.run(task(dir, 0, spec, image.slice()));
    const queued = pool.run(task(dir, 1, spec, image.slice()));
    running.catch(() => {});
    queued.catch(() => {});
    pool.close();
    const outcome = await Promise.race([
      Promise.allSettled([running, queued]),
      new Promise<"hang">((resolve) => setTimeout(() => resolve("hang"), 3000)),
    ]);
    assert.notEqual(outcome, "hang", "tasks were left pending after close");
    if (outcome === "hang") return;
    assert.deepEqual(outcome.map((o) => o.status), ["rejected", "rejected"]);
    await assert.rejects(() => pool.run(task(dir, 0, spec)), /closed/);
  });
});

Deno.test("a build whose store is closed while rows are in flight fails its commit and leaves no temp array", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [2048, 2048], dtype: "float32", chunks: [1024, 1024] };
    const build = await store.beginArray("2556/skycell.2556.080", "r", spec);
    const image = testImage("float32", 1024, 2048, { seed: 4 }) as Float32Array<ArrayBuffer>;
    await build.writeChunkRow(0, image.slice());
    await build.writeChunkRow(1, image.slice());
    store.close();
    const outcome = await Promise.race([
      build.commit({ header: "" }).then(() => "committed", (err: Error) => err.message),
      new Promise<string>((resolve) => setTimeout(() => resolve("hang"), 5000)),
    ]);
    assert.match(outcome, /closed/);
    assert.deepEqual((await store.listChildren("2556/skycell.2556.080")).map((c) => c.name), []);
  });
});
