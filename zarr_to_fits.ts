/**
 * zarr_to_fits: extracts PS1 skycell arrays from the Zarr store back to FITS files, whole or as cutouts,
 * plain or tile-compressed, one at a time or in batches, and lists what the store holds. The flags keep
 * the names of the Python tool (`zarr_to_fits.py`); the work is done by `lib/extract`.
 *
 * Run: `deno run --allow-read --allow-write zarr_to_fits.ts --help`.
 * @module
 */

import * as path from "node:path";
import { EXIT, intFlag, parseFlags, printError, UsageError } from "./lib/cli/args.ts";
import { createLogger, type Logger } from "./lib/cli/log.ts";
import { formatMB } from "./lib/cli/progress.ts";
import { ALL_BANDS, type ArrayKind, DEFAULT_EXTRACT_DIR, DEFAULT_STORE_PATH } from "./lib/store/layout.ts";
import { ZarrStore } from "./lib/zarr/store.ts";
import { parseSkycell, SkycellNameError } from "./lib/ps1/skycell.ts";
import {
  type ArraySelector,
  bandBatchItems,
  type BatchItem,
  type BatchOutcome,
  type Compression,
  extractArray,
  extractBatch,
  ExtractError,
  type ExtractOptions,
  type ExtractResult,
  listContents,
  outputName,
  parseCenter,
  parseRegion,
  type RegionRequest,
  skycellBatchItems,
  type StoreContents,
} from "./lib/extract/mod.ts";

export * from "./lib/extract/mod.ts";

const NAME = "zarr_to_fits";
/** Default store path, as the Python tool's. */
export const DEFAULT_ZARR_PATH = DEFAULT_STORE_PATH;
/** Default output directory, as the Python tool's. */
export const DEFAULT_OUTPUT_DIR = DEFAULT_EXTRACT_DIR;

const USAGE = `Usage: zarr_to_fits.ts [options]

Extract PS1 skycell arrays from the Zarr store to FITS files, or list what the store holds.

Modes:
  --skycell S --band B [--mask|--weight]   one array to {output-dir}/{S}_{B}[_mask|_wt].fits (or --output)
  --skycell S --batch [--band B] [--mask|--weight]
                                           every array of the skycell (12 for r, i, z, y; g too when
                                           present), or those of band B / of one kind, into {output-dir}/{S}/
  --band B --batch [--mask|--weight]       band B of every skycell in the store into {output-dir}/
  --list [--json]                          projection cells and skycells with completeness (n/12)

Options:
  --zarr-path PATH     the store (default ${DEFAULT_ZARR_PATH})
  --skycell NAME       skycell.PPPP.CCC
  --band B             r, i, z, y, or g when the store has it
  --mask               the mask array (uint16) instead of the image
  --weight             the weight (variance) array instead of the image
  --output FILE        output file of a single extraction (a directory: the default name inside it)
  --output-dir DIR     output directory (default ${DEFAULT_OUTPUT_DIR})
  --batch              batch mode (see above); one failure does not stop the batch
  --region x0:x1,y0:y1 pixel cutout: columns x0..x1-1, rows y0..y1-1 (0-based, end-exclusive)
  --center RA,DEC      cutout around a sky position (degrees), through the header's TAN WCS
  --size PIX           side of the --center cutout, pixels (cut at the image edge)
  --compress rice|gzip tile-compressed output as in the PS1 archive (empty primary HDU, image in
                       extension 1); rice quantizes float32 pixels (lossy), gzip is lossless
  --overwrite          replace existing output files (default: refuse)
  --json               machine-readable result on stdout
  -h, --help           this help

Exit codes: 0 done, 1 some extraction failed, 2 bad usage or nothing could be done, 130/143
interrupted (SIGINT/SIGTERM; no partial file is left).

Examples:
  deno run --allow-read --allow-write zarr_to_fits.ts --list
  deno run --allow-read --allow-write zarr_to_fits.ts --skycell skycell.2556.080 --band r
  deno run --allow-read --allow-write zarr_to_fits.ts --skycell skycell.2556.080 --band r --mask --output r_mask.fits
  deno run --allow-read --allow-write zarr_to_fits.ts --skycell skycell.2556.080 --band i --region 1000:1500,2000:2500
  deno run --allow-read --allow-write zarr_to_fits.ts --skycell skycell.2556.080 --band z --center 47.69,79.26 --size 300
  deno run --allow-read --allow-write zarr_to_fits.ts --skycell skycell.2556.080 --batch --compress rice
  deno run --allow-read --allow-write zarr_to_fits.ts --band r --batch --output-dir extracted_fits/r
`;

