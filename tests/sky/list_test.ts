/**
 * Where a skycell list comes from (lib/sky/list.ts): names, a CSV, a computed footprint, and the
 * fallback to the CCD's footprint when its mapping CSV is not found; the download and the inventory
 * take the same choices.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { downloadAndStorePs1Data } from "../../download_and_store_zarr.ts";
import { inventory } from "../../zarr_inventory.ts";
import { MappingCsvNotFoundError } from "../../lib/ps1/mapping.ts";
import { skycellsForTessCcd } from "../../lib/sky/footprint.ts";
import { resolveSkycellList, SkycellListError } from "../../lib/sky/list.ts";
import { skycellCentre } from "../../lib/sky/rings.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";

const NOWHERE = { dataRoot: "/nonexistent-data-root", sector: 21, camera: 2, ccd: 1 };

Deno.test("without a mapping CSV and nothing else named, the CCD's computed footprint is used and said so", async () => {
  const list = await resolveSkycellList(NOWHERE);
  const computed = skycellsForTessCcd(21, 2, 1);
  assert.equal(list.source, "footprint");
  assert.deepEqual(list.skycells, computed.skycells);
  assert.equal(list.mainCount, computed.mainCount);
  assert.equal(list.warnings.length, 1);
  assert.match(
    list.warnings[0],
    new RegExp(
      `no mapping CSV found; tried .*; using the computed footprint of TESS sector 21 camera 2 CCD 1: ` +
        `${computed.mainCount} main \\+ ${computed.paddingCount} padding`,
    ),
  );
});

Deno.test("a CSV that was named but is missing is an error, and so is a missing CSV when the fallback is off", async () => {
  await assert.rejects(
    () => resolveSkycellList({ ...NOWHERE, skycellsCsv: "/nonexistent/list.csv" }),
    (err) => err instanceof Error && !(err instanceof SkycellListError),
  );
  await assert.rejects(
    () => resolveSkycellList({ ...NOWHERE, fallbackToFootprint: false }),
    MappingCsvNotFoundError,
  );
});

Deno.test("names, a cone and --footprint win over the CSV, in that order; bad input is one line", async () => {
  const given = await resolveSkycellList({ ...NOWHERE, skycells: ["skycell.2556.081", "skycell.2556.080"] });
  assert.deepEqual(given.skycells, ["skycell.2556.080", "skycell.2556.081"]);
  assert.equal(given.source, "given");
  const { ra, dec } = skycellCentre("skycell.2556.080");
  const cone = await resolveSkycellList({ ...NOWHERE, cone: { ra, dec, radius: 0.01 } });
  assert.equal(cone.source, "footprint");
  assert.ok(cone.main.includes("skycell.2556.080"), cone.main.join(","));
  const ccd = await resolveSkycellList({ ...NOWHERE, footprint: true });
  assert.equal(ccd.warnings.length, 0, "asked for, so no warning");
  await assert.rejects(
    () => resolveSkycellList({ ...NOWHERE, skycells: ["skycell.25x6.080"] }),
    /--skycell #1/,
  );
  await assert.rejects(
    () => resolveSkycellList({ ...NOWHERE, cone: { ra, dec, radius: 45 } }),
    SkycellListError,
  );
  await assert.rejects(
    () => resolveSkycellList({ ...NOWHERE, sector: 9999, footprint: true }),
    SkycellListError,
  );
});

Deno.test("the download's dry run and the inventory's --expected take the computed footprint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sky_list_" });
  try {
    const outputDir = path.join(dir, "data", "ps1_skycells_zarr");
    const { ra, dec } = skycellCentre("skycell.2556.080");
    const cone = { ra, dec, radius: 0.01 };
    const dry = await downloadAndStorePs1Data({
      zarrOutputDir: outputDir,
      cone,
      dryRun: true,
      retries: 0,
      archiveUrl: "http://127.0.0.1:9/x",
    });
    assert.equal(dry.status, "completed", dry.message);
    const expected = await resolveSkycellList({ ...NOWHERE, cone });
    assert.deepEqual(dry.plan?.map((p) => p.skycell), expected.skycells);
    assert.equal(dry.uniqueImages, expected.skycells.length);
    const store = await ZarrStore.open(path.join(outputDir, "ps1_skycells.zarr"), { create: true });
    const inv = await inventory(store, {
      expected: { sector: 21, camera: 2, ccd: 1, footprint: true },
      workers: 1,
    });
    store.close();
    assert.equal(inv.expected?.source, "footprint");
    assert.equal(inv.expected?.total, skycellsForTessCcd(21, 2, 1).skycells.length);
    assert.equal(inv.expected?.absent, inv.expected?.total);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
