/**
 * The worker pool behind {@link ArrayBuild.writeChunkRow}: tasks run on at most `size` workers, a failing
 * task rejects only itself, and closing the pool settles every task (queued or running) instead of leaving
 * callers waiting forever.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import zlib from "node:zlib";
import type { ChunkDone, ChunkTask } from "../../lib/zarr/encode_worker.ts";
import { WorkerPool } from "../../lib/zarr/pool.ts";
import type { ArraySpec } from "../../lib/zarr/metadata.ts";
import { testImage, withStore, withTempDir } from "./_helpers.ts";

const WORKER = new URL("../../lib/zarr/encode_worker.ts", import.meta.url);

function task(dir: string, k: number, n = 256 * 256): ChunkTask {
  return { file: path.join(dir, String(k)), chunk: new Float32Array(n).fill(k) };
}

Deno.test("pool runs every task, gives the chunk buffers back and rejects only the failing task", async () => {
  await withTempDir(async (dir) => {
    const pool = new WorkerPool<ChunkTask, ChunkDone>(WORKER, 2);
    try {
      const jobs = [0, 1, 2, 3, 4].map((k) => {
        const t = task(dir, k);
        return pool.run(t, [t.chunk.buffer]);
      });
      const bad = pool.run({ file: path.join(dir, "missing", "dir", "x"), chunk: new Float32Array(4) })
        .then(() => null, (err: Error) => err);
      const done = await Promise.all(jobs);
      assert.ok(done.every((d, k) => d.chunk.length === 256 * 256 && d.chunk[0] === k), "buffers come back");
      for (const [k, d] of done.entries()) {
        const file = await Deno.readFile(path.join(dir, String(k)));
        assert.equal(d.bytes, file.length);
        const raw = new Float32Array(new Uint8Array(zlib.zstdDecompressSync(file)).buffer);
        assert.ok(raw.length === 256 * 256 && raw.every((v) => v === k));
      }
      assert.match(String((await bad)?.message), /No such file or directory|ENOENT|NotFound/i);
      // The pool still works after a failed task.
      const again = await pool.run(task(dir, 9));
      assert.equal(again.chunk[0], 9);
    } finally {
      pool.close();
    }
  });
});

Deno.test("closing the pool rejects the running and the queued tasks", async () => {
  await withTempDir(async (dir) => {
    const pool = new WorkerPool<ChunkTask, ChunkDone>(WORKER, 1);
    const image = testImage("float32", 1024, 1024, { seed: 1 }) as Float32Array<ArrayBuffer>;
    const running = pool.run({ file: path.join(dir, "a"), chunk: image.slice() });
    const queued = pool.run({ file: path.join(dir, "b"), chunk: image.slice() });
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
    await assert.rejects(() => pool.run(task(dir, 0)), /closed/);
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
