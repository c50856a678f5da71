/**
 * A runnable, commented example of the toolkit's programmatic interfaces: the batch workflow over several
 * TESS sector/camera/CCD configurations, then an inventory of the store and extraction back to FITS.
 *
 * ```
 * deno run --allow-read --allow-write --allow-env --allow-net=127.0.0.1 example_usage.ts [DATA_DIR]
 * ```
 *
 * It starts the project's local imitation of the PS1 archive, so it runs without network access; against
 * the real archive, leave out `archiveUrl` (and grant `--allow-net=ps1images.stsci.edu`). The test suite
 * runs it (tests/example_usage_test.ts), so it cannot rot.
 * @module
 */

import * as path from "node:path";
import { startLocalArchive } from "./lib/archive/server.ts";
import { demoConfig, writeDemoArchive } from "./lib/archive/synth.ts";
import { createLogger } from "./lib/cli/log.ts";
import { ZarrStore } from "./lib/zarr/store.ts";
import { downloadAndStorePs1Data, type DownloadResult } from "./download_and_store_zarr.ts";
import { inventory } from "./zarr_inventory.ts";
import { extractArray } from "./zarr_to_fits.ts";

/** Runs the example in `dataDir` (the data root: mapping CSVs, the store, reports); returns true on success. */
export async function runExample(dataDir: string, size = 400): Promise<boolean> {
  // 1. A local archive with the skycells of two neighbouring CCDs (they share skycell.2556.081) and
  //    their mapping CSVs under the data root, where the download looks for them.
  const archiveDir = path.join(dataDir, "ps1_archive");
  await writeDemoArchive(dataDir, { size, archiveDir, reuse: true }); // sector 20, camera 3, CCD 3
  await writeDemoArchive(dataDir, {
    size,
    archiveDir,
    reuse: true,
    ccd: 4,
    rows: [{ name: "skycell.2556.082", padding: { pad_skycell_left: "skycell.2556.081" } }],
  });
  const archive = await startLocalArchive({ root: archiveDir });
  const zarrOutputDir = path.join(dataDir, "ps1_skycells_zarr");
  const log = createLogger("WARNING");

  // 2. The batch workflow: one call per configuration. Each returns a result object; it never throws for
  //    run-time problems and never exits the process.
  const configurations = [
    { sector: demoConfig.sector, camera: demoConfig.camera, ccd: demoConfig.ccd },
    { sector: 20, camera: 3, ccd: 4 },
  ];
  const results: DownloadResult[] = [];
  try {
    for (const config of configurations) {
      const result = await downloadAndStorePs1Data({
        ...config,
        zarrOutputDir,
        archiveUrl: archive.url,
        bands: ["r", "i"], // g, r, i, z, y are available; the default is r, i, z, y
        maxConnections: 4, // be polite: the real archive is shared by everyone
        logger: log,
      });
      results.push(result);
      // status: completed | incomplete (see result.failures) | error (see result.message) | interrupted
      console.log(
        `sector ${config.sector} camera ${config.camera} ccd ${config.ccd}: ${result.status}, ` +
          `${result.producedCount}/${result.expectedCount} skycells complete, ${result.stats.arraysWritten} arrays written`,
      );
      for (const f of result.failures) console.log(`  failed: ${f.skycell} ${f.band} ${f.kind}: ${f.error}`);
    }
  } finally {
    await archive.close();
  }

  // 3. Inventory: per-skycell and per-array records and a summary; nothing is changed.
  const storePath = path.join(zarrOutputDir, "ps1_skycells.zarr");
  const inv = await inventory(storePath, { bands: ["r", "i"] });
  const s = inv.summary.skycells;
  console.log(
    `inventory: ${s.total} skycells = ${s.complete} complete + ${s.incomplete} incomplete + ${s.corrupt} corrupt`,
  );

  // 4. Extraction: one whole array, and a cutout around a pixel box (the WCS is adjusted).
  const store = await ZarrStore.open(storePath);
  try {
    const outDir = path.join(dataDir, "extracted_fits");
    const whole = await extractArray(
      store,
      { skycell: "skycell.2556.081", band: "r", kind: "image" },
      path.join(outDir, "skycell.2556.081_r.fits"),
      { overwrite: true },
    );
    console.log(`extracted ${whole.output} (${whole.width} x ${whole.height})`);
    const cutout = await extractArray(
      store,
      { skycell: "skycell.2556.081", band: "i", kind: "mask" },
      path.join(outDir, "skycell.2556.081_i_mask_cutout.fits"),
      { overwrite: true, region: { pixels: { x0: 100, x1: 200, y0: 50, y1: 150 } } },
    );
    console.log(`extracted ${cutout.output} (${cutout.width} x ${cutout.height} cutout)`);
  } finally {
    store.close();
  }
  return results.every((r) => r.status === "completed") && s.complete === s.total;
}

if (import.meta.main) {
  const dataDir = Deno.args[0] ?? await Deno.makeTempDir({ prefix: "ps1_example_" });
  const ok = await runExample(dataDir);
  console.log(ok ? `ok: everything is under ${dataDir}` : "something failed (see above)");
  Deno.exit(ok ? 0 : 1);
}
