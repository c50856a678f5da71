import assert from "node:assert/strict";
import { StoreLock } from "../../lib/zarr/lock.ts";
import { tempDir } from "./_store.ts";

Deno.test("store lock: a run inside a run of the same lock does not wait for itself", async () => {
  const { dir, remove } = await tempDir();
  try {
    const lock = new StoreLock(`${dir}/s.zarr`, { timeoutMs: 2000 });
    const order: string[] = [];
    const result = await lock.run(async () => {
      order.push("outer");
      return await lock.run(() => {
        order.push("inner");
        return 42;
      });
    });
    assert.equal(result, 42);
    assert.deepEqual(order, ["outer", "inner"]);
  } finally {
    await remove();
  }
});

Deno.test("store lock: a callback that outlives its run takes the lock again", async () => {
  const { dir, remove } = await tempDir();
  try {
    const lock = new StoreLock(`${dir}/s.zarr`, { timeoutMs: 2000 });
    let later!: Promise<string>;
    let releaseOther!: () => void;
    const otherHeld = new Promise<void>((r) => (releaseOther = r));
    await lock.run(() => {
      // Started inside the first hold, runs after it ended: must queue behind the second holder.
      later = new Promise((r) => setTimeout(r, 30)).then(() => lock.run(() => "late"));
    });
    const events: string[] = [];
    const second = lock.run(async () => {
      events.push("second start");
      await otherHeld;
      events.push("second end");
    });
    setTimeout(() => releaseOther(), 80);
    assert.equal(await later, "late");
    events.push("late done");
    await second;
    assert.deepEqual(events, ["second start", "second end", "late done"]);
  } finally {
    await remove();
  }
});
