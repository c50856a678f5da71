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
import { within as withinDefault } from "../_deadline.ts";

/** A deadline on a wait (see tests/_deadline.ts), 120_000 ms unless told. */
const within = <T>(p: Promise<T>, what: string, ms = 120_000) => withinDefault(p, what, ms);

Deno.test("two writer processes on one new store both end with valid arrays and intact groups", async () => {
  await withTempDir(async (dir) => {
    const root = path.join(dir, "ps1_skycells.zarr");
    // What the writers report, in the order this process reads it.
    const events: string[] = [];
    const writers = [1, 2].map((seed) => {
      const child = spawnChild(["write-set", root, String(seed), "10"]);
      const lines = new LineReader(child.stdout);
      const finished = (async () => {
        await lines.waitFor((l) => l === "ready");
        events.push(`${seed} ready`);
        await lines.waitFor((l) => l === "done");
        events.push(`${seed} done`);
        await lines.rest();
        return await child.status;
      })();
      return { lines, finished };
    });
    const statuses = await within(Promise.all(writers.map((w) => w.finished)), "the two writers");
    assert.deepEqual(statuses.map((s) => s.code), [0, 0]);
    // Both were ready before either was done: they ran at the same time.
    const at = (e: string) => events.indexOf(e);
    assert.ok(
      at("1 ready") < at("2 done") && at("2 ready") < at("1 done"),
      `the two writers did not run at the same time: ${events.join(", ")}`,
    );
    const committed = writers.flatMap((w) => w.lines.lines.filter((l) => l.startsWith("committed")));
    assert.equal(committed.length, 20);
    const check = await within(verifyStore(root), "store check");
    assert.deepEqual(check.temps, []);
    // Every array name that was committed is there, holding one of the versions written.
    const written = new Set(committed.map((l) => l.split(" ")[1]));
    assert.deepEqual(check.arrays.sort(), [...written].sort());
    assert.ok(check.arrays.every((p) => TEST_GROUPS.some((g) => p.startsWith(g + "/"))));
    assert.ok(check.arrays.every((p) => TEST_ARRAYS.includes(p.split("/").pop()!)));
  });
});
