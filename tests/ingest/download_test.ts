import { strict as assert } from "node:assert";
import * as path from "node:path";
import { encodeHex } from "./_hex.ts";
import { downloadAndStorePs1Data } from "../../download_and_store_zarr.ts";
import { openImage } from "../../lib/fits/image.ts";
import { localPath } from "../../lib/ps1/urls.ts";
import { findSkycell, skycellGroupPath } from "../../lib/store/layout.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { MARKER_KEY } from "../../lib/zarr/verify.ts";
import { groupMetadataJson } from "../../lib/zarr/metadata.ts";
import { hostToken } from "../../lib/zarr/names.ts";
import { ownersDir } from "../../lib/zarr/owner.ts";
import { assertStoreMatchesSource, copyMirror, listTree, makeArchive } from "./_setup.ts";

const FAST = { backoffMs: 5, retries: 3, timeout: 2 };

Deno.test("a full run stores every array of the CCD (padding cells included) bit-exact with the sources", async () => {
  const a = await makeArchive({ size: 1100 });
  try {
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      ...FAST,
    });
    assert.equal(r.status, "completed", r.message);
    // The pipeline's meanings: rows of the CSV, unique skycells (3 main + 3 padding-only), skycells produced.
    assert.equal(r.skycellsFound, 3);
    assert.equal(r.uniqueImages, 6);
    assert.deepEqual(r.producedSkycells, a.skycells);
    assert.equal(r.expectedCount, 6);
    assert.equal(r.producedCount, 6);
    assert.deepEqual(r.artifacts, a.skycells.map((s) => skycellGroupPath(s)));
    assert.equal(r.zarrPath, path.join(a.outputDir, "ps1_skycells.zarr"));
    assert.equal(r.arraysExpected, 72);
    assert.equal(r.arraysPresent, 72);
    assert.equal(r.stats.arraysWritten, 72);
    assert.deepEqual(r.failures, []);
    await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells);
    // Provenance: the marker records the URL, size and digest of the file the pixels came from.
    const store = await ZarrStore.open(a.storePath);
    const info = await store.readArray(`${skycellGroupPath("skycell.2556.080")}/r_wt`);
    const marker = info.attributes[MARKER_KEY] as Record<string, unknown>;
    const source = await Deno.readFile(localPath(a.archiveDir, "skycell.2556.080", "r", "weight"));
    assert.equal(marker.complete, true);
    assert.equal(marker.source_bytes, source.length);
    assert.equal(marker.source_digest, `sha256:${encodeHex(await crypto.subtle.digest("SHA-256", source))}`);
    assert.match(
      String(marker.source),
      /\/2556\/080\/rings\.v3\.skycell\.2556\.080\.stk\.r\.unconv\.wt\.fits$/,
    );
    store.close();

    // A second run fetches nothing.
    const before = a.server.stats().requests;
    const again = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      ...FAST,
    });
    assert.equal(again.status, "completed");
    assert.equal(again.stats.arraysWritten, 0);
    assert.equal(again.stats.arraysSkipped, 72);
    assert.equal(a.server.stats().requests, before);

    // --overwrite fetches everything again and leaves one copy.
    const over = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      skycells: ["skycell.2556.081"],
      overwrite: true,
      ...FAST,
    });
    assert.equal(over.stats.arraysWritten, 12);
    await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells);
  } finally {
    await a.close();
  }
});

Deno.test("resume fetches only the arrays that are missing", async () => {
  const a = await makeArchive();
  try {
    const first = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      bands: ["r"],
      ...FAST,
    });
    assert.equal(first.stats.arraysWritten, 18);
    const store = await ZarrStore.open(a.storePath);
    assert.ok(await store.deleteNode(`${skycellGroupPath("skycell.2557.000")}/r_mask`));
    store.close();
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      ...FAST,
    });
    assert.equal(r.status, "completed", r.message);
    assert.equal(r.stats.arraysSkipped, 17);
    assert.equal(r.stats.arraysWritten, 72 - 17);
    await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells);
  } finally {
    await a.close();
  }
});

