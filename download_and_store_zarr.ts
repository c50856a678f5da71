/**
 * Downloads the PS1 skycells that overlap a TESS sector/camera/CCD into the Zarr store.
 *
 * ```
 * deno run --allow-read --allow-write --allow-env --allow-net=ps1images.stsci.edu download_and_store_zarr.ts --sector 20 --camera 3 --ccd 3
 * ```
 *
 * The flags keep the Python tool's names; see `--help`. The work is done by `lib/ingest/download.ts`;
 * this file parses flags, shows progress and maps the result to an exit code (0 completed, 1 incomplete,
 * 2 error or bad usage, 130/143 interrupted by SIGINT/SIGTERM).
 * @module
 */

import {
  EXIT,
  integerText,
  listFlag,
  numberText,
  parseFlags,
  printError,
  UsageError,
} from "./lib/cli/args.ts";
import { createLogger, type Logger, parseLogLevel } from "./lib/cli/log.ts";
import { formatDuration, formatMB, Progress } from "./lib/cli/progress.ts";
import {
  DOWNLOAD_DEFAULTS as D,
  downloadAndStorePs1Data,
  type DownloadProgress,
  type DownloadResult,
  resultForPython,
} from "./lib/ingest/download.ts";

export { downloadAndStorePs1Data, resultForPython };
export type { DownloadOptions, DownloadProgress, DownloadResult } from "./lib/ingest/download.ts";

const NAME = "download_and_store_zarr";

const HELP = `usage: download_and_store_zarr.ts [SECTOR CAMERA CCD] [options]

Downloads the PS1 skycells (image, mask, weight per band) a TESS sector/camera/CCD needs into the Zarr
store {zarr-output-dir}/ps1_skycells.zarr. The skycell list is the mapping CSV under the data root (the
parent of --zarr-output-dir), else the CCD's footprint computed from the sky. Arrays already complete are
not fetched again; rerun after an interruption.

  --sector N             TESS sector (default ${D.sector})
  --camera N             TESS camera, 1-4 (default ${D.camera})
  --ccd N                TESS CCD, 1-4 (default ${D.ccd})
  --num-workers N        skycells in parallel (default ${D.numWorkers})
  --zarr-output-dir DIR  output dir (default data/ps1_skycells_zarr)
  --use-local-files      read the local mirror first, the archive when a file is missing or unreadable
  --local-data-path DIR  local mirror root (default data/ps1_skycells)
  --log-level LEVEL      DEBUG, INFO, WARNING, ERROR, CRITICAL (default INFO)
  --overwrite            fetch and replace arrays that are already complete
  --skycells-csv PATH    read this mapping CSV instead
  --skycell NAME         download this skycell (repeatable; instead of a CSV)
  --footprint            the CCD's skycells computed from the sky (RINGS.V3 grid, TESS pointing model)
                         instead of its mapping CSV; used anyway when no mapping CSV is found
  --footprint-fits FILE  the skycells covering a FITS image's celestial WCS (TAN or TAN-SIP)
  --ra DEG --dec DEG --radius DEG
                         the skycells covering a cone on the sky
  --bands LIST           bands, comma separated (default r,i,z,y; g allowed)
  --archive NAME         stsci (MAST's image server, the default) or aws (the open-data copy on S3,
                         same layout: faster from AWS machines, no load on MAST)
  --archive-url URL      archive base (default $PS1_ARCHIVE_URL, else http://ps1images.stsci.edu/rings.v3.skycell)
  --max-connections N    simultaneous HTTP requests (default ${D.maxConnections}; keep it modest, the archive is shared)
  --retries N            retries per request (default ${D.retries})
  --timeout S            idle timeout of a request, seconds (default ${D.timeoutSeconds})
  --max-file-size BYTES  largest file accepted from the archive (default ${D.maxFileSize}, 1 GiB)
  --shard K/N            take share K (0-based) of N of the skycell list, for batch job arrays
  --dry-run              print the plan (arrays to fetch, already complete, bytes expected), change nothing
  --json                 print the result as JSON on stdout, with the pipeline's key names (skycells_found,
                         unique_images, produced_count, expected_count, produced_skycells, artifacts, ...)
  -h, --help             this help

Exit codes: 0 completed, 1 incomplete (some arrays failed), 2 error or bad usage, 130/143 interrupted.

Examples:
  download_and_store_zarr.ts --sector 20 --camera 3 --ccd 3
  download_and_store_zarr.ts 20 3 3 --dry-run
  download_and_store_zarr.ts --skycell skycell.2556.080 --bands r,i --overwrite
  download_and_store_zarr.ts --use-local-files --local-data-path /mirror/ps1 --json > result.json
  download_and_store_zarr.ts --shard $SLURM_ARRAY_TASK_ID/8 --num-workers 2
`;

