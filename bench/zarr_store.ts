/**
 * Benchmark of the Zarr store on one full-size skycell array: a 6300 x 6300 float32 image of quantized sky
 * noise (Gaussian noise on a sky level, on a 2^-10 grid like scaled integer data, zstd ratio about 1.6)
 * with a NaN border, in 1024 x 1024 chunks with zstd level 3. In the same run it times:
 *
 * - our write on one thread, the store's one write path as each ingest worker runs it (the download
 *   spreads arrays over its workers, one array per worker), and our whole-array read;
 * - the `zstd -3` CLI on the same raw bytes with one thread (the like-for-like baseline) and with as many
 *   threads as cores;
 * - zarr-python 3 writing the same array with the Python tools' calls, and reading it (timed inside Python,
 *   without the interpreter start);
 * - the peak resident memory (VmHWM, workers included) of a child process that only writes one array, its
 *   bands made on the fly as a decoder would hand them over.
 *
 * Run alone: `deno run -A bench/zarr_store.ts`. Times are the median of a few runs; nothing is asserted.
 * @module
 */

import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { encodeChunk, releaseBuffer } from "../lib/zarr/chunks.ts";
import { ZarrStore } from "../lib/zarr/store.ts";
import { openArrayReader } from "../lib/zarr/read.ts";
import { defaultChunks } from "../lib/zarr/metadata.ts";

