/**
 * Benchmark of the download job on full-size skycells (6300 x 6284, 12 files each) from the local archive:
 * the archive server runs in its own process, `download_and_store_zarr.ts` in another with the default
 * settings, so its peak RSS (VmHWM, all threads) and CPU time are its own. Runs with 2 and 4 skycells show
 * whether memory grows with the number of skycells. In the same run, the baseline: `funpack` decoding
 * every file plus the `zstd -3` CLI compressing the same decoded float32/uint16 bytes, one core each, which
 * is what the Python toolkit's work amounts to.
 *
 * Run alone: `deno run -A bench/ingest.ts` (first run writes the archive under .cache/bench, ~2 GB).
 * @module
 */

import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { writeDemoArchive } from "../lib/archive/synth.ts";
import { openImage } from "../lib/fits/image.ts";
import { localPath } from "../lib/ps1/urls.ts";
import { ARRAY_KINDS, dtypeOf } from "../lib/store/layout.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = path.join(repoRoot, ".cache", "bench");
const BANDS = ["r", "i", "z", "y"];

async function timed(
  cmd: string,
  args: string[],
  stdout: "null" | "piped" = "null",
): Promise<{ s: number; out: string }> {
  const t = performance.now();
  const r = await new Deno.Command(cmd, { args, stdout, stderr: "piped" }).output();
  if (!r.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(r.stderr).slice(0, 400)}`);
  return {
    s: (performance.now() - t) / 1000,
    out: stdout === "piped" ? new TextDecoder().decode(r.stdout) : "",
  };
}

async function startServer(root: string): Promise<{ url: string; child: Deno.ChildProcess }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-net=127.0.0.1",
      path.join(repoRoot, "lib/archive/serve.ts"),
      "--root",
      root,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("archive server exited");
    text += value;
  }
  reader.releaseLock();
  return { url: text.trim(), child };
}

interface RunStats {
  elapsedSeconds: number;
  cpuSeconds: number;
  bytesDecoded: number;
  peakRssBytes: number;
  bytesDownloaded: number;
}

async function ingest(url: string, skycells: string[], out: string): Promise<RunStats> {
  await Deno.remove(out, { recursive: true }).catch(() => {});
  const args = [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-net=127.0.0.1",
    path.join(repoRoot, "download_and_store_zarr.ts"),
    "--zarr-output-dir",
    out,
    "--archive-url",
    url,
    "--log-level",
    "WARNING",
    "--json",
    ...skycells.flatMap((s) => ["--skycell", s]),
  ];
  const { out: json } = await timed(Deno.execPath(), args, "piped");
  const result = JSON.parse(json);
  if (result.status !== "completed") throw new Error(`download: ${result.message}`);
  return result.stats;
}

/** Baseline CPU seconds: funpack decode of each file plus zstd -3 (one thread) of its decoded pixels. */
async function baseline(
  archiveDir: string,
  skycells: string[],
): Promise<{ funpack: number; zstd: number; mb: number }> {
  const raw = path.join(benchDir, "raw.bin");
  let funpack = 0;
  let zstd = 0;
  let mb = 0;
  for (const skycell of skycells) {
    for (const band of BANDS) {
      for (const kind of ARRAY_KINDS) {
        const file = localPath(archiveDir, skycell, band, kind);
        funpack += (await timed("funpack", ["-S", file])).s;
        const image = openImage(await Deno.readFile(file), { source: file });
        const pixels = image.readRows(0, image.height, dtypeOf(kind));
        await Deno.writeFile(raw, new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
        mb += pixels.byteLength / 1e6;
        zstd += (await timed("zstd", ["-3", "-T1", "-q", "-f", raw, "-o", `${raw}.zst`])).s;
      }
    }
  }
  await Deno.remove(raw).catch(() => {});
  await Deno.remove(`${raw}.zst`).catch(() => {});
  return { funpack, zstd, mb };
}

/** Runs the ingest benchmark and prints throughput, MB per CPU-second, peak RSS and the baseline. */
export async function bench(): Promise<void> {
  const dataDir = path.join(benchDir, "data");
  const demo = await writeDemoArchive(dataDir, { reuse: true, archiveDir: path.join(benchDir, "archive") });
  const { url, child } = await startServer(demo.archiveDir);
  try {
    console.log(
      `download job, full-size skycells (6300 x 6284, ${BANDS.length} bands x 3 files), default settings`,
    );
    const rows: [number, RunStats][] = [];
    for (const n of [2, 4]) {
      const stats = await ingest(url, demo.skycells.slice(0, n), path.join(benchDir, `zarr_${n}`));
      rows.push([n, stats]);
      const mb = stats.bytesDecoded / 1e6;
      console.log(
        `  ${n} skycells: ${mb.toFixed(0)} MB decoded in ${stats.elapsedSeconds.toFixed(1)} s = ${
          (mb / stats.elapsedSeconds).toFixed(0)
        } MB/s, ${(mb / stats.cpuSeconds).toFixed(0)} MB per CPU-second, peak RSS ${
          (stats.peakRssBytes / 1e6).toFixed(0)
        } MB`,
      );
    }
    const base = await baseline(demo.archiveDir, demo.skycells.slice(0, 2));
    const cpu = base.funpack + base.zstd;
    console.log(
      `  baseline (2 skycells, one core): funpack ${base.funpack.toFixed(1)} s + zstd -3 ${
        base.zstd.toFixed(1)
      } s = ${(base.mb / cpu).toFixed(0)} MB per CPU-second`,
    );
    const [, two] = rows[0];
    console.log(
      `  ratio: ours ${
        ((two.bytesDecoded / 1e6 / two.cpuSeconds) / (base.mb / cpu)).toFixed(2)
      }x the baseline's MB per CPU-second`,
    );
    for (const d of [2, 4]) {
      await Deno.remove(path.join(benchDir, `zarr_${d}`), { recursive: true }).catch(() => {});
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

if (import.meta.main) await bench();
