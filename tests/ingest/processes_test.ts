import { strict as assert } from "node:assert";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../../lib/archive/faults.ts";
import { downloadAndStorePs1Data } from "../../download_and_store_zarr.ts";
import { listStore } from "../../lib/store/layout.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { assertStoreMatchesSource, makeArchive } from "./_setup.ts";

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../download_and_store_zarr.ts");

function cli(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-net=127.0.0.1", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("a download killed with SIGKILL at random moments, then resumed, ends complete and clean (10 seeds)", async () => {
  // Slow bodies spread the run over a few seconds, so kills land in downloads, decodes and commits.
  const a = await makeArchive({
    faults: { rules: [{ match: "**", fault: { kind: "slow", bytesPerSecond: 250_000 } }] },
  });
  try {
    const args = ["--zarr-output-dir", a.outputDir, "--archive-url", a.server.url, "--log-level", "ERROR"];
    // One uninterrupted run gives the duration the kills are spread over.
    const t0 = performance.now();
    const full = await cli(args).output();
    const duration = performance.now() - t0;
    assert.equal(full.code, 0, new TextDecoder().decode(full.stderr));
    const random = seededRandom(42);
    let killed = 0;
    for (let trial = 0; trial < 10; trial++) {
      await Deno.remove(a.outputDir, { recursive: true }).catch(() => {});
      const delay = Math.floor((0.1 + 0.8 * random()) * duration);
      const child = cli([
        "--zarr-output-dir",
        a.outputDir,
        "--archive-url",
        a.server.url,
        "--log-level",
        "ERROR",
      ]);
      const timer = setTimeout(() => child.kill("SIGKILL"), delay);
      const status = await child.status;
      clearTimeout(timer);
      if (status.signal === "SIGKILL") killed++;
      await child.stdout.cancel();
      await child.stderr.cancel();
      const r = await downloadAndStorePs1Data({
        zarrOutputDir: a.outputDir,
        archiveUrl: a.server.url,
        retries: 2,
        backoffMs: 5,
      });
      assert.equal(
        r.status,
        "completed",
        `trial ${trial} (kill at ${delay} ms, ${status.signal ?? status.code}): ${r.message}`,
      );
      try {
        await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells);
      } catch (err) {
        throw new Error(
          `trial ${trial}: killed process ${child.pid} at ${delay} ms, this process ${Deno.pid}`,
          {
            cause: err,
          },
        );
      }
      const spool = path.join(a.outputDir, ".download_spool");
      const left = [...Deno.readDirSync(spool)].map((e) => e.name);
      assert.deepEqual(left, [], `trial ${trial}: spool folders of the killed run removed`);
    }
    assert.ok(
      killed >= 9,
      `only ${killed} of 10 runs were killed before they finished (${duration} ms runs)`,
    );
  } finally {
    await a.close();
  }
});

Deno.test("two processes on overlapping skycell lists end with one correct copy of each array", async () => {
  const a = await makeArchive();
  try {
    const lists = [
      ["skycell.2556.080", "skycell.2556.081", "skycell.2556.090"],
      ["skycell.2556.081", "skycell.2556.090", "skycell.2556.091"],
    ];
    const children = lists.map((list) =>
      cli([
        "--zarr-output-dir",
        a.outputDir,
        "--archive-url",
        a.server.url,
        "--json",
        ...list.flatMap((s) => ["--skycell", s]),
      ])
    );
    const outputs = await Promise.all(children.map((c) => c.output()));
    const results = outputs.map((o) => JSON.parse(new TextDecoder().decode(o.stdout)));
    for (const o of outputs) assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    for (const r of results) assert.equal(r.status, "completed", r.message);
    const union = [...new Set(lists.flat())].sort();
    await assertStoreMatchesSource(a.storePath, a.archiveDir, union);
    const store = await ZarrStore.open(a.storePath);
    const listing = await listStore(store);
    store.close();
    assert.deepEqual(listing.skycells.map((s) => s.name), union);
    for (const s of listing.skycells) {
      assert.equal(s.arrays.length, 12, s.name);
      assert.deepEqual(s.unexpected, []);
    }
  } finally {
    await a.close();
  }
});
