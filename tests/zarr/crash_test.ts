/**
 * Writes killed by SIGKILL at seeded random moments: a child process writes and replaces arrays in a loop
 * (worker pool and main thread) and is killed; afterwards every array under a real name is complete and
 * reads back exactly, every group has its metadata, and anything else is a `_temp_` leftover.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { LineReader, rng, spawnChild, withTempDir } from "./_helpers.ts";
import { verifyStore } from "./_verify.ts";

const TRIALS = 10;

Deno.test("a writer killed with SIGKILL at random moments leaves only complete arrays and temp leftovers", async () => {
  await withTempDir(async (dir) => {
    const root = path.join(dir, "ps1_skycells.zarr");
    const next = rng(20240607);
    let commits = 0;
    let leftovers = 0;
    const report: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const child = spawnChild(["write-loop", root, String(trial + 1)]);
      const lines = new LineReader(child.stdout);
      await lines.waitFor((l) => l === "ready");
      const delay = Math.round(30 + next() * 900);
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill("SIGKILL");
      const status = await child.status;
      const committed = (await lines.rest()).concat(lines.lines).filter((l) =>
        l.startsWith("committed")
      ).length;
      assert.equal(status.signal, "SIGKILL", `trial ${trial}: the writer was still running when killed`);
      const check = await verifyStore(root);
      commits += committed;
      leftovers = check.temps.length;
      report.push(
        `trial ${trial}: killed after ${delay} ms, ${committed} commits, ${check.arrays.length} arrays, ${check.temps.length} temp leftovers`,
      );
    }
    console.log(report.join("\n"));
    assert.ok(commits > 0, "no trial got as far as a commit: the kills tested nothing");
    assert.ok(leftovers > 0, "no kill landed in the middle of a write");
  });
});
