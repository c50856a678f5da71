/**
 * `deno task bench`: every benchmark of the toolkit, each timing its baseline (funpack, fpack, the zstd
 * CLI, zarr-python, a raw file copy) in the same run, and printing ratios. Needs the reference tools that
 * `.ci/run` installs (funpack, zstd, the Python venv in `.cache/venv` or `PS1_PYTHON`).
 *
 * `deno task bench fits` (or `zarr`, `extract`, `archive`, `ingest`, `inventory`) runs one of them.
 * @module
 */

import { bench as archive } from "./archive.ts";
import { bench as extract } from "./extract.ts";
import { bench as fitsDecode } from "./fits_decode.ts";
import { bench as fitsEncode } from "./fits_encode.ts";
import { bench as ingest } from "./ingest.ts";
import { bench as inventory } from "./inventory.ts";
import { bench as zarrStore } from "./zarr_store.ts";

const BENCHES: [string, () => Promise<void>][] = [
  ["fits", fitsDecode],
  ["fits", fitsEncode],
  ["zarr", zarrStore],
  ["extract", extract],
  ["archive", archive],
  ["ingest", ingest],
  ["inventory", () => inventory()],
];

const chosen = Deno.args.length ? BENCHES.filter(([name]) => Deno.args.includes(name)) : BENCHES;
if (chosen.length === 0) {
  console.error(
    `unknown benchmark ${Deno.args.join(" ")}; choose from ${
      [...new Set(BENCHES.map((b) => b[0]))].join(", ")
    }`,
  );
  Deno.exit(2);
}
console.log(
  `machine: ${navigator.hardwareConcurrency} cores, ${Deno.build.os} ${Deno.build.arch}, Deno ${Deno.version.deno}\n`,
);
for (const [, run] of chosen) {
  await run();
  console.log();
}