const FLAGS = {
  "zarr-path": { type: "string" },
  skycell: { type: "string" },
  band: { type: "string" },
  mask: { type: "boolean" },
  weight: { type: "boolean" },
  output: { type: "string" },
  "output-dir": { type: "string" },
  batch: { type: "boolean" },
  list: { type: "boolean" },
  region: { type: "string" },
  center: { type: "string" },
  size: { type: "string" },
  compress: { type: "string" },
  overwrite: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** What the command line asks for, checked. */
type Request =
  | { mode: "help" }
  | { mode: "list"; zarrPath: string; json: boolean }
  | {
    mode: "single";
    zarrPath: string;
    json: boolean;
    selector: ArraySelector;
    output: string;
    options: ExtractOptions;
  }
  | {
    mode: "skycell-batch";
    zarrPath: string;
    json: boolean;
    skycell: string;
    bands?: string[];
    kinds?: ArrayKind[];
    outputDir: string;
    options: ExtractOptions;
  }
  | {
    mode: "band-batch";
    zarrPath: string;
    json: boolean;
    band: string;
    kind: ArrayKind;
    outputDir: string;
    options: ExtractOptions;
  };

function flagError(flag: string, err: unknown): UsageError {
  return new UsageError(`--${flag}: ${err instanceof Error ? err.message : String(err)}`);
}

/** Parses and checks the flags; throws {@link UsageError} naming the flag or value. */
function parseRequest(args: string[]): Request {
  const { values: v } = parseFlags(args, FLAGS);
  if (v.help) return { mode: "help" };
  const zarrPath = v["zarr-path"] ?? DEFAULT_ZARR_PATH;
  if (zarrPath.trim() === "") throw new UsageError("--zarr-path: empty path");
  const json = v.json ?? false;
  if (v.list) {
    const others = Object.keys(v).filter((k) => !["list", "json", "zarr-path"].includes(k));
    if (others.length > 0) throw new UsageError(`--list cannot be combined with --${others[0]}`);
    return { mode: "list", zarrPath, json };
  }
  if (v.skycell !== undefined) {
    try {
      parseSkycell(v.skycell);
    } catch (err) {
      throw flagError("skycell", err);
    }
  }
  if (v.band !== undefined && !ALL_BANDS.includes(v.band)) {
    throw new UsageError(`--band: unknown band ${JSON.stringify(v.band)} (use ${ALL_BANDS.join(", ")})`);
  }
  if (v.mask && v.weight) throw new UsageError("--mask and --weight exclude each other");
  const kind: ArrayKind | undefined = v.mask ? "mask" : v.weight ? "weight" : undefined;
  let compress: Compression | undefined;
  if (v.compress !== undefined) {
    if (v.compress !== "rice" && v.compress !== "gzip") {
      throw new UsageError(`--compress: expected rice or gzip, got ${JSON.stringify(v.compress)}`);
    }
    compress = v.compress;
  }
  const options: ExtractOptions = { region: parseRegionFlags(v), compress, overwrite: v.overwrite ?? false };
  if (v["output-dir"] !== undefined && v["output-dir"].trim() === "") {
    throw new UsageError("--output-dir: empty path");
  }
  const outputDir = v["output-dir"] ?? DEFAULT_OUTPUT_DIR;

  if (v.batch) {
    if (v.output !== undefined) {
      throw new UsageError("--output is for one file; use --output-dir with --batch");
    }
    if (v.skycell !== undefined) {
      return {
        mode: "skycell-batch",
        zarrPath,
        json,
        skycell: v.skycell,
        bands: v.band === undefined ? undefined : [v.band],
        kinds: kind ? [kind] : undefined,
        outputDir,
        options,
      };
    }
    if (v.band === undefined) throw new UsageError("--batch needs --skycell or --band");
    if (options.region) {
      throw new UsageError("--region/--center apply to one skycell: give --skycell with --batch");
    }
    return { mode: "band-batch", zarrPath, json, band: v.band, kind: kind ?? "image", outputDir, options };
  }
  if (v.skycell === undefined || v.band === undefined) {
    const missing = v.skycell === undefined ? "--skycell" : "--band";
    throw new UsageError(
      `${missing} is missing: give --skycell and --band, --skycell/--band with --batch, or --list (see --help)`,
    );
  }
  if (v.output !== undefined && v.output.trim() === "") throw new UsageError("--output: empty path");
  if (v.output !== undefined && v["output-dir"] !== undefined) {
    throw new UsageError("--output and --output-dir: give one of them");
  }
  const selector: ArraySelector = { skycell: v.skycell, band: v.band, kind: kind ?? "image" };
  let output = path.join(outputDir, outputName(selector));
  if (v.output !== undefined) {
    output = v.output.endsWith("/") || isDirectory(v.output)
      ? path.join(v.output, outputName(selector))
      : v.output;
  }
  return { mode: "single", zarrPath, json, selector, output, options };
}

function parseRegionFlags(
  v: { region?: string; center?: string; size?: string },
): RegionRequest | undefined {
  if (v.region !== undefined && v.center !== undefined) {
    throw new UsageError("--region and --center exclude each other");
  }
  if (v.region !== undefined) {
    if (v.size !== undefined) throw new UsageError("--size goes with --center, not --region");
    try {
      return { pixels: parseRegion(v.region) };
    } catch (err) {
      throw flagError("region", err);
    }
  }
  if (v.center !== undefined) {
    if (v.size === undefined) throw new UsageError("--center needs --size PIX");
    const size = intFlag("size", v.size, 0, 1);
    try {
      return { center: parseCenter(v.center), size };
    } catch (err) {
      throw flagError("center", err);
    }
  }
  if (v.size !== undefined) throw new UsageError("--size needs --center RA,DEC");
  return undefined;
}

function isDirectory(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

function describe(r: ExtractResult): string {
  const parts = [`${r.width} x ${r.height}`, r.type];
  if (r.compression) parts.push(r.compression === "rice" ? "RICE_1" : "GZIP_1");
  if (r.region) parts.push(`cutout ${r.region.x0}:${r.region.x1},${r.region.y0}:${r.region.y1}`);
  parts.push(formatMB(r.bytes), `${r.seconds.toFixed(1)} s`);
  return parts.join(", ");
}

function outcomeLine(o: BatchOutcome, index: number, total: number): string {
  const count = `[${index + 1}/${total}]`;
  if (o.ok) return `✓ ${count} ${o.result.output} (${describe(o.result)})`;
  const { skycell, band, kind } = o.item.selector;
  return `✗ ${count} ${skycell} ${band} ${kind}: ${o.error.message.split("\n")[0]}`;
}

function listingText(c: StoreContents): string {
  const lines: string[] = [];
  const per = c.bands.length * 3;
  lines.push(
    c.skycells === 0
      ? `${c.store}: no skycells`
      : `${c.store}: ${c.projections.length} projection cell(s), ` +
        `${c.skycells} skycell(s), ${c.complete} complete (${per} arrays: bands ${
          c.bands.join(", ")
        } x image, mask, weight)`,
  );
  const width = Math.max(0, ...c.projections.flatMap((p) => p.skycells.map((s) => s.name.length)));
  for (const p of c.projections) {
    lines.push(`projection ${p.projection}: ${p.skycells.length} skycell(s), ${p.complete} complete`);
    for (const s of p.skycells) {
      const notes = [s.complete ? "complete" : `missing ${s.missing.join(", ")}`];
      if (s.extra.length) notes.push(`also ${s.extra.join(", ")}`);
      if (s.layout === "legacy") notes.push("legacy layout");
      if (s.problems.length) notes.push(`problems: ${s.problems.join("; ")}`);
      const count = `${s.present}/${s.expected}`.padStart(5);
      lines.push(`  ${s.name.padEnd(width)}  ${count}  ${notes.join("; ")}`);
    }
  }
  return lines.join("\n");
}

function resultJson(r: ExtractResult): Record<string, unknown> {
  const { selector, ...rest } = r;
  return { ok: true, ...selector, ...rest };
}

async function runBatch(
  store: ZarrStore,
  items: BatchItem[],
  options: ExtractOptions,
  json: boolean,
): Promise<number> {
  const out = json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const summary = await extractBatch(store, items, {
    ...options,
    onOutcome: (o, i, n) => out(outcomeLine(o, i, n)),
  });
  const text = `${items.length} file(s): ${summary.ok} written, ${summary.failed} failed`;
  if (json) {
    console.error(text);
    console.log(JSON.stringify(
      {
        ok: summary.ok,
        failed: summary.failed,
        files: summary.outcomes.map((o) =>
          o.ok
            ? resultJson(o.result)
            : { ok: false, ...o.item.selector, output: o.item.output, error: o.error.message }
        ),
      },
      null,
      2,
    ));
  } else {
    console.log(text);
  }
  return summary.failed > 0 ? EXIT.problems : EXIT.ok;
}

async function run(
  req: Exclude<Request, { mode: "help" }>,
  store: ZarrStore,
  log: Logger,
  signal: AbortSignal,
) {
  switch (req.mode) {
    case "list": {
      const contents = await listContents(store);
      console.log(req.json ? JSON.stringify(contents, null, 2) : listingText(contents));
      return EXIT.ok;
    }
    case "single": {
      const r = await extractArray(store, req.selector, req.output, { ...req.options, log, signal });
      console.log(req.json ? JSON.stringify(resultJson(r), null, 2) : `✓ ${r.output} (${describe(r)})`);
      return EXIT.ok;
    }
    case "skycell-batch": {
      const items = await skycellBatchItems(store, req.skycell, req.outputDir, {
        bands: req.bands,
        kinds: req.kinds,
      });
      return await runBatch(store, items, { ...req.options, log, signal }, req.json);
    }
    case "band-batch": {
      const items = await bandBatchItems(store, req.band, req.outputDir, req.kind);
      if (items.length === 0) throw new ExtractError(`the store ${store.root} has no skycells`);
      return await runBatch(store, items, { ...req.options, log, signal }, req.json);
    }
  }
}

/** Runs the command line; returns the exit code (see `--help`). */
export async function main(args: string[]): Promise<number> {
  let req: Request;
  try {
    req = parseRequest(args);
  } catch (err) {
    printError(NAME, err);
    return EXIT.usage;
  }
  if (req.mode === "help") {
    console.log(USAGE);
    return EXIT.ok;
  }
  let store: ZarrStore;
  try {
    store = await ZarrStore.open(req.zarrPath);
  } catch (err) {
    printError(NAME, flagError("zarr-path", err));
    return EXIT.usage;
  }
  const log = createLogger("INFO");
  const abort = new AbortController();
  // SIGINT/SIGTERM stop the extraction between bands (its temporary file is removed); a second one exits.
  let code: number = EXIT.sigint;
  const handlers: [Deno.Signal, () => void][] = [];
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const handler = () => {
      if (abort.signal.aborted) Deno.exit(code);
      code = sig === "SIGINT" ? EXIT.sigint : EXIT.sigterm;
      abort.abort(new DOMException(`interrupted (${sig})`, "AbortError"));
    };
    try {
      Deno.addSignalListener(sig, handler);
      handlers.push([sig, handler]);
    } catch {
      // Windows has no SIGTERM.
    }
  }
  try {
    return await run(req, store, log, abort.signal);
  } catch (err) {
    if (abort.signal.aborted) {
      printError(NAME, "interrupted; no partial file was left");
      return code;
    }
    printError(NAME, err);
    // Extraction errors are raised before anything is written: nothing could be done.
    return err instanceof ExtractError || err instanceof SkycellNameError ? EXIT.usage : EXIT.problems;
  } finally {
    for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
    store.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
