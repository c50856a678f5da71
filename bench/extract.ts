/**
 * Benchmark of the extraction: one full-size (6300 x 6300) float32 skycell band, PS1-like pixels (the
 * synthetic stack of lib/archive/synth.ts, scaled to floats as the store holds them), written to a store
 * with the store's chunks and codecs, then extracted to a plain FITS file and to a RICE_1 file. In the
 * same run, a raw copy (read + write with plain file I/O) of as many bytes as the plain FITS file gives
 * the yardstick: the goal is plain extraction at no less than half the raw copy's speed.
 *
 * Run alone: `deno run -A bench/extract.ts`.
 * @module
 */

import * as path from "node:path";
import zlib from "node:zlib";
import { SkycellSynth } from "../lib/archive/synth.ts";
import { formatCard } from "../lib/fits/card.ts";
import { BandPool, extractArray } from "../lib/extract/mod.ts";
import { defaultChunks } from "../lib/zarr/metadata.ts";
import { skycellGroupPath } from "../lib/store/layout.ts";
import { ZarrStore } from "../lib/zarr/store.ts";
import { rawCopy } from "./_io.ts";

const SIZE = 6300;
const SKYCELL = "skycell.2556.044";

async function time<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

/** Time to zstd-decode every chunk file of the array on one thread: the floor under any extraction. */
async function decodeOnly(arrayDir: string): Promise<{ seconds: number; bytes: number }> {
  const files: Uint8Array[] = [];
  for await (const row of Deno.readDir(path.join(arrayDir, "c"))) {
    for await (const col of Deno.readDir(path.join(arrayDir, "c", row.name))) {
      files.push(await Deno.readFile(path.join(arrayDir, "c", row.name, col.name)));
    }
  }
  let bytes = 0;
  const t0 = performance.now();
  for (const f of files) bytes += zlib.zstdDecompressSync(f).length;
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

/** Writes the r band image of a full-size synthetic skycell into a new store; returns the chunk bytes. */
async function buildStore(storePath: string): Promise<number> {
  const synth = new SkycellSynth(SKYCELL, "r", { size: SIZE });
  const { width, height } = synth;
  const { bscale, bzero } = synth.scaling;
  const store = await ZarrStore.open(storePath, { create: true });
  try {
    const spec = {
      shape: [height, width] as [number, number],
      dtype: "float32" as const,
      chunks: defaultChunks([height, width]),
    };
    const build = await store.beginArray(skycellGroupPath(SKYCELL), "r", spec);
    let scratch;
    for (let row = 0; row < build.chunkRows; row++) {
      const [y0, y1] = build.rowsOf(row);
      scratch = synth.rows(y0, y1, scratch && { ...scratch });
      const band = build.takeBand(row) as Float32Array<ArrayBuffer>;
      for (let i = 0; i < band.length; i++) {
        const v = scratch.image[i];
        band[i] = v === -32768 ? NaN : bzero + bscale * v;
      }
      await build.writeChunkRow(row, band);
    }
    const header = synth.cards("image").filter((c) => !/^(BSCALE|BZERO|BLANK) /.test(c));
    header.unshift(formatCard("XTENSION", "IMAGE"), formatCard("BITPIX", -32));
    const result = await build.commit({ header: header.join("") + "END".padEnd(80) });
    return result.bytes;
  } finally {
    store.close();
  }
}

function rate(bytes: number, seconds: number): string {
  return `${(bytes / 1e6 / seconds).toFixed(0)} MB/s`;
}

/** Runs the extraction benchmark and prints times, speeds and the ratio to a raw copy. */
export async function bench(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "extract_bench_" });
  try {
    const storePath = path.join(dir, "ps1_skycells.zarr");
    const built = await time(() => buildStore(storePath));
    console.log(
      `extract: store of one ${SIZE}-wide float32 band built in ${built.seconds.toFixed(1)} s ` +
        `(${(built.value / 1e6).toFixed(0)} MB of chunks)`,
    );
    const store = await ZarrStore.open(storePath);
    const pool = new BandPool();
    try {
      const sel = { skycell: SKYCELL, band: "r", kind: "image" as const };
      const plainPath = path.join(dir, "plain.fits");
      const copyPath = path.join(dir, "copy.fits");
      const best = async (rounds: number, fn: () => Promise<unknown>) => {
        let t = Infinity;
        for (let i = 0; i < rounds; i++) t = Math.min(t, (await time(fn)).seconds);
        return t;
      };
      // Warm-up runs, so that every side reads from the page cache and runs compiled code.
      await extractArray(store, sel, plainPath, { overwrite: true, pool });
      await rawCopy(plainPath, copyPath);
      // As one file from the command line (the extraction starts its own workers) and as in a batch (one
      // pool for all files), each interleaved with the raw copy so that both see the same machine load.
      let single = Infinity;
      let batch = Infinity;
      let copy = Infinity;
      for (let i = 0; i < 3; i++) {
        single = Math.min(
          single,
          await best(1, () => extractArray(store, sel, plainPath, { overwrite: true })),
        );
        copy = Math.min(copy, await best(1, () => rawCopy(plainPath, copyPath)));
        batch = Math.min(
          batch,
          await best(1, () => extractArray(store, sel, plainPath, { overwrite: true, pool })),
        );
      }
      const thread = await best(
        2,
        () => extractArray(store, sel, plainPath, { overwrite: true, workers: 0 }),
      );
      let riceBytes = 0;
      const rice = await best(2, async () => {
        const r = await extractArray(store, sel, path.join(dir, "rice.fits"), {
          overwrite: true,
          compress: "rice",
          pool,
        });
        riceBytes = r.bytes;
      });
      const bytes = (await Deno.stat(plainPath)).size;
      const line = (what: string, t: number, note: string) =>
        console.log(`  ${what.padEnd(30)} ${t.toFixed(2)} s  ${rate(bytes, t).padStart(9)}  ${note}`);
      line("raw copy (read + write)", copy, `${(bytes / 1e6).toFixed(0)} MB, plain file I/O`);
      line("plain FITS, one file", single, `${(copy / single).toFixed(2)}x the raw copy's speed`);
      line("plain FITS, in a batch", batch, `${(copy / batch).toFixed(2)}x (worker pool shared)`);
      line("plain FITS, no workers", thread, `${(copy / thread).toFixed(2)}x`);
      line(
        "RICE_1 FITS",
        rice,
        `${(riceBytes / 1e6).toFixed(0)} MB, ${(bytes / riceBytes).toFixed(2)}x smaller`,
      );
      const zstd = await decodeOnly(path.join(storePath, "2556", SKYCELL, "r"));
      const cores = navigator.hardwareConcurrency;
      console.log(
        `  zstd decode alone of the ${(zstd.bytes / 1e6).toFixed(0)} MB of padded chunks: ${
          zstd.seconds.toFixed(2)
        } s ` +
          `on one thread, ${(zstd.seconds / cores).toFixed(2)} s at best on ${cores} cores`,
      );
      const ratio = copy / Math.min(single, batch);
      console.log(
        `  goal: plain extraction at >= 0.5x the raw copy's speed: ${ratio >= 0.5 ? "met" : "NOT met"} ` +
          `(${ratio.toFixed(2)}x)`,
      );
    } finally {
      pool.close();
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await bench();
