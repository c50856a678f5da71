/**
 * The worker pool behind the ingest, the inventory and extraction: tasks run on at most `size` workers,
 * a failing task rejects only itself (with its error class and system code), and closing the pool
 * settles every task (queued or running) instead of leaving callers waiting forever.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { WorkerPool, WorkerTaskError } from "../../lib/zarr/pool.ts";
import type { ArraySpec } from "../../lib/zarr/metadata.ts";
import type { WriteTask } from "./_write_worker.ts";
import { testImage, withStore, withTempDir } from "./_helpers.ts";

const WORKER = new URL("./_write_worker.ts", import.meta.url);

function task(dir: string, k: number, n = 256 * 256): WriteTask {
  return { file: path.join(dir, String(k)), bytes: new Uint8Array(n).fill(k) };
}

Deno.test("pool runs every task, gives the buffers back and rejects only the failing task, keeping its class", async () => {
  await withTempDir(async (dir) => {
    const pool = new WorkerPool<WriteTask, WriteTask>(WORKER, 2);
    try {
      const jobs = [0, 1, 2, 3, 4].map((k) => {
        const t = task(dir, k);
        return pool.run(t, [t.bytes.buffer]);
      });
      const bad = pool.run({ file: path.join(dir, "missing", "dir", "x"), bytes: new Uint8Array(4) })
        .then(() => null, (err: Error) => err);
      const typed = pool.run({ file: "x", bytes: new Uint8Array(1), storeError: true })
        .then(() => null, (err: Error) => err);
      const done = await Promise.all(jobs);
      assert.ok(done.every((d, k) => d.bytes.length === 256 * 256 && d.bytes[0] === k), "buffers come back");
      for (const k of done.keys()) {
        const file = await Deno.readFile(path.join(dir, String(k)));
        assert.ok(file.length === 256 * 256 && file.every((v) => v === k));
      }
      const notFound = await bad;
      assert.ok(notFound instanceof WorkerTaskError);
      assert.equal(notFound.name, "NotFound");
      assert.equal((notFound as WorkerTaskError).code, "ENOENT");
      const store = await typed;
      assert.equal(store?.name, "StoreError");
      assert.match(String(store?.message), /x: refused/);
      // The pool still works after a failed task.
      const again = await pool.run(task(dir, 9));
      assert.equal(again.bytes[0], 9);
    } finally {
      pool.close();
    }
  });
});

Deno.test("closing the pool rejects the running and the queued tasks", async () => {
  await withTempDir(async (dir) => {
    const pool = new WorkerPool<WriteTask, WriteTask>(WORKER, 1);
    const running = pool.run(task(dir, 1, 64 << 20));
    const queued = pool.run(task(dir, 2, 64 << 20));
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

Deno.test("a build whose temp array is removed meanwhile fails its commit: nothing recreated, nothing installed", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [2048, 2048], dtype: "float32", chunks: [1024, 1024] };
    const build = await store.beginArray("2556/skycell.2556.080", "r", spec);
    const image = testImage("float32", 1024, 2048, { seed: 4 }) as Float32Array<ArrayBuffer>;
    build.writeChunkRow(0, image.slice());
    await Deno.remove(build.dir, { recursive: true });
    assert.throws(() => build.writeChunkRow(1, image.slice()), /disappeared/);
    await assert.rejects(() => build.commit({ header: "" }), /gone before the commit|disappeared/);
    assert.deepEqual((await store.listChildren("2556/skycell.2556.080")).map((c) => c.name), []);
  });
});

Deno.test("a build that lost a chunk file before its commit is not installed", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [2048, 2048], dtype: "float32", chunks: [1024, 1024] };
    const build = await store.beginArray("2556/skycell.2556.080", "r", spec);
    const image = testImage("float32", 1024, 2048, { seed: 5 }) as Float32Array<ArrayBuffer>;
    build.writeChunkRow(0, image.slice());
    build.writeChunkRow(1, image.slice());
    await Deno.remove(path.join(build.dir, "c", "1", "0"));
    await assert.rejects(() => build.commit({ header: "" }), /c\/1\/0/);
    assert.deepEqual((await store.listChildren("2556/skycell.2556.080")).map((c) => c.name), []);
  });
});
