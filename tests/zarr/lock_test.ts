/**
 * The store lock: it keeps a second process out while held (and the other way round), its timeout fails
 * with a message naming the lock file, and holders within one process queue in order.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { StoreError } from "../../lib/zarr/errors.ts";
import { lockPathOf, StoreLock } from "../../lib/zarr/lock.ts";
import { LineReader, spawnChild, withTempDir } from "./_helpers.ts";
import { within as withinDefault } from "../_deadline.ts";

/** A deadline on a wait (see tests/_deadline.ts), 30_000 ms unless told. */
const within = <T>(p: Promise<T>, what: string, ms = 30_000) => withinDefault(p, what, ms);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("the lock file is a sibling of the store named {store}.lock", () => {
  assert.equal(lockPathOf("/data/out/ps1_skycells.zarr/"), "/data/out/ps1_skycells.zarr.lock");
  assert.equal(new StoreLock("/data/out/ps1_skycells.zarr").path, "/data/out/ps1_skycells.zarr.lock");
});

Deno.test("a lock held here makes another process time out, and it gets the lock once released", async () => {
  await withTempDir(async (dir) => {
    const store = path.join(dir, "s.zarr");
    const lock = new StoreLock(store);
    // Events in the order this process sees them.
    const events: string[] = [];
    const outputs = await lock.run(async () => {
      // The patient child starts first; we hold the lock until the impatient one has given up.
      const waiting = spawnChild(["try-lock", store, "20000"]);
      const waitingLines = new LineReader(waiting.stdout);
      const acquired = waitingLines.waitFor((l) => l.startsWith("acquired")).then((l) => {
        events.push("patient child acquired");
        return l;
      });
      const timedOut = spawnChild(["try-lock", store, "300"]);
      const timedOutLines = await within(new LineReader(timedOut.stdout).rest(), "impatient child");
      events.push("impatient child timed out");
      assert.equal((await within(timedOut.status, "impatient child exit")).code, 0);
      events.push("parent releases");
      return { timedOutLines, waiting, waitingLines, acquired };
    });
    assert.deepEqual(outputs.timedOutLines, [
      `timeout ${store}.lock: store lock still held by another process after 300 ms`,
    ]);
    await within(outputs.acquired, "patient child");
    await within(outputs.waitingLines.rest(), "patient child output");
    assert.equal((await within(outputs.waiting.status, "patient child exit")).code, 0);
    // Neither child got the lock while we held it; the patient one got it after we let go.
    assert.deepEqual(events, ["impatient child timed out", "parent releases", "patient child acquired"]);
  });
});

Deno.test("a lock held by another process blocks us until it releases, and our timeout names the lock file", async () => {
  await withTempDir(async (dir) => {
    const store = path.join(dir, "s.zarr");
    const child = spawnChild(["hold-lock", store, "1500"]);
    const lines = new LineReader(child.stdout);
    await within(lines.waitFor((l) => l === "locked"), "child locking");
    const events: string[] = [];
    // The child prints "released" just before it lets go of the lock.
    const released = lines.waitFor((l) => l === "released").then(() => void events.push("child released"));
    const impatient = new StoreLock(store, { timeoutMs: 200 });
    await assert.rejects(
      () => impatient.run(() => assert.fail("ran without the lock")),
      (err) =>
        err instanceof StoreError &&
        err.message === `${store}.lock: store lock still held by another process after 200 ms`,
    );
    const waits: string[] = [];
    const patient = new StoreLock(store, { onWait: (p) => waits.push(p), pollMs: 20 });
    await within(patient.run(() => void events.push("we got the lock")), "patient lock");
    await within(released, "child release");
    assert.deepEqual(events, ["child released", "we got the lock"]);
    assert.deepEqual(waits, [`${store}.lock`]);
    await within(lines.rest(), "child output");
    assert.equal((await within(child.status, "child exit")).code, 0);
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
    const results = await within(
      Promise.allSettled([
        hold(a, "first", 60),
        hold(b, "second", 10, true),
        hold(a, "third", 30),
        hold(b, "fourth", 0),
      ]),
      "queued holders",
    );
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
    await assert.rejects(
      () =>
        within(
          new StoreLock(store, { timeoutMs: 100, onWait: (p) => waits.push(p) }).run(() =>
            order.push("short")
          ),
          "short holder",
        ),
      /s\.zarr\.lock: store lock still held in this process after 100 ms/,
    );
    // It gave up while the long holder still held the lock, not after.
    order.push("short timed out");
    assert.deepEqual(waits, [`${store}.lock`]);
    // The queue still works after the timed-out holder left it.
    const after = new StoreLock(store).run(() => order.push("after"));
    await within(Promise.all([long, after]), "long and after");
    assert.deepEqual(order, ["short timed out", "long", "after"]);
  });
});

Deno.test("the lock can be taken again inside its own run without waiting for itself", async () => {
  await withTempDir(async (dir) => {
    const lock = new StoreLock(path.join(dir, "s.zarr"), { timeoutMs: 1000 });
    const inner = await within(
      lock.run(() => new StoreLock(path.join(dir, "s.zarr"), { timeoutMs: 1000 }).run(() => 7)),
      "nested lock",
    );
    assert.equal(inner, 7);
  });
});
