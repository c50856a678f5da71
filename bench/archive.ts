/**
 * Benchmark of the archive path: the local archive serving archive-sized files over loopback to the
 * archive client (in memory and streamed to disk, 8 connections), measured in MB/s and MB per CPU-second
 * of this process; and the synthetic skycell generator on one full-size skycell band.
 *
 * Run alone: `deno run -A bench/archive.ts`.
 * @module
 */

import * as path from "node:path";
import { cpuUsage } from "node:process";
import { startLocalArchive } from "../lib/archive/server.ts";
import { writeSkycellFiles } from "../lib/archive/synth.ts";
import { ArchiveClient } from "../lib/ps1/archive_client.ts";
import { relativePath } from "../lib/ps1/urls.ts";

const FILES = 16;
const FILE_BYTES = 64 * 1024 * 1024;

function cpuSeconds(): number {
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Prints loopback download throughput and generator speed. */
export async function bench(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "ps1_bench_archive_" });
  try {
    // Archive-sized files; the bytes do not matter to the transport.
    const body = new Uint8Array(FILE_BYTES).map((_, i) => (i * 2654435761) >>> 24);
    const urls: string[] = [];
    const archive = await startLocalArchive({ root });
    for (let i = 0; i < FILES; i++) {
      const rel = relativePath(`skycell.2556.${String(i).padStart(3, "0")}`, "r", "image");
      await Deno.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await Deno.writeFile(path.join(root, rel), body);
      urls.push(`${archive.url}/${rel}`);
    }
    try {
      for (const mode of ["memory", "file"] as const) {
        const client = new ArchiveClient({ maxConnections: 8 });
        const spool = await Deno.makeTempDir({ dir: root });
        const t0 = performance.now();
        const c0 = cpuSeconds();
        await Promise.all(urls.map(async (url, i) => {
          if (mode === "memory") await client.fetchFile(url);
          else await client.fetchToFile(url, path.join(spool, `${i}.fits`));
        }));
        const s = (performance.now() - t0) / 1000;
        const cpu = cpuSeconds() - c0;
        const mb = client.stats().bytes / 1e6;
        console.log(
          `archive client (${mode}, 8 connections, server in-process): ${mb.toFixed(0)} MB in ${
            s.toFixed(2)
          } s = ` +
            `${(mb / s).toFixed(0)} MB/s` +
            (Number.isNaN(cpu) ? "" : `, ${(mb / cpu).toFixed(0)} MB per CPU-second`),
        );
        await Deno.remove(spool, { recursive: true });
      }
    } finally {
      await archive.close();
    }
    const t0 = performance.now();
    const written = await writeSkycellFiles(path.join(root, "synth"), "skycell.2556.080", "r");
    const s = (performance.now() - t0) / 1000;
    console.log(
      `synthetic skycell band (6300 x 6284, image + mask + weight): ${s.toFixed(2)} s, ` +
        `${(written.bytes / 1e6).toFixed(1)} MB written`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) await bench();