Deno.test("a chunk file removed from a completed array is repaired by the next run; the rest is not fetched", async () => {
  const a = await makeArchive();
  try {
    const opts = { zarrOutputDir: a.outputDir, archiveUrl: a.server.url, bands: ["r"], ...FAST };
    const first = await downloadAndStorePs1Data(opts);
    assert.equal(first.status, "completed", first.message);
    const store = await ZarrStore.open(a.storePath);
    const arrayDir = store.fsPath(`${skycellGroupPath("skycell.2557.000")}/r_wt`);
    store.close();
    await Deno.remove(path.join(arrayDir, "c", "0", "0"));
    const requestsBefore = a.server.stats().requests;
    const again = await downloadAndStorePs1Data(opts);
    assert.equal(again.status, "completed", again.message);
    assert.equal(again.stats.arraysWritten, 1, "only the damaged array is fetched again");
    assert.equal(again.stats.arraysSkipped, 17);
    assert.equal(a.server.stats().requests - requestsBefore, 1);
    await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells, ["r"]);
  } finally {
    await a.close();
  }
});

Deno.test("transient faults end in success after retries, never in a stored wrong array", async () => {
  const faults = {
    rules: [
      { match: "*.stk.r.unconv.fits", fault: { kind: "status", status: 503 }, times: 2 },
      { match: "*.stk.r.unconv.mask.fits", fault: { kind: "rateLimit", retryAfterSeconds: 0 }, times: 2 },
      { match: "*.stk.r.unconv.wt.fits", fault: { kind: "reset", fraction: 0.5 }, times: 1 },
      { match: "*.stk.i.unconv.fits", fault: { kind: "truncate", fraction: 0.7 }, times: 1 },
      { match: "*.stk.i.unconv.mask.fits", fault: { kind: "truncate", declareLength: false }, times: 1 },
      { match: "*.stk.i.unconv.wt.fits", fault: { kind: "corrupt", flips: 3 }, times: 1 },
      { match: "2556/080/*.stk.z.unconv.fits", fault: { kind: "stall" }, times: 1 },
      { match: "2556/081/*.stk.z.unconv.fits", fault: { kind: "slow", bytesPerSecond: 400_000 } },
      { match: "*.stk.z.unconv.mask.fits", fault: { kind: "status", status: 500 }, times: 1 },
    ],
  } as const;
  const a = await makeArchive({ faults: structuredClone(faults) as never });
  try {
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      ...FAST,
      timeout: 0.5,
    });
    assert.equal(r.status, "completed", `${r.message}: ${JSON.stringify(r.failures)}`);
    assert.ok(r.stats.retries >= 6 * 5, `retries ${r.stats.retries}`);
    const faultsSeen = a.server.stats().faults;
    for (const kind of ["status", "rateLimit", "reset", "truncate", "corrupt", "stall", "slow"]) {
      assert.ok((faultsSeen[kind] ?? 0) > 0, `fault ${kind} was injected`);
    }
    await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells);
  } finally {
    await a.close();
  }
});

Deno.test("persistent faults are recorded failures; 404 is missing upstream; nothing wrong is stored", async () => {
  const a = await makeArchive({
    faults: {
      rules: [
        { match: "2556/080/*.stk.y.unconv.fits", fault: { kind: "notFound" } },
        { match: "2556/081/*.stk.y.unconv.mask.fits", fault: { kind: "corrupt", flips: 5 } },
        { match: "2556/090/*.stk.y.unconv.wt.fits", fault: { kind: "status", status: 503 } },
      ],
    },
  });
  try {
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      ...FAST,
    });
    assert.equal(r.status, "incomplete", r.message);
    assert.deepEqual(r.missingUpstream.map((m) => `${m.skycell} ${m.band} ${m.kind}`), [
      "skycell.2556.080 y image",
    ]);
    assert.deepEqual(
      r.failures.map((f) => `${f.skycell} ${f.band} ${f.kind}`).sort(),
      ["skycell.2556.081 y mask", "skycell.2556.090 y weight"],
    );
    assert.match(r.failures.find((f) => f.kind === "mask")!.error, /DATASUM|CHECKSUM|decode|Rice|gzip/i);
    assert.match(r.failures.find((f) => f.kind === "weight")!.error, /503/);
    assert.equal(r.arraysPresent, 72 - 3);
    // Produced means every array complete, as the inventory says: neither the 404'd skycell nor the
    // failed ones are.
    assert.equal(r.producedCount, 3);
    for (const s of ["skycell.2556.080", "skycell.2556.081", "skycell.2556.090"]) {
      assert.ok(!r.producedSkycells.includes(s), s);
    }
    const store = await ZarrStore.open(a.storePath);
    for (
      const [skycell, name] of [["skycell.2556.080", "y"], ["skycell.2556.081", "y_mask"], [
        "skycell.2556.090",
        "y_wt",
      ]]
    ) {
      const node = await findSkycell(store, skycell);
      assert.ok(node && !node.arrays.some((x) => x.name === name), `${skycell} ${name} must not be stored`);
      assert.deepEqual(node!.temps, []);
    }
    store.close();
    const others = a.skycells.filter((s) =>
      !["skycell.2556.080", "skycell.2556.081", "skycell.2556.090"].includes(s)
    );
    await assertStoreMatchesSource(a.storePath, a.archiveDir, others);
  } finally {
    await a.close();
  }
});

