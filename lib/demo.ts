/**
 * `deno task demo`: the toolkit's main job on a built-in default, with no network beyond loopback.
 *
 * 1. writes a local imitation of the PS1 archive under `data/ps1_archive` (the six skycells a demo TESS
 *    CCD, sector 20 camera 3 CCD 3, needs, with padding cells; scaled down to `--size` pixels a side) and
 *    its mapping CSV under `data/`, once (kept for later runs);
 * 2. serves it on 127.0.0.1 and runs `download_and_store_zarr.ts` against it into
 *    `data/ps1_skycells_zarr/ps1_skycells.zarr`;
 * 3. runs `zarr_inventory.ts --html` on the store (CSV reports and the HTML page in `data/zarr_inventory`);
 * 4. extracts one skycell to FITS with `zarr_to_fits.ts` (into `extracted_fits/`) and one cutout;
 * 5. stops the server and says where everything is.
 *
 * Run again: the download finds every array complete and fetches nothing.
 * `--size 6300` makes full-size skycells (several GB, a few minutes).
 * @module
 */

import * as path from "node:path";
import { parseArgs } from "node:util";
import { startLocalArchive } from "./archive/server.ts";
import { writeDemoArchive } from "./archive/synth.ts";
import { main as download } from "../download_and_store_zarr.ts";
import { main as inventory } from "../zarr_inventory.ts";
import { main as extract } from "../zarr_to_fits.ts";

const DATA = "data";
const OUT = "extracted_fits";

function step(text: string): void {
  console.log(`\n== ${text}`);
}

/** Runs the demo; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { size: { type: "string", default: "2500" } } });
  const size = Number(values.size);
  if (!Number.isInteger(size) || size < 64 || size > 6500) {
    console.error(`demo: --size must be an integer from 64 to 6500, got ${JSON.stringify(values.size)}`);
    return 2;
  }
  const t0 = performance.now();
  step(`local PS1 archive: ${size} x ${size - Math.round(size / 400)}-pixel skycells in ${DATA}/ps1_archive`);
  let last = 0;
  const demo = await writeDemoArchive(DATA, {
    size,
    reuse: true,
    onProgress: (done, total) => {
      if (done === total || performance.now() - last > 2000) {
        last = performance.now();
        console.log(`  ${done}/${total} skycell bands ready`);
      }
    },
  });
  console.log(`  ${demo.files} files, ${(demo.bytes / 1e6).toFixed(0)} MB; mapping CSV ${demo.csvPath}`);
  const archive = await startLocalArchive({ root: demo.archiveDir });
  let code = 0;
  try {
    step(`download_and_store_zarr.ts --sector 20 --camera 3 --ccd 3 --archive-url ${archive.url}`);
    code = await download(["--sector", "20", "--camera", "3", "--ccd", "3", "--archive-url", archive.url]);
    if (code !== 0) return code;
  } finally {
    await archive.close();
  }
  step("zarr_inventory.ts --html");
  code = await inventory(["--html"]);
  if (code !== 0) return code;
  const skycell = demo.skycells[0];
  step(`zarr_to_fits.ts --skycell ${skycell} --batch --overwrite`);
  code = await extract(["--skycell", skycell, "--batch", "--overwrite"]);
  if (code !== 0) return code;
  const cutout = path.join(OUT, `${skycell}_r_cutout.fits`);
  step(
    `zarr_to_fits.ts --skycell ${skycell} --band r --region 500:1000,500:1000 --output ${cutout} --overwrite`,
  );
  code = await extract([
    "--skycell",
    skycell,
    "--band",
    "r",
    "--region",
    "500:1000,500:1000",
    "--output",
    cutout,
    "--overwrite",
  ]);
  if (code !== 0) return code;
  step(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`  store:       ${path.resolve(DATA, "ps1_skycells_zarr", "ps1_skycells.zarr")}`);
  console.log(
    `  inventory:   ${
      path.resolve(DATA, "zarr_inventory")
    } (skycell_inventory_latest.csv, array_inventory_latest.csv)`,
  );
  console.log(`  HTML page:   ${path.resolve(DATA, "zarr_inventory", "inventory_latest.html")}`);
  console.log(`  FITS files:  ${path.resolve(OUT, skycell)}/ and ${path.resolve(cutout)}`);
  console.log(
    `  archive:     ${
      path.resolve(demo.archiveDir)
    } (serve it with: deno run -R --allow-net=127.0.0.1 lib/archive/serve.ts --root ${demo.archiveDir})`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
