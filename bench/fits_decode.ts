/**
 * Benchmark of the FITS reader on full-size PS1-layout files (6300 x 6300): an int16 RICE_1 stack
 * (asinh-like noise, BSCALE/BZERO/BLANK, one row per tile) and a uint16 GZIP_1 mask, both made with numpy
 * and fpack in a temporary directory. Our reader decodes them in 1024-row bands into reused buffers;
 * funpack decodes the same files in the same run, twice: `funpack -S` to /dev/null (decode only) and
 * `funpack -O` to a file (its normal use). Everything runs on one core. MB/s counts the uncompressed
 * 16-bit image bytes; the ratios are funpack time / our time.
 *
 * Run alone: `deno run -A bench/fits_decode.ts`.
 * @module
 */

import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { openImage, type PixelType } from "../lib/fits/image.ts";

const SIZE = 6300;
const BAND_ROWS = 1024;
const REPEATS = 3;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const MAKE_FILES = `
import os, subprocess, sys
import numpy as np
d, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(7)

def write_plain(path, cards, data):
    def card(k, v):
        return (k.ljust(8) + "= " + str(v).rjust(20)).ljust(80)
    head = [card("SIMPLE", "T"), card("BITPIX", 16), card("NAXIS", 2), card("NAXIS1", n), card("NAXIS2", n)] + cards
    text = "".join(head) + "END".ljust(80)
    text += " " * (-len(text) % 2880)
    body = data.astype(">i2").tobytes()
    body += b"\\0" * (-len(body) % 2880)
    open(path, "wb").write(text.encode() + body)

x = rng.normal(0.0, 1.0, size=(n, n)).astype(np.float32)
phys = np.arcsinh(x / 2.0) * 1.0857
stored = np.clip(np.round((phys - 7.17) / 2.1156e-4), -32767, 32767).astype(np.int16)
stored[:, :400] = -32768
stored[:300, :] = -32768
write_plain(os.path.join(d, "stk.fits"), [("BSCALE  = " + "2.1156E-04".rjust(20)).ljust(80),
    ("BZERO   = " + "7.17".rjust(20)).ljust(80), ("BLANK   = " + "-32768".rjust(20)).ljust(80)], stored)
mask = np.zeros((n, n), dtype=np.int32)
mask[:, :400] = 0x8
mask[rng.random((n, n)) < 0.002] |= 0x100
write_plain(os.path.join(d, "mask.fits"), [("BSCALE  = " + "1".rjust(20)).ljust(80),
    ("BZERO   = " + "32768".rjust(20)).ljust(80)], (mask - 32768).astype(np.int16))
for name, flag in (("stk", "-r"), ("mask", "-g")):
    subprocess.run(["fpack", flag, "-O", os.path.join(d, name + ".fz.fits"), os.path.join(d, name + ".fits")], check=True)
`;

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Decodes a file in row bands into one reused buffer; returns seconds (best of REPEATS). */
function timeOurs(bytes: Uint8Array, type: PixelType): number {
  let best = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const reader = openImage(bytes, { source: "bench" });
    const buf = type === "float32"
      ? new Float32Array(BAND_ROWS * reader.width)
      : new Uint16Array(BAND_ROWS * reader.width);
    for (let y = 0; y < reader.height; y += BAND_ROWS) {
      reader.readRows(y, Math.min(reader.height, y + BAND_ROWS), type, buf);
    }
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

async function timeFunpack(file: string, toFile: boolean): Promise<number> {
  let best = Infinity;
  const out = file.replace(/\.fz\.fits$/, ".out.fits");
  for (let r = 0; r < REPEATS; r++) {
    await Deno.remove(out).catch(() => {});
    const t0 = performance.now();
    await run("funpack", toFile ? ["-O", out, file] : ["-S", file]);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

/** Runs the benchmark and prints MB/s of our reader and of funpack, and the ratio. */
export async function bench(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fits_decode_bench_" });
  try {
    const python = Deno.env.get("PS1_PYTHON") ?? path.join(repoRoot, ".cache", "venv", "bin", "python");
    await run(python, ["-c", MAKE_FILES, dir, String(SIZE)]);
    const mb = (SIZE * SIZE * 2) / 1e6;
    console.log(`FITS decode, ${SIZE} x ${SIZE}, ${BAND_ROWS}-row bands, best of ${REPEATS}`);
    for (const [name, type] of [["stk", "float32"], ["mask", "uint16"]] as const) {
      const file = path.join(dir, `${name}.fz.fits`);
      const bytes = await Deno.readFile(file);
      const ours = timeOurs(bytes, type);
      const stdout = await timeFunpack(file, false);
      const toFile = await timeFunpack(file, true);
      const label = name === "stk" ? "int16 RICE_1 stack -> float32" : "uint16 GZIP_1 mask -> uint16";
      const rate = (s: number) => `${(mb / s).toFixed(0).padStart(5)} MB/s`;
      console.log(
        `  ${label.padEnd(30)} (${(bytes.length / 1e6).toFixed(1)} MB file) ours ${rate(ours)} | funpack -S ${
          rate(stdout)
        } ratio ${(stdout / ours).toFixed(2)}x | funpack -O ${rate(toFile)} ratio ${
          (toFile / ours).toFixed(2)
        }x`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await bench();
