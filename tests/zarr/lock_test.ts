/**
 * The store lock: it keeps a second process out while held (and the other way round), its timeout fails
 * with a message naming the lock file, and holders within one process queue in order.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { StoreError } from "../../lib/zarr/errors.ts";
import { lockPathOf, StoreLock } from "../../lib/zarr/lock.ts";
import { LineReader, spawnChild, withTempDir } from "./_helpers.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("the lock file is a sibling of the store named {store}.lock", () => {
  assert.equal(lockPathOf("/data/out/ps1_skycells.zarr/"), "/data/out/ps1_skycells.zarr.lock");
  assert.equal(new StoreLock("/data/out/ps1_skycells.zarr").path, "/data/out/ps1_skycells.zarr.lock");
});

Deno.test("a lock held here makes another process time out, and it gets the lock once released", async () => {
  await withTempDir(async (dir) => {
    const store = path.join(dir, "s.zarr");
    const lock = new StoreLock(store);
    let releaseAt = 0;
    const outputs = await lock.run(async () => {
      const timedOut = spawnChild(["try-lock", store, "300"]);
      const timedOutLines = await new LineReader(timedOut.stdout).rest();
      assert.equal((await timedOut.status).code, 0);
      const waiting = spawnChild(["try-lock", store, "20000"]);
      const waitingLines = new LineReader(waiting.stdout);
      await sleep(1500);
      releaseAt = performance.now();
      return { timedOutLines, waiting, waitingLines };
    });
    assert.deepEqual(outputs.timedOutLines, [
      `timeout ${store}.lock: store lock still held by another process after 300 ms`,
    ]);
    const acquired = await outputs.waitingLines.waitFor((l) => l.startsWith("acquired"));
    const gotAt = performance.now();
    await outputs.waitingLines.rest();
    assert.equal((await outputs.waiting.status).code, 0);
    // The child started waiting while we held the lock and got it only after we let go.
    assert.ok(Number(acquired.split(" ")[1]) >= 500, acquired);
    assert.ok(gotAt >= releaseAt);
  });
});

Deno.test("a lock held by another process blocks us until it releases, and our timeout names the lock file", async () => {
  await withTempDir(async (dir) => {
    const store = path.join(dir, "s.zarr");
    const child = spawnChild(["hold-lock", store, "1500"]);
    const lines = new LineReader(child.stdout);
    await lines.waitFor((l) => l === "locked");
    const lockedAt = performance.now();
    const impatient = new StoreLock(store, { timeoutMs: 200 });
    await assert.rejects(
      () => impatient.run(() => assert.fail("ran without the lock")),
      (err) =>
        err instanceof StoreError &&
        err.message === `${store}.lock: store lock still held by another process after 200 ms`,
    );
    const waits: string[] = [];
    const patient = new StoreLock(store, { onWait: (p) => waits.push(p), pollMs: 20 });
    const gotAt = await patient.run(() => performance.now());
    // The child holds it 1500 ms from before it printed "locked".
    assert.ok(
      gotAt - lockedAt >= 1200,
      `got the lock ${Math.round(gotAt - lockedAt)} ms after the child took it`,
    );
    await lines.waitFor((l) => l === "released");
    assert.deepEqual(waits, [`${store}.lock`]);
    await lines.rest();
    assert.equal((await child.status).code, 0);
  });
});

Deno.test("holders in one process queue in order and never overlap, even when one fails", async () => {
  await withTempDir(async (dir) => {
    const store = path.join(dir, "s.zarr");
    const a = new StoreLock(store);
    const b = new StoreLock(store);
    const events: string[] = [];
    let inside = 0;
    const hold = (lock: StoreLock, name: string, ms: number, fail = false) =>
      lock.run(async () => {
        inside++;
        events.push(`${name} in (${inside})`);
        await sleep(ms);
        events.push(`${name} out`);
        inside--;
        if (fail) throw new Error(`${name} failed`);
        return name;
      });
    const results = await Promise.allSettled([
      hold(a, "first", 60),
      hold(b, "second", 10, true),
      hold(a, "third", 30),
      hold(b, "fourth", 0),
    ]);
    assert.deepEqual(events, [
      "first in (1)",
      "first out",
      "second in (1)",
      "second out",
      "third in (1)",
      "third out",
      "fourth in (1)",
      "fourth out",
    ]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "fulfilled"]);
  });
});

Deno.test("a holder of this process that waits in the queue honours its timeout too", async () => {
  await withTempDir(async (dir) => {
    const store = path.join(dir, "s.zarr");
    const order: string[] = [];
    const long = new StoreLock(store).run(async () => {
      await sleep(600);
      order.push("long");
    });
    const waits: string[] = [];
    const started = performance.now();
    await assert.rejects(
      () =>
        new StoreLock(store, { timeoutMs: 100, onWait: (p) => waits.push(p) }).run(() => order.push("short")),
      /s\.zarr\.lock: store lock still held in this process after 100 ms/,
    );
    assert.ok(performance.now() - started < 500);
    assert.deepEqual(waits, [`${store}.lock`]);
    // The queue still works after the timed-out holder left it.
    const after = new StoreLock(store).run(() => order.push("after"));
    await Promise.all([long, after]);
    assert.deepEqual(order, ["long", "after"]);
  });
});

Deno.test("the lock can be taken again inside its own run without waiting for itself", async () => {
  await withTempDir(async (dir) => {
    const lock = new StoreLock(path.join(dir, "s.zarr"), { timeoutMs: 1000 });
    const inner = await lock.run(() =>
      new StoreLock(path.join(dir, "s.zarr"), { timeoutMs: 1000 }).run(() => 7)
    );
    assert.equal(inner, 7);
  });
});
