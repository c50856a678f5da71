/**
 * Two writer processes on one store at the same time, creating the store, sharing skycell groups and
 * replacing each other's arrays: both finish, every array is complete and exact, groups are intact and no
 * temp node is left.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { LineReader, spawnChild, withTempDir } from "./_helpers.ts";
import { verifyStore } from "./_verify.ts";
import { TEST_ARRAYS, TEST_GROUPS } from "./_child.ts";

Deno.test("two writer processes on one new store both end with valid arrays and intact groups", async () => {
  await withTempDir(async (dir) => {
    const root = path.join(dir, "ps1_skycells.zarr");
    const start = performance.now();
    const writers = [1, 2].map((seed) => {
      const child = spawnChild(["write-set", root, String(seed), "10"]);
      const lines = new LineReader(child.stdout);
      const times: Record<string, number> = {};
      const finished = (async () => {
        await lines.waitFor((l) => l === "ready");
        times.ready = performance.now() - start;
        await lines.waitFor((l) => l === "done");
        times.done = performance.now() - start;
        await lines.rest();
        return await child.status;
      })();
      return { lines, times, finished };
    });
    const statuses = await Promise.all(writers.map((w) => w.finished));
    assert.deepEqual(statuses.map((s) => s.code), [0, 0]);
    const [a, b] = writers.map((w) => w.times);
    console.log(
      `writer 1 ${a.ready.toFixed(0)}-${a.done.toFixed(0)} ms, writer 2 ${b.ready.toFixed(0)}-${
        b.done.toFixed(0)
      } ms`,
    );
    assert.ok(a.ready < b.done && b.ready < a.done, "the two writers did not run at the same time");
    const committed = writers.flatMap((w) => w.lines.lines.filter((l) => l.startsWith("committed")));
    assert.equal(committed.length, 20);
    const check = await verifyStore(root);
    assert.deepEqual(check.temps, []);
    // Every array name that was committed is there, holding one of the versions written.
    const written = new Set(committed.map((l) => l.split(" ")[1]));
    assert.deepEqual(check.arrays.sort(), [...written].sort());
    assert.ok(check.arrays.every((p) => TEST_GROUPS.some((g) => p.startsWith(g + "/"))));
    assert.ok(check.arrays.every((p) => TEST_ARRAYS.includes(p.split("/").pop()!)));
  });
});