Deno.test("local files are preferred, and the archive is used when one is missing or unreadable", async () => {
  const a = await makeArchive();
  const mirror = path.join(a.dataDir, "mirror");
  try {
    // A mirror of the archive with one file missing and one truncated.
    await copyMirror(a.archiveDir, mirror);
    await Deno.remove(localPath(mirror, "skycell.2556.090", "i", "image"));
    const bad = localPath(mirror, "skycell.2556.091", "z", "weight");
    const bytes = await Deno.readFile(bad);
    await Deno.writeFile(bad, bytes.subarray(0, bytes.length - 5000));
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      useLocalFiles: true,
      localDataPath: mirror,
      ...FAST,
    });
    assert.equal(r.status, "completed", r.message);
    const fromArchive = r.arrays.filter((x) => x.source?.startsWith("http")).map((x) =>
      `${x.skycell} ${x.band} ${x.kind}`
    );
    assert.deepEqual(fromArchive.sort(), ["skycell.2556.090 i image", "skycell.2556.091 z weight"]);
    assert.equal(a.server.stats().requests, 2);
    await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells);
  } finally {
    await a.close();
  }
});

Deno.test("wrong files in the mirror (another skycell, another band, an image as mask) are refused and fetched from the archive", async () => {
  const a = await makeArchive();
  const mirror = path.join(a.dataDir, "mirror");
  const S = "skycell.2556.080";
  try {
    await copyMirror(a.archiveDir, mirror);
    const other = a.skycells.find((x) => x !== S && x.startsWith("skycell.2556."))!;
    await Deno.copyFile(localPath(a.archiveDir, other, "r", "image"), localPath(mirror, S, "r", "image"));
    await Deno.copyFile(localPath(a.archiveDir, S, "i", "weight"), localPath(mirror, S, "r", "weight"));
    await Deno.copyFile(localPath(a.archiveDir, S, "r", "image"), localPath(mirror, S, "r", "mask"));
    const opts = {
      zarrOutputDir: a.outputDir,
      useLocalFiles: true,
      localDataPath: mirror,
      skycells: [S],
      bands: ["r"],
      ...FAST,
    };
    // With the archive out of reach, the three wrong files are failures with a reason, never stored.
    const offline = await downloadAndStorePs1Data({
      ...opts,
      archiveUrl: "http://127.0.0.1:9/rings.v3.skycell",
    });
    assert.equal(offline.failures.length, 3, offline.message);
    assert.equal(offline.status, "incomplete");
    const store = await ZarrStore.open(a.storePath);
    const node = await findSkycell(store, S);
    store.close();
    assert.deepEqual(node?.arrays.map((x) => x.name) ?? [], []);
    // With the archive, the right files come from it.
    const r = await downloadAndStorePs1Data({ ...opts, archiveUrl: a.server.url });
    assert.equal(r.status, "completed", r.message);
    const fromArchive = r.arrays.filter((x) => x.source?.startsWith("http")).map((x) => x.kind).sort();
    assert.deepEqual(fromArchive, ["image", "mask", "weight"]);
    await assertStoreMatchesSource(a.storePath, a.archiveDir, [S], ["r"]);
  } finally {
    await a.close();
  }
});