const FLAGS = {
  sector: { type: "string" },
  camera: { type: "string" },
  ccd: { type: "string" },
  "num-workers": { type: "string" },
  "zarr-output-dir": { type: "string" },
  "use-local-files": { type: "boolean" },
  "local-data-path": { type: "string" },
  "log-level": { type: "string" },
  overwrite: { type: "boolean" },
  "skycells-csv": { type: "string" },
  skycell: { type: "string", multiple: true },
  footprint: { type: "boolean" },
  "footprint-fits": { type: "string" },
  ra: { type: "string" },
  dec: { type: "string" },
  radius: { type: "string" },
  bands: { type: "string" },
  "archive-url": { type: "string" },
  archive: { type: "string" },
  "max-connections": { type: "string" },
  retries: { type: "string" },
  timeout: { type: "string" },
  "max-file-size": { type: "string" },
  shard: { type: "string" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function progressText(p: DownloadProgress): string {
  const rate = p.elapsedSeconds > 0 ? p.bytesDownloaded / 1e6 / p.elapsedSeconds : 0;
  const eta = p.skycellsDone > 0
    ? (p.elapsedSeconds / p.skycellsDone) * (p.skycellsTotal - p.skycellsDone)
    : NaN;
  return `skycells ${p.skycellsDone}/${p.skycellsTotal} | arrays ${p.arraysDone} (${p.arraysWritten} written) | ` +
    `${formatMB(p.bytesDownloaded)} | ${rate.toFixed(1)} MB/s | ETA ${
      formatDuration(eta)
    } | failures ${p.failures}`;
}

function summary(r: DownloadResult): string {
  const s = r.stats;
  const lines = [
    r.message,
    `store: ${r.zarrPath}`,
    `skycells: ${r.producedCount}/${r.expectedCount} complete (${r.skycellsFound} rows in the list), ` +
    `arrays ${r.arraysPresent}/${r.arraysExpected}`,
    `downloaded ${formatMB(s.bytesDownloaded)}, local ${formatMB(s.bytesLocal)}, decoded ${
      formatMB(s.bytesDecoded)
    } (${s.decodedMBps.toFixed(0)} MB/s), stored ${formatMB(s.bytesStored)} in ${
      s.elapsedSeconds.toFixed(1)
    } s`,
  ];
  for (const f of r.failures.slice(0, 20)) {
    lines.push(`  failed: ${f.skycell} ${f.band} ${f.kind}: ${f.error}`);
  }
  if (r.failures.length > 20) lines.push(`  ... and ${r.failures.length - 20} more failures (see --json)`);
  for (const m of r.missingUpstream.slice(0, 20)) lines.push(`  not in the archive: ${m.url}`);
  if (r.missingUpstream.length > 20) lines.push(`  ... and ${r.missingUpstream.length - 20} more missing`);
  if (r.plan) {
    for (const p of r.plan) {
      const bytes = p.bytesExpected === null ? "size unknown" : formatMB(p.bytesExpected);
      lines.push(`  ${p.skycell}: fetch ${p.fetch.length} (${bytes}), complete ${p.complete.length}`);
    }
  }
  return lines.join("\n");
}

/** The cone of `--ra --dec --radius` (all three or none). */
function coneFlags(ra?: string, dec?: string, radius?: string) {
  const given = [ra, dec, radius].filter((v) => v !== undefined).length;
  if (given === 0) return undefined;
  if (given < 3) throw new UsageError("--ra, --dec and --radius go together");
  return {
    ra: numberText("ra", ra)!,
    dec: numberText("dec", dec)!,
    radius: numberText("radius", radius)!,
  };
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let options;
  let json = false;
  let logger: Logger;
  const progress = new Progress();
  try {
    const { values, positionals } = parseFlags(args, FLAGS, true);
    if (values.help) {
      console.log(HELP);
      return EXIT.ok;
    }
    if (positionals.length !== 0 && positionals.length !== 3) {
      throw new UsageError(`expected SECTOR CAMERA CCD as positional arguments, got ${positionals.length}`);
    }
    const [ps, pc, pk] = positionals;
    if (positionals.length === 3 && (values.sector || values.camera || values.ccd)) {
      throw new UsageError("give sector/camera/CCD either as flags or as positional arguments, not both");
    }
    json = values.json ?? false;
    const level = values["log-level"] ? parseLogLevel(values["log-level"]) : "INFO";
    logger = createLogger(level, (line) => console.error(line), () => progress.clear());
    options = {
      // Only the text is checked here: ranges and defaults are the library's (lib/ingest/options.ts).
      sector: integerText("sector", values.sector ?? ps),
      camera: integerText("camera", values.camera ?? pc),
      ccd: integerText("ccd", values.ccd ?? pk),
      numWorkers: integerText("num-workers", values["num-workers"]),
      zarrOutputDir: values["zarr-output-dir"],
      useLocalFiles: values["use-local-files"] ?? false,
      localDataPath: values["local-data-path"],
      overwrite: values.overwrite ?? false,
      skycellsCsv: values["skycells-csv"],
      skycells: values.skycell,
      footprint: values.footprint ?? false,
      footprintFits: values["footprint-fits"],
      cone: coneFlags(values.ra, values.dec, values.radius),
      bands: listFlag(values.bands),
      archiveUrl: values["archive-url"],
      archive: values.archive,
      maxConnections: integerText("max-connections", values["max-connections"]),
      retries: integerText("retries", values.retries),
      timeout: numberText("timeout", values.timeout),
      maxFileSize: integerText("max-file-size", values["max-file-size"]),
      shard: values.shard,
      dryRun: values["dry-run"] ?? false,
      logger,
    };
  } catch (err) {
    printError(NAME, err);
    return EXIT.usage;
  }
  const controller = new AbortController();
  let interruptCode: number = EXIT.ok;
  const onSignal = (signal: "SIGINT" | "SIGTERM") => () => {
    if (controller.signal.aborted) Deno.exit(signal === "SIGINT" ? EXIT.sigint : EXIT.sigterm);
    interruptCode = signal === "SIGINT" ? EXIT.sigint : EXIT.sigterm;
    logger.warn(`${signal}: stopping (in-flight arrays are discarded; press Ctrl-C again to exit at once)`);
    controller.abort();
  };
  const handlers = { SIGINT: onSignal("SIGINT"), SIGTERM: onSignal("SIGTERM") } as const;
  for (const [sig, fn] of Object.entries(handlers)) Deno.addSignalListener(sig as Deno.Signal, fn);
  let result: DownloadResult;
  try {
    result = await downloadAndStorePs1Data({
      ...options,
      signal: controller.signal,
      onProgress: (p) => progress.update(() => progressText(p)),
    });
  } finally {
    for (const [sig, fn] of Object.entries(handlers)) Deno.removeSignalListener(sig as Deno.Signal, fn);
    progress.done();
  }
  if (json) console.log(JSON.stringify(resultForPython(result), null, 2));
  else if (result.status === "error") printError(NAME, result.message);
  else console.log(summary(result));
  switch (result.status) {
    case "completed":
      return EXIT.ok;
    case "incomplete":
      return EXIT.problems;
    case "interrupted":
      return interruptCode || EXIT.sigint;
    default:
      return EXIT.usage;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
