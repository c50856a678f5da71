/**
 * Benchmark of the FITS writers on a full-size (6300 x 6300) skycell-like image: plain float32 FITS
 * streamed in 1024-row bands, tile-compressed RICE_1 (quantized float32, and the PS1 int16 stack) and
 * GZIP_1 (uint16 mask), each timed against a raw copy of the same number of bytes in the same run.
 *
 * Run alone: `deno run -A bench/fits_encode.ts`.
 * @module
 */

import * as path from "node:path";
import { FitsStreamWriter } from "../lib/fits/write.ts";
import { CompressedFitsWriter, compressImage } from "../lib/fits/compress.ts";
import { formatCard } from "../lib/fits/card.ts";
import { rawCopy } from "./_io.ts";

const SIZE = 6300;
const BAND_ROWS = 1024;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Sky-like float32 image: noise on a gradient with a NaN border and a few bright sources. */
function skyImage(): Float32Array {
  const rand = lcg(1);
  const out = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < out.length; i += 2) {
    // Box-Muller pairs.
    const r = Math.sqrt(-2 * Math.log(rand() + 1e-12));
    const t = 2 * Math.PI * rand();
    out[i] = 100 + r * Math.cos(t) * 5 + (i % SIZE) * 0.001;
    if (i + 1 < out.length) out[i + 1] = 100 + r * Math.sin(t) * 5 + ((i + 1) % SIZE) * 0.001;
  }
  for (let y = 0; y < SIZE; y++) {
    const row = y * SIZE;
    const blank = y < 300 ? SIZE : 200; // a blank strip on top and a border on the left
    out.fill(NaN, row, row + blank);
  }
  return out;
}

async function time(fn: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function mb(bytes: number): number {
  return bytes / 1e6;
}

/** Runs the FITS encoding benchmark and prints times, speeds and ratios. */
export async function bench(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fits_encode_bench_" });
  try {
    const sky = skyImage();
    const rawBytes = sky.length * 4;
    const plainPath = path.join(dir, "plain.fits");
    const stored = [formatCard("OBJECT", "bench"), formatCard("EXPTIME", 1234.5)].join("");

    const plainTime = await time(async () => {
      const w = await FitsStreamWriter.create(plainPath, stored, SIZE, SIZE, "float32");
      for (let y = 0; y < SIZE; y += BAND_ROWS) {
        await w.writeRows(sky.subarray(y * SIZE, Math.min(SIZE, y + BAND_ROWS) * SIZE));
      }
      await w.close();
    });
    const copyTime = await time(() => rawCopy(plainPath, path.join(dir, "copy.fits")));
    await Deno.remove(path.join(dir, "copy.fits"));
    // cfitsio's fpack on the same plain file, for reference (quantized RICE_1, q = 4 like ours).
    let fpackTime = NaN;
    try {
      fpackTime = await time(async () => {
        const out = await new Deno.Command("fpack", {
          args: ["-r", "-q", "4", "-O", path.join(dir, "fpack.fz"), plainPath],
        })
          .output();
        if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
      });
    } catch (err) {
      console.log(`  fpack not run: ${err instanceof Error ? err.message.split("\n")[0] : err}`);
    }

    let riceBytes = 0;
    const riceTime = await time(async () => {
      const file = compressImage([], SIZE, SIZE, sky, { compression: "RICE_1", bitpix: -32 });
      riceBytes = file.length;
      await Deno.writeFile(path.join(dir, "rice.fits"), file);
    });

    let streamBytes = 0;
    const streamTime = await time(async () => {
      const file = path.join(dir, "rice_stream.fits");
      const w = await CompressedFitsWriter.create(file, [], SIZE, SIZE, {
        compression: "RICE_1",
        bitpix: -32,
      });
      for (let y = 0; y < SIZE; y += BAND_ROWS) {
        await w.writeRows(sky.subarray(y * SIZE, Math.min(SIZE, y + BAND_ROWS) * SIZE));
      }
      await w.close();
      streamBytes = (await Deno.stat(file)).size;
    });

    // PS1 archive stack: int16 with BSCALE/BZERO, and a mostly-zero uint16 mask.
    const stack = new Int16Array(sky.length);
    for (let i = 0; i < sky.length; i++) {
      stack[i] = sky[i] !== sky[i] ? -32768 : Math.round((sky[i] - 100) * 400);
    }
    const mask = new Uint16Array(sky.length);
    for (let i = 0; i < sky.length; i += 97) mask[i] = 0x20;
    let stackBytes = 0, maskBytes = 0;
    const stackTime = await time(() => {
      stackBytes = compressImage(
        [formatCard("BSCALE", 0.0025), formatCard("BZERO", 100.0), formatCard("BLANK", -32768)],
        SIZE,
        SIZE,
        stack,
        {
          compression: "RICE_1",
          bitpix: 16,
        },
      ).length;
    });
    const maskTime = await time(() => {
      maskBytes = compressImage([], SIZE, SIZE, mask, { compression: "GZIP_1", bitpix: 16 }).length;
    });

    const rows = [
      ["raw copy (read+write)", copyTime, rawBytes, rawBytes],
      ["plain float32 FITS (1024-row bands)", plainTime, rawBytes, rawBytes],
      ["RICE_1 quantized float32 (+ file write)", riceTime, rawBytes, riceBytes],
      ["RICE_1 quantized float32 streamed to file", streamTime, rawBytes, streamBytes],
      ["RICE_1 int16 stack (in memory)", stackTime, rawBytes / 2, stackBytes],
      ["GZIP_1 uint16 mask (in memory)", maskTime, rawBytes / 2, maskBytes],
    ] as const;
    console.log(`FITS encode, ${SIZE} x ${SIZE}`);
    for (const [name, secs, input, output] of rows) {
      console.log(
        `  ${name.padEnd(42)} ${secs.toFixed(3).padStart(7)} s  ${
          (mb(input) / secs).toFixed(0).padStart(5)
        } MB/s` +
          `  size ratio ${(input / output).toFixed(2)}x`,
      );
    }
    console.log(
      `  plain write / raw copy time: ${(plainTime / copyTime).toFixed(2)} (speed ${
        (copyTime / plainTime).toFixed(2)
      }x of copy)`,
    );
    console.log(`  RICE float write / raw copy time: ${(riceTime / copyTime).toFixed(2)}`);
    if (Number.isFinite(fpackTime)) {
      console.log(
        `  fpack -r (same file, file to file) ${fpackTime.toFixed(3)} s: our RICE float write is ` +
          `${(fpackTime / riceTime).toFixed(2)}x fpack's speed`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await bench();
