/**
 * Inventory speed on a CCD-sized store: 1000 skycells x 12 arrays of 6250 x 6250 with 1024 x 1024 chunks
 * (7 x 7 = 49 chunk files each, 588 000 files). The store is written once (small identical chunk files and
 * real headers with NAXIS edited, so only the file count is realistic) and reused by later runs.
 *
 *   deno run -A bench/inventory.ts [store-dir] [--skycells=1000] [--workers=N] [--deep]
 *
 * No baseline: the Python tool's inventory read a corner of every array; this one reads no chunk by
 * default, so its floor is the stat of every chunk file.
 *
 * @module
 */

import * as path from "node:path";
import { parseArgs } from "node:util";
import { formatCard, headerText, setCard, splitCards } from "../lib/fits/card.ts";
import { encodeChunk } from "../lib/zarr/chunks.ts";
import { ARRAY_KINDS, arrayName, dtypeOf, skycellGroupPath } from "../lib/store/layout.ts";
import { MARKER_KEY } from "../lib/zarr/verify.ts";
import { arrayMetadataJson, groupMetadataJson } from "../lib/zarr/metadata.ts";
import { inventory } from "../lib/inventory/mod.ts";
import { headersOf } from "../tests/inventory/_store.ts";

/** Runs the inventory benchmark (building the store under .cache/bench on first use). */
export async function bench(args: string[] = []): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      skycells: { type: "string", default: "1000" },
      workers: { type: "string" },
      deep: { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  const count = Number(values.skycells);
  const root = positionals[0] ??
    path.join(".cache", "bench", `inventory-${count}`, "ps1_skycells_zarr", "ps1_skycells.zarr");
  const SIZE = 6250;
  const CHUNK = 1024;

  async function generate(): Promise<void> {
    const h = await headersOf(200);
    const t0 = performance.now();
    const files: Record<string, Uint8Array> = {
      float32: encodeChunk(new Float32Array(CHUNK * CHUNK).fill(1)),
      uint16: encodeChunk(new Uint16Array(CHUNK * CHUNK).fill(1)),
    };
    Deno.mkdirSync(root, { recursive: true });
    Deno.writeTextFileSync(path.join(root, "zarr.json"), groupMetadataJson());
    const grid = Math.ceil(SIZE / CHUNK);
    for (let i = 0; i < count; i++) {
      const projection = 2500 + Math.floor(i / 100);
      const skycell = `skycell.${projection}.0${String(i % 100).padStart(2, "0")}`;
      const groupDir = path.join(root, ...skycellGroupPath(skycell).split("/"));
      Deno.mkdirSync(groupDir, { recursive: true });
      Deno.writeTextFileSync(path.join(path.dirname(groupDir), "zarr.json"), groupMetadataJson());
      Deno.writeTextFileSync(path.join(groupDir, "zarr.json"), groupMetadataJson());
      for (const band of ["r", "i", "z", "y"]) {
        for (const kind of ARRAY_KINDS) {
          const dir = path.join(groupDir, arrayName(band, kind));
          let cards = splitCards(h[kind]);
          cards = setCard(cards, formatCard("NAXIS1", SIZE));
          cards = setCard(cards, formatCard("NAXIS2", SIZE));
          const marker = { complete: true, stored_chunks: grid * grid, written_at: "", writer: "bench" };
          const spec = {
            shape: [SIZE, SIZE] as [number, number],
            dtype: dtypeOf(kind),
            chunks: [CHUNK, CHUNK] as [number, number],
          };
          for (let r = 0; r < grid; r++) {
            Deno.mkdirSync(path.join(dir, "c", String(r)), { recursive: true });
            for (let c = 0; c < grid; c++) {
              Deno.writeFileSync(path.join(dir, "c", String(r), String(c)), files[spec.dtype]);
            }
          }
          Deno.writeTextFileSync(
            path.join(dir, "zarr.json"),
            arrayMetadataJson(spec, { header: headerText(cards), [MARKER_KEY]: marker }),
          );
        }
      }
    }
    console.log(`wrote ${count} skycells in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }

  if (!(await Deno.stat(path.join(root, "zarr.json")).catch(() => null))) await generate();

  const workers = values.workers === undefined ? undefined : Number(values.workers);
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    const inv = await inventory(root, { workers, deep: values.deep });
    const s = inv.summary;
    console.log(
      `run ${run + 1}: ${((performance.now() - t0) / 1000).toFixed(2)} s, ${s.skycells.total} skycells ` +
        `(${s.skycells.complete} complete), ${s.arrays.present} arrays, ${s.arrays.chunksPresent} chunk files`,
    );
  }
}

if (import.meta.main) await bench(Deno.args);