const SIZE = 6300;
const BORDER = 150;
const SKY = 200;
const SIGMA = 5;
const STEP = 1 / 1024;
const RUNS = 3;
const GROUP = "2556/skycell.2556.080";
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Fills rows [y0, y0 + rows) of the sky image into `out` (row-major, full width). */
function skyRows(out: Float32Array, y0: number, rows: number, next: () => number): void {
  for (let i = 0; i < rows * SIZE; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next() + 1e-12));
    const t = 2 * Math.PI * next();
    out[i] = Math.round((SKY + SIGMA * r * Math.cos(t)) / STEP) * STEP;
    out[i + 1] = Math.round((SKY + SIGMA * r * Math.sin(t)) / STEP) * STEP;
  }
  for (let y = 0; y < rows; y++) {
    const gy = y0 + y;
    const row = out.subarray(y * SIZE, (y + 1) * SIZE);
    if (gy < BORDER || gy >= SIZE - BORDER) row.fill(NaN);
    else {
      row.fill(NaN, 0, BORDER);
      row.fill(NaN, SIZE - BORDER);
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** Writes the image as array `name` on this thread, one chunk row at a time, as an ingest worker does. */
async function writeOurs(store: ZarrStore, name: string, image: Float32Array): Promise<number> {
  const spec = {
    shape: [SIZE, SIZE] as [number, number],
    dtype: "float32" as const,
    chunks: defaultChunks([SIZE, SIZE]),
  };
  const build = await store.beginArray(GROUP, name, spec);
  for (let row = 0; row < build.chunkRows; row++) {
    const [y0, y1] = build.rowsOf(row);
    const band = build.takeBand(row);
    band.set(image.subarray(y0 * SIZE, y1 * SIZE));
    build.writeChunkRow(row, band);
  }
  return (await build.commit({ header: "" })).bytes;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${text}`);
  return new TextDecoder().decode(out.stdout);
}

function pythonPath(): string {
  return Deno.env.get("PS1_PYTHON") ?? path.join(REPO, ".cache", "venv", "bin", "python");
}

const ZARR_PYTHON = String.raw`
import json, sys, time
import numpy as np, numcodecs, zarr
raw, store, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = np.fromfile(raw, dtype="<f4").reshape(6300, 6300)
chunk = np.ascontiguousarray(data[2048:3072, 2048:3072]).tobytes()
codec = numcodecs.Zstd(level=3)
codec_times = []
for i in range(5):
    t0 = time.perf_counter()
    codec.encode(chunk)
    codec_times.append(time.perf_counter() - t0)
root = zarr.open_group(store, mode="w")
g = root.require_group("2556").require_group("skycell.2556.080")
writes, reads = [], []
for i in range(runs):
    t0 = time.perf_counter()
    a = g.create_array(f"r{i}", data=data, chunks=(1024, 1024),
                       compressors=[{"name": "zstd", "configuration": {"level": 3}}], fill_value=np.nan)
    a.attrs["header"] = ""
    writes.append(time.perf_counter() - t0)
for i in range(runs):
    t0 = time.perf_counter()
    back = g[f"r{i}"][:]
    reads.append(time.perf_counter() - t0)
    assert back.tobytes() == data.tobytes()
print(json.dumps({"version": zarr.__version__, "writes": writes, "reads": reads, "codec": codec_times,
                  "numcodecs": numcodecs.__version__}))
`;
import { seededRandom as rng } from "../lib/archive/faults.ts";

/** The child of the memory measurement: writes one array from bands made on the fly, prints VmHWM. */
async function childWrite(root: string): Promise<void> {
  const store = await ZarrStore.open(root, { create: true });
  const next = rng(1);
  const spec = {
    shape: [SIZE, SIZE] as [number, number],
    dtype: "float32" as const,
    chunks: defaultChunks([SIZE, SIZE]),
  };
  const t0 = performance.now();
  const build = await store.beginArray(GROUP, "r", spec);
  for (let row = 0; row < build.chunkRows; row++) {
    const [y0, y1] = build.rowsOf(row);
    const band = build.takeBand(row) as Float32Array<ArrayBuffer>;
    skyRows(band, y0, y1 - y0, next);
    build.writeChunkRow(row, band);
  }
  await build.commit({ header: "" });
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  const status = await Deno.readTextFile("/proc/self/status");
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
  console.log(JSON.stringify({ hwm, seconds }));
}

/** The baseline of the memory measurement: a child that starts the same way and writes nothing. */
async function childIdle(root: string): Promise<void> {
  const store = await ZarrStore.open(root, { create: true });
  store.close();
  const status = await Deno.readTextFile("/proc/self/status");
  console.log(JSON.stringify({ hwm: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024 }));
}

async function child(
  mode: string,
  root: string,
): Promise<{ hwm: number; seconds?: number }> {
  const out = await run(Deno.execPath(), [
    "run",
    "--quiet",
    `--config=${path.join(REPO, "deno.json")}`,
    // Reading /proc/self/status takes every permission in Deno.
    "--allow-all",
    fileURLToPath(import.meta.url),
    mode,
    root,
  ]);
  return JSON.parse(out.trim().split("\n").pop()!);
}

/** Runs the benchmark and prints the table. */
export async function bench(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench_zarr_" });
  try {
    const cores = navigator.hardwareConcurrency || 1;
    const image = new Float32Array(SIZE * SIZE);
    skyRows(image, 0, SIZE, rng(1));
    const mb = image.byteLength / 1e6;
    const raw = path.join(dir, "image.raw");
    await Deno.writeFile(raw, new Uint8Array(image.buffer));

    // Ours.
    const store = await ZarrStore.open(path.join(dir, "ours.zarr"), { create: true });
    const writes: number[] = [];
    let stored = 0;
    try {
      await writeOurs(store, "warmup", image);
      for (let i = 0; i < RUNS; i++) {
        writes.push(await timed(async () => (stored = await writeOurs(store, `r${i}`, image))));
      }
    } finally {
      store.close();
    }
    const reader = await openArrayReader(store, `${GROUP}/r0`);
    const freshReads: number[] = [];
    for (let i = 0; i < RUNS; i++) freshReads.push(await timed(() => reader.readRegion(0, SIZE)));
    const out = new Float32Array(SIZE * SIZE).fill(1);
    const reusedReads: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      reusedReads.push(await timed(() => reader.readRegion(0, SIZE, 0, SIZE, out)));
    }
    const [got, want] = [new Uint32Array(out.buffer), new Uint32Array(image.buffer)];
    for (let i = 0; i < want.length; i++) {
      if (got[i] !== want[i]) throw new Error(`our read differs from the image written at element ${i}`);
    }

    // The codec alone, one chunk on this thread.
    const chunk = new Float32Array(1024 * 1024);
    for (let y = 0; y < 1024; y++) {
      chunk.set(image.subarray((2048 + y) * SIZE + 2048, (2048 + y) * SIZE + 3072), y * 1024);
    }
    const codec: number[] = [];
    for (let i = 0; i < 5; i++) codec.push(await timed(() => releaseBuffer(encodeChunk(chunk))));

    // zstd CLI on the same bytes.
    const zst = path.join(dir, "image.zst");
    const zstdN: number[] = [];
    const zstd1: number[] = [];
    const unzstd: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      zstdN.push(await timed(() => run("zstd", ["-3", `-T${cores}`, "-q", "-f", raw, "-o", zst])));
      zstd1.push(await timed(() => run("zstd", ["-3", "-T1", "-q", "-f", raw, "-o", zst])));
      unzstd.push(await timed(() => run("zstd", ["-d", "-q", "-f", zst, "-o", path.join(dir, "back.raw")])));
    }
    const zstdBytes = (await Deno.stat(zst)).size;

    // zarr-python.
    const py = JSON.parse(
      await run(pythonPath(), ["-c", ZARR_PYTHON, raw, path.join(dir, "python.zarr"), String(RUNS)]),
    );

    // Peak memory of one write in a process of its own.
    const mem = await child("--child-write", path.join(dir, "mem.zarr"));
    const idle = await child("--child-idle", path.join(dir, "idle.zarr"));

    const rows: [string, number][] = [
      ["ours: write (one thread)", median(writes)],
      ["ours: read, new output buffer", median(freshReads)],
      ["ours: read, reused output buffer", median(reusedReads)],
      [`zarr-python ${py.version}: write`, median(py.writes)],
      [`zarr-python ${py.version}: read`, median(py.reads)],
      [`zstd -3 -T${cores} (CLI)`, median(zstdN)],
      ["zstd -3 -T1 (CLI)", median(zstd1)],
      ["zstd -d (CLI)", median(unzstd)],
    ];
    const fmtMB = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
    console.log(
      `zarr store: ${SIZE} x ${SIZE} float32 (${mb.toFixed(1)} MB), 1024 x 1024 chunks, zstd -3; ` +
        `ratio ours ${(image.byteLength / stored).toFixed(2)}, zstd CLI ${
          (image.byteLength / zstdBytes).toFixed(2)
        }; ` +
        `median of ${RUNS}`,
    );
    console.log(`  ${"".padEnd(34)}${"time s".padStart(8)}${"MB/s".padStart(8)}`);
    for (const [name, s] of rows) {
      console.log(`  ${name.padEnd(34)}${s.toFixed(3).padStart(8)}${(mb / s).toFixed(0).padStart(8)}`);
    }
    const chunkMB = chunk.byteLength / 1e6;
    console.log(
      `  zstd -3 of one 4 MiB chunk on one core: node:zlib ${(chunkMB / median(codec)).toFixed(0)} MB/s, ` +
        `numcodecs ${py.numcodecs} ${(chunkMB / median(py.codec)).toFixed(0)} MB/s`,
    );
    const vsPython = median(py.writes) / median(writes);
    const vsZstd = median(writes) / median(zstd1);
    console.log(`  write speed vs zarr-python (which uses every core): ${vsPython.toFixed(2)}x`);
    console.log(`  write time vs zstd -3 -T1: ${vsZstd.toFixed(2)}x (goal <= 1.5x)`);
    console.log(
      `  peak RSS of one array write: ${fmtMB(mem.hwm)} (goal < 200 MB; ` +
        `an idle process: ${fmtMB(idle.hwm)}; the write took ${mem.seconds?.toFixed(2)} s making its bands)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const [mode, root] = Deno.args;
  if (mode === "--child-write") await childWrite(root);
  else if (mode === "--child-idle") await childIdle(root);
  else await bench();
}