Deno.test("bad CSVs, bad names and bad options give an error and write nothing", async () => {
  const a = await makeArchive();
  try {
    const csv = await Deno.readTextFile(a.csvPath);
    const cases: [string, Parameters<typeof downloadAndStorePs1Data>[0], RegExp][] = [
      ["bad name in CSV", {
        skycellsCsv: await writeCsv(a.dataDir, csv.replace("skycell.2556.081", "skycell.2556.81")),
      }, /row 1 \(line 2\).*invalid skycell name "skycell\.2556\.81"/],
      ["path in padding", {
        skycellsCsv: await writeCsv(a.dataDir, csv.replace("skycell.2556.090", "../../etc")),
      }, /invalid skycell name/],
      [
        "no NAME column",
        { skycellsCsv: await writeCsv(a.dataDir, csv.replace("NAME", "NOM")) },
        /no NAME column/,
      ],
      ["missing CSV named", { skycellsCsv: "/nonexistent/tess_list.csv" }, /nonexistent\/tess_list\.csv/],
      ["unknown sector for the footprint", { sector: 9999 }, /sector 9999/],
      ["bad --skycell", { skycells: ["skycell.2556.080", "skycell.2556.080/../x"] }, /--skycell #2/],
      ["bad band", { bands: ["r", "u"] }, /unknown PS1 band "u"/],
      ["bad shard", { shard: "3/3" }, /--shard/],
      ["bad URL", { archiveUrl: "ftp://x" }, /http or https/],
    ];
    for (const [what, opts, pattern] of cases) {
      const r = await downloadAndStorePs1Data({
        zarrOutputDir: a.outputDir,
        archiveUrl: a.server.url,
        ...FAST,
        ...opts,
      });
      assert.equal(r.status, "error", what);
      assert.match(r.message, pattern, what);
      assert.ok(!r.message.includes("\n"), `${what}: one line`);
      assert.deepEqual(await listTree(a.outputDir), [], `${what}: nothing written`);
    }
    assert.equal(a.server.stats().requests, 0);
  } finally {
    await a.close();
  }
});

async function writeCsv(dir: string, text: string): Promise<string> {
  const file = await Deno.makeTempFile({ dir, suffix: ".csv" });
  await Deno.writeTextFile(file, text);
  return file;
}

Deno.test("a dry run lists the plan with expected bytes and changes nothing", async () => {
  const a = await makeArchive();
  try {
    await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      skycells: ["skycell.2556.080"],
      bands: ["r"],
      ...FAST,
    });
    const before = await listTree(a.outputDir);
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      dryRun: true,
      ...FAST,
    });
    assert.equal(r.status, "completed");
    assert.equal(r.plan!.length, 6);
    const first = r.plan!.find((p) => p.skycell === "skycell.2556.080")!;
    assert.deepEqual(first.complete, ["r", "r_mask", "r_wt"]);
    assert.equal(first.fetch.length, 9);
    let bytes = 0;
    for (const band of ["i", "z", "y"]) {
      for (const kind of ["image", "mask", "weight"] as const) {
        bytes += (await Deno.stat(localPath(a.archiveDir, "skycell.2556.080", band, kind))).size;
      }
    }
    assert.equal(first.bytesExpected, bytes);
    assert.deepEqual(await listTree(a.outputDir), before);
    assert.equal(r.stats.arraysWritten, 0);
  } finally {
    await a.close();
  }
});

Deno.test("shards K/N are disjoint and cover the list exactly once", async () => {
  const a = await makeArchive();
  try {
    const seen: string[] = [];
    for (const shard of ["0/3", "1/3", "2/3"]) {
      const r = await downloadAndStorePs1Data({
        zarrOutputDir: a.outputDir,
        archiveUrl: a.server.url,
        bands: ["r"],
        shard,
        ...FAST,
      });
      assert.equal(r.status, "completed", r.message);
      assert.equal(r.skycellsFound, 3, "rows of the whole CSV");
      assert.equal(r.uniqueImages, 2, "this shard's skycells");
      seen.push(...r.arrays.filter((x) => x.action === "written").map((x) => x.skycell));
    }
    assert.deepEqual([...new Set(seen)].sort(), a.skycells);
    assert.equal(seen.length, a.skycells.length * 3);
  } finally {
    await a.close();
  }
});

Deno.test("an aborted run returns interrupted and leaves no array under a real name that is not complete", async () => {
  const a = await makeArchive({
    faults: { rules: [{ match: "**", fault: { kind: "slow", bytesPerSecond: 300_000 } }] },
  });
  try {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 600);
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      signal: controller.signal,
      ...FAST,
    });
    clearTimeout(timer);
    assert.equal(r.status, "interrupted");
    assert.ok(r.arraysPresent < 72);
    const store = await ZarrStore.open(a.storePath);
    for (const skycell of a.skycells) {
      const node = await findSkycell(store, skycell);
      assert.deepEqual(node?.temps ?? [], [], `${skycell}: temp arrays removed`);
    }
    store.close();
    // Whatever was stored is right, and a rerun completes the rest.
    a.server.setFaults(undefined);
    const rest = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      ...FAST,
    });
    assert.equal(rest.status, "completed");
    assert.equal(rest.stats.arraysSkipped, r.arraysPresent);
    await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells);
  } finally {
    await a.close();
  }
});

