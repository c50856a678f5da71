import { strict as assert } from "node:assert";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { seededRandom } from "../../lib/archive/faults.ts";
import { downloadAndStorePs1Data } from "../../download_and_store_zarr.ts";
import { localPath } from "../../lib/ps1/urls.ts";
import { ARRAY_KINDS, DEFAULT_BANDS, listStore } from "../../lib/store/layout.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { assertStoreMatchesSource, makeArchive, type TestArchive } from "./_setup.ts";

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../download_and_store_zarr.ts");

/** How long any one run, child or in-process, may take before the test gives up on it. */
const DEADLINE_MS = 120_000;

function cli(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-net=127.0.0.1", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** `promise`, or a failure naming `what` when it has not settled within the deadline (`onLate` runs first). */
async function beforeDeadline<T>(promise: Promise<T>, what: string, onLate?: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate?.();
      reject(new Error(`${what}: not done within ${DEADLINE_MS} ms`));
    }, DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The child's output; a child still running at the deadline is killed and the test fails. */
function outputOf(child: Deno.ChildProcess, what: string): Promise<Deno.CommandOutput> {
  return beforeDeadline(child.output(), what, () => child.kill("SIGKILL"));
}

/** Polls `condition` every 10 ms; fails with `what()` when `stop()` says so or the deadline passes. */
async function until(condition: () => boolean, stop: () => string | null, what: () => string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    const reason = stop();
    if (reason !== null) assert.fail(`${what()}: ${reason}`);
    if (Date.now() > deadline) assert.fail(`${what()}: not reached within ${DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Bytes of every archive file of `a`'s skycells: what one complete download receives. */
async function archiveBytes(a: TestArchive): Promise<number> {
  let total = 0;
  for (const skycell of a.skycells) {
    for (const band of DEFAULT_BANDS) {
      for (const kind of ARRAY_KINDS) {
        total += (await Deno.stat(localPath(a.archiveDir, skycell, band, kind))).size;
      }
    }
  }
  return total;
}

Deno.test("a download killed with SIGKILL at random moments, then resumed, ends complete and clean (10 seeds)", async () => {
  // Slow bodies keep many downloads in flight while others decode and commit, so a kill lands in all three.
  const a = await makeArchive({
    faults: { rules: [{ match: "**", fault: { kind: "slow", bytesPerSecond: 250_000 } }] },
  });
  try {
    const args = ["--zarr-output-dir", a.outputDir, "--archive-url", a.server.url, "--log-level", "ERROR"];
    // One uninterrupted run receives every archive byte exactly once: that count is what the kills are
    // spread over (no clock involved).
    const full = await outputOf(cli(args), "the uninterrupted run");
    assert.equal(full.code, 0, new TextDecoder().decode(full.stderr));
    const total = await archiveBytes(a);
    assert.equal(a.server.stats().bytesSent, total, "the uninterrupted run received each archive byte once");
    const random = seededRandom(42);
    for (let trial = 0; trial < 10; trial++) {
      await Deno.remove(a.outputDir, { recursive: true }).catch(() => {});
      // Responses to the previous trial's killed child end once the server sees its sockets close.
      await until(
        () => a.server.stats().inFlight === 0,
        () => null,
        () => `trial ${trial}: ${a.server.stats().inFlight} responses of the last trial still open`,
      );
      const base = a.server.stats().bytesSent;
      // Kill once the server has sent 10-90% of the bytes a complete run needs. The check and the kill
      // run in one synchronous step of this process, which is also the server's: no byte is sent between
      // them, so the child is killed before it can have received its files, let alone finished.
      const killAt = Math.floor((0.1 + 0.8 * random()) * total);
      const child = cli(args);
      let exited: Deno.CommandStatus | null = null;
      const status = child.status.then((s) => (exited = s));
      await until(
        () => a.server.stats().bytesSent - base >= killAt,
        () => exited ? `the child exited (${exited.signal ?? exited.code}) before it was killed` : null,
        () =>
          `trial ${trial}: kill after ${killAt} of ${total} bytes (${
            a.server.stats().bytesSent - base
          } sent)`,
      );
      const sentAtKill = a.server.stats().bytesSent - base;
      child.kill("SIGKILL");
      assert.ok(sentAtKill < total, `trial ${trial}: killed after ${sentAtKill} of ${total} bytes`);
      const end = await beforeDeadline(status, `trial ${trial}: the killed child`);
      assert.equal(end.signal, "SIGKILL", `trial ${trial}: the child ended by the kill, not on its own`);
      await child.stdout.cancel();
      await child.stderr.cancel();
      const r = await beforeDeadline(
        downloadAndStorePs1Data({
          zarrOutputDir: a.outputDir,
          archiveUrl: a.server.url,
          retries: 2,
          backoffMs: 5,
        }),
        `trial ${trial}: the resumed run`,
      );
      assert.equal(r.status, "completed", `trial ${trial} (killed after ${sentAtKill} bytes): ${r.message}`);
      try {
        await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells);
      } catch (err) {
        throw new Error(
          `trial ${trial}: killed process ${child.pid} after ${sentAtKill} of ${total} bytes, this process ${Deno.pid}`,
          { cause: err },
        );
      }
      const spool = path.join(a.outputDir, ".download_spool");
      const left = [...Deno.readDirSync(spool)].map((e) => e.name);
      assert.deepEqual(left, [], `trial ${trial}: spool folders of the killed run removed`);
    }
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
    const outputs = await Promise.all(children.map((c, i) => outputOf(c, `process ${i}`)));
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