Deno.test("a dead archive ends the run with a clear message after the retry budget", async () => {
  const a = await makeArchive();
  const url = a.server.url;
  await a.server.close();
  try {
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: url,
      maxConnections: 2,
      backoffMs: 5,
      retries: 2,
      timeout: 1,
    });
    assert.equal(r.status, "error", r.message);
    assert.match(r.message, /unreachable or refusing/);
    assert.ok(r.failures.length >= 8 && r.failures.length < 72, `${r.failures.length} failures`);
    // Bounded by count, not by time: it stopped well short of trying every array (72 x 3 attempts).
    assert.ok(r.stats.requests < 72, `${r.stats.requests} requests`);
  } finally {
    await Deno.remove(a.dataDir, { recursive: true });
  }
});

Deno.test("group temps left above skycell level by a process that died are cleared by the next run", async () => {
  const a = await makeArchive();
  try {
    const first = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      skycells: ["skycell.2556.080"],
      bands: ["r"],
      ...FAST,
    });
    assert.equal(first.status, "completed");
    // A dead process (its owner file exists and is not locked) was creating a projection group and a
    // skycell group under temp names when it was killed.
    const pid = 999_999_3;
    await Deno.writeTextFile(path.join(ownersDir(a.storePath), `${hostToken()}-${pid}`), "");
    const leftovers = [
      `2557_temp_${hostToken()}-${pid}-0a1b2c`,
      `2556/skycell.2556.081_temp_${hostToken()}-${pid}-3d4e5f`,
    ];
    for (const p of leftovers) {
      await Deno.mkdir(path.join(a.storePath, p), { recursive: true });
      await Deno.writeTextFile(path.join(a.storePath, p, "zarr.json"), groupMetadataJson());
    }
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      bands: ["r"],
      ...FAST,
    });
    assert.equal(r.status, "completed", r.message);
    for (const p of leftovers) {
      assert.equal(await Deno.stat(path.join(a.storePath, p)).then(() => true, () => false), false, p);
    }
    await assertStoreMatchesSource(a.storePath, a.archiveDir, a.skycells, ["r"]);
  } finally {
    await a.close();
  }
});

Deno.test("offline node: with the archive unreachable, every local file is still ingested and the rest listed with why", async () => {
  const a = await makeArchive();
  const mirror = path.join(a.dataDir, "mirror");
  try {
    await copyMirror(a.archiveDir, mirror);
    // Two skycells missing from the mirror: 24 files, more than the run's limit of failures in a row (8
    // with 2 connections), and they come first in the run's order.
    const gone: string[] = [];
    for (const s of a.skycells.slice(0, 2)) {
      for (const band of ["r", "i", "z", "y"]) {
        for (const kind of ["image", "mask", "weight"] as const) {
          await Deno.remove(localPath(mirror, s, band, kind));
          gone.push(`${s} ${band} ${kind}`);
        }
      }
    }
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: "http://127.0.0.1:9/rings.v3.skycell",
      useLocalFiles: true,
      localDataPath: mirror,
      numWorkers: 1,
      maxConnections: 2,
      ...FAST,
    });
    assert.equal(r.status, "incomplete", r.message);
    assert.equal(r.arraysPresent, 72 - 24, "every local file was ingested");
    assert.deepEqual(r.failures.map((f) => `${f.skycell} ${f.band} ${f.kind}`).sort(), gone.sort());
    const givenUp = r.failures.filter((f) => /not asked again/.test(f.error)).length;
    assert.ok(givenUp >= 24 - 8 - 4, `the archive was given up on: ${givenUp} of 24 not asked`);
  } finally {
    await a.close();
  }
});

Deno.test("arrays another process removes before the end make the run incomplete, whatever was written", async () => {
  const a = await makeArchive();
  try {
    let removed = false;
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      bands: ["r"],
      numWorkers: 1,
      ...FAST,
      // When the last skycell is done, a cleanup elsewhere removes a finished array.
      onProgress: (p) => {
        if (!removed && p.skycellsDone === p.skycellsTotal) {
          removed = true;
          Deno.removeSync(path.join(a.storePath, skycellGroupPath(a.skycells[0]), "r"), { recursive: true });
        }
      },
    });
    assert.ok(removed);
    assert.equal(r.stats.arraysWritten, 18);
    assert.equal(r.status, "incomplete", r.message);
    assert.equal(r.arraysPresent, 17);
    assert.match(r.message, /not complete at the end/);
    assert.ok(!r.producedSkycells.includes(a.skycells[0]));
  } finally {
    await a.close();
  }
});

Deno.test("obstacles in the output folder end in an error result with one line, never an exception", async () => {
  for (const obstacle of [".download_spool", "ps1_skycells.zarr.owners"]) {
    const a = await makeArchive();
    try {
      await Deno.mkdir(a.outputDir, { recursive: true });
      await Deno.writeTextFile(path.join(a.outputDir, obstacle), "a file where a folder should be");
      const r = await downloadAndStorePs1Data({
        zarrOutputDir: a.outputDir,
        archiveUrl: a.server.url,
        ...FAST,
      });
      assert.equal(r.status, "error", `${obstacle}: ${r.message}`);
      assert.equal(r.message.split("\n").length, 1);
    } finally {
      await a.close();
    }
  }
  // A skycell group path that is a file: that skycell's arrays fail, or the run stops, in one line.
  const a = await makeArchive();
  try {
    await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      bands: ["r"],
      ...FAST,
    });
    const group = path.join(a.storePath, skycellGroupPath(a.skycells[0]));
    await Deno.remove(group, { recursive: true });
    await Deno.writeTextFile(group, "not a group");
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      bands: ["r"],
      ...FAST,
    });
    assert.notEqual(r.status, "completed", r.message);
    assert.equal(r.message.split("\n").length, 1);
  } finally {
    await a.close();
  }
});

Deno.test("an array another writer completes while the download fetches it is kept, not replaced", async () => {
  const S = "skycell.2556.080";
  // The r image comes slowly, so the other writer finishes first (a wide margin: 2 s against a few ms).
  const a = await makeArchive({
    faults: {
      rules: [{ match: "2556/080/*.stk.r.unconv.fits", fault: { kind: "slow", bytesPerSecond: 60_000 } }],
    },
  });
  try {
    const source = localPath(a.archiveDir, S, "r", "image");
    const image = openImage(await Deno.readFile(source));
    let other: Promise<void> | undefined;
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: a.outputDir,
      archiveUrl: a.server.url,
      skycells: [S],
      bands: ["r"],
      ...FAST,
      onProgress: () => {
        other ??= (async () => {
          // Another writer (its own store handle, as another process has) completes r.
          const store = await ZarrStore.open(a.storePath);
          const shape: [number, number] = [image.height, image.width];
          const build = await store.beginArray(skycellGroupPath(S), "r", {
            shape,
            dtype: "float32",
            chunks: [Math.min(1024, shape[0]), Math.min(1024, shape[1])],
          });
          for (let row = 0; row < build.chunkRows; row++) {
            const [y0, y1] = build.rowsOf(row);
            const band = build.takeBand(row) as Float32Array<ArrayBuffer>;
            image.readRows(y0, y1, "float32", band);
            build.writeChunkRow(row, band);
          }
          await build.commit({ header: image.storeHeader("float32") }, { source: "the other writer" });
          store.close();
        })();
      },
    });
    await other;
    assert.equal(r.status, "completed", r.message);
    const outcome = r.arrays.find((x) => x.kind === "image")!;
    assert.equal(outcome.action, "kept");
    const store = await ZarrStore.open(a.storePath);
    const info = await store.readArray(`${skycellGroupPath(S)}/r`);
    store.close();
    assert.equal((info.attributes[MARKER_KEY] as { source: string }).source, "the other writer");
  } finally {
    await a.close();
  }
});

Deno.test("a dry run against an unreachable archive stops asking for sizes once the archive looks down", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dry_dead_" });
  try {
    // No mapping CSV: the CCD's computed footprint, about 1150 skycells x 12 files.
    const r = await downloadAndStorePs1Data({
      zarrOutputDir: path.join(dir, "data", "ps1_skycells_zarr"),
      sector: 21,
      camera: 2,
      ccd: 1,
      dryRun: true,
      archiveUrl: "http://127.0.0.1:9/rings.v3.skycell",
      backoffMs: 5,
    });
    assert.equal(r.status, "completed", r.message);
    assert.ok(r.uniqueImages > 1000, `${r.uniqueImages} skycells`);
    assert.ok(r.plan!.every((p) => p.bytesExpected === null));
    assert.ok(r.stats.requests < 100, `${r.stats.requests} HEAD requests for ${r.uniqueImages * 12} files`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
