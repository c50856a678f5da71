/**
 * `zarr_inventory.ts`: the inventory of the PS1 skycell Zarr store, with optional cleanup. Replaces the
 * Python `zarr_inventory.py` and keeps its flags and report files; the checks, states and cleanup rules
 * are in `lib/inventory/` (`records.ts`, `cleanup.ts`).
 *
 * Exit status: 0 when the store is healthy (every skycell complete, no temp node; with an expected list,
 * every expected skycell complete), 1 when problems were found or a removal failed, 2 for bad usage or a
 * store or skycell list that cannot be read.
 *
 * @example
 * ```sh
 * deno run --allow-read --allow-write zarr_inventory.ts --zarr-path data/ps1_skycells_zarr/ps1_skycells.zarr
 * ```
 * @module
 */

import { EXIT, intFlag, listFlag, parseFlags, printError, UsageError } from "./lib/cli/args.ts";
import { Progress } from "./lib/cli/progress.ts";
import {
  cleanup,
  CLEANUP_CATEGORIES,
  type CleanupCategory,
  type CleanupResult,
  DEFAULT_TEMP_MIN_AGE_SECONDS,
  type IncompleteMode,
} from "./lib/inventory/cleanup.ts";
import {
  type ExpectedOptions,
  inventory,
  InventoryOptionError,
  type InventoryOptions,
  problemCount,
} from "./lib/inventory/inventory.ts";
import type { Inventory } from "./lib/inventory/records.ts";
import {
  formatCleanup,
  formatSummary,
  inventoryJson,
  type ReportPaths,
  writeReports,
} from "./lib/inventory/report.ts";
import { type HtmlReportPaths, writeHtmlReport } from "./lib/inventory/html.ts";
import { MappingCsvError } from "./lib/ps1/mapping.ts";
import { StoreError } from "./lib/zarr/errors.ts";
import { DEFAULT_BANDS, DEFAULT_INVENTORY_DIR, DEFAULT_STORE_PATH } from "./lib/store/layout.ts";
import { ZarrStore } from "./lib/zarr/store.ts";

export { cleanup, inventory };
export type { CleanupResult, Inventory };
export * from "./lib/inventory/mod.ts";

const NAME = "zarr_inventory";

const HELP = `Usage: deno run --allow-read --allow-write zarr_inventory.ts [options]

Takes the inventory of the PS1 skycell Zarr store: every skycell group (complete, incomplete or
corrupt), every array (metadata, dtype, shape against the header's NAXIS, chunk files, the toolkit's
completion marker), temp arrays and unexpected nodes. Writes CSV reports and prints a summary.
"Corrupt" means evidence of damage, never "looks empty": an all-NaN corner or an all-zero mask is normal.

Options:
  --zarr-path PATH        the store (default data/ps1_skycells_zarr/ps1_skycells.zarr)
  --output-dir DIR        where the CSV reports go (default data/zarr_inventory)
  --bands LIST            bands a complete skycell has (default r,i,z,y; g is opt-in)
  --deep                  also read and decode every stored chunk (slow: the whole store is read)
  --workers N             skycell groups checked in parallel (default: the number of cores)
  --expected              compare with the skycell list of a TESS CCD: which expected skycells are
                          absent, incomplete or corrupt. Needs --skycells-csv, or --sector, --camera
                          and --ccd (the mapping CSV is looked up under the data root, the parent of
                          the store's directory); either of those implies --expected
  --sector N, --camera N, --ccd N
  --skycells-csv PATH     a mapping CSV (column NAME and the padding columns)
  --footprint             with --sector/--camera/--ccd: compare with the CCD's computed skycell list
                          (RINGS.V3 grid and the TESS pointing model) instead of its mapping CSV
  --json                  print the summary and every problem as JSON instead of text
  --html                  also write inventory_{YYYYMMDD_HHMMSS}.html and inventory_latest.html: one
                          self-contained page (summary, sky map of the skycells by state, completeness
                          per band, problems with their reasons) that opens offline in any browser
  --cleanup-temp          remove temp arrays (_temp_ in the name) whose maker is gone, or, when the
                          maker is unknown, that did not change for --temp-min-age seconds
  --cleanup-corrupt       remove arrays with evidence of damage (re-checked first)
  --cleanup-incomplete[=empty|skycells]
                          empty (default): remove groups of incomplete skycells that hold no array at
                          all; healthy arrays are kept (a rerun of the download fills the gaps).
                          skycells: remove whole incomplete skycells, healthy arrays included
  --cleanup-all           --cleanup-temp, --cleanup-corrupt and --cleanup-incomplete
  --dry-run               list exactly what the cleanup would remove, with sizes; change nothing
  --temp-min-age SECONDS  quiet time before a temp array of unknown maker is removed (default ${DEFAULT_TEMP_MIN_AGE_SECONDS})
  -h, --help              this help

Never removed: unexpected nodes, arrays of bands not chosen, legacy-layout (projections/) skycells as
incomplete. Each removal is re-checked under the store lock just before it happens; the inventory is
taken again afterwards and its summary printed.

Reports in --output-dir: skycell_inventory_{YYYYMMDD_HHMMSS}.csv, array_inventory_{...}.csv (and
expected_inventory_, cleanup_), with *_latest.csv copies of the newest state; with --html also
inventory_{...}.html and inventory_latest.html.

Exit status: 0 healthy, 1 problems found (or a removal failed), 2 bad usage or unreadable input.

Examples:
  deno run -R -W zarr_inventory.ts
  deno run -R -W zarr_inventory.ts --deep --workers 2
  deno run -R -W zarr_inventory.ts --expected --sector 20 --camera 3 --ccd 3
  deno run -R -W zarr_inventory.ts --skycells-csv data/s0020/c3/k3/mapping/oversampling_1/tess_s0020_3_3_master_skycells_list.csv
  deno run -R -W zarr_inventory.ts --cleanup-all --dry-run
  deno run -R -W zarr_inventory.ts --cleanup-temp --cleanup-corrupt
  deno run -R -W zarr_inventory.ts --cleanup-incomplete=skycells --dry-run
  deno run -R -W zarr_inventory.ts --json > inventory.json
`;

const FLAGS = {
  "zarr-path": { type: "string", default: DEFAULT_STORE_PATH },
  "output-dir": { type: "string", default: DEFAULT_INVENTORY_DIR },
  "cleanup-temp": { type: "boolean", default: false },
  "cleanup-corrupt": { type: "boolean", default: false },
  "cleanup-incomplete": { type: "boolean", default: false },
  "cleanup-all": { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
  deep: { type: "boolean", default: false },
  expected: { type: "boolean", default: false },
  footprint: { type: "boolean", default: false },
  sector: { type: "string" },
  camera: { type: "string" },
  ccd: { type: "string" },
  "skycells-csv": { type: "string" },
  json: { type: "boolean", default: false },
  html: { type: "boolean", default: false },
  bands: { type: "string" },
  workers: { type: "string" },
  "temp-min-age": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The parsed command line. */
export interface InventoryArgs {
  /** Print the help and stop. */
  help: boolean;
  /** The store. */
  zarrPath: string;
  /** Where the reports go. */
  outputDir: string;
  /** Inventory options. */
  inventory: InventoryOptions;
  /** Cleanup categories (empty: no cleanup). */
  categories: CleanupCategory[];
  /** Rule of the incomplete category. */
  incompleteMode: IncompleteMode;
  /** List, change nothing. */
  dryRun: boolean;
  /** Quiet time for temp nodes of unknown maker, seconds. */
  tempMinAgeSeconds: number;
  /** JSON output. */
  json: boolean;
  /** Also write the HTML page. */
  html: boolean;
}

/**
 * Parses the command line; throws {@link UsageError}. `--cleanup-incomplete` takes an optional value
 * (`=empty` or `=skycells`), which the strict flag parser cannot express, so it is taken out first.
 */
export function parseInventoryArgs(args: string[]): InventoryArgs {
  let incompleteMode: IncompleteMode = "empty";
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const m = /^--cleanup-incomplete=(.*)$/.exec(a);
    if (m) {
      if (m[1] !== "empty" && m[1] !== "skycells") {
        throw new UsageError(`--cleanup-incomplete: expected empty or skycells, got ${JSON.stringify(m[1])}`);
      }
      incompleteMode = m[1];
      rest.push("--cleanup-incomplete");
    } else rest.push(a);
  }
  const { values: v } = parseFlags(rest, FLAGS);
  const cleanupAll = v["cleanup-all"];
  const categories = CLEANUP_CATEGORIES.filter((c) => cleanupAll || v[`cleanup-${c}`]);
  if (v["dry-run"] && categories.length === 0) {
    throw new UsageError(
      "--dry-run needs a cleanup flag (--cleanup-temp, --cleanup-corrupt, --cleanup-incomplete, --cleanup-all)",
    );
  }
  const bands = listFlag(v.bands) ?? [...DEFAULT_BANDS];
  const workers = intFlag("workers", v.workers, navigator.hardwareConcurrency || 1, 1, 64);
  const tempMinAgeSeconds = intFlag("temp-min-age", v["temp-min-age"], DEFAULT_TEMP_MIN_AGE_SECONDS, 0);
  const ccdGiven = [v.sector, v.camera, v.ccd].filter((x) => x !== undefined).length;
  const csv = v["skycells-csv"];
  let expected: ExpectedOptions | undefined;
  if (csv !== undefined && v.footprint) {
    throw new UsageError("give either --skycells-csv or --footprint, not both");
  }
  if (csv !== undefined && ccdGiven > 0) {
    throw new UsageError("give either --skycells-csv or --sector/--camera/--ccd, not both");
  }
  if (ccdGiven > 0 && ccdGiven < 3) throw new UsageError("--sector, --camera and --ccd go together");
  if (csv !== undefined) {
    if (csv === "") throw new UsageError("--skycells-csv: empty path");
    expected = { csvPath: csv };
  } else if (ccdGiven === 3) {
    expected = {
      sector: intFlag("sector", v.sector, 0, 1, 9999),
      camera: intFlag("camera", v.camera, 0, 1, 4),
      ccd: intFlag("ccd", v.ccd, 0, 1, 4),
      ...(v.footprint ? { footprint: true } : {}),
    };
  } else if (v.footprint) {
    throw new UsageError("--footprint needs --sector, --camera and --ccd");
  } else if (v.expected) {
    throw new UsageError("--expected needs --skycells-csv or --sector, --camera and --ccd");
  }
  if (v["zarr-path"] === "") throw new UsageError("--zarr-path: empty path");
  if (v["output-dir"] === "") throw new UsageError("--output-dir: empty path");
  return {
    help: v.help,
    zarrPath: v["zarr-path"],
    outputDir: v["output-dir"],
    inventory: { bands, deep: v.deep, workers, expected },
    categories,
    incompleteMode,
    dryRun: v["dry-run"],
    tempMinAgeSeconds,
    json: v.json,
    html: v.html,
  };
}

// Below this many skycells the scan is over before a progress line would help.
const PROGRESS_MIN_SKYCELLS = 100;

async function takeInventory(store: ZarrStore, args: InventoryArgs, what: string): Promise<Inventory> {
  let progress: Progress | undefined;
  const t0 = performance.now();
  const inv = await inventory(store, {
    ...args.inventory,
    onProgress: (done, total) => {
      if (total < PROGRESS_MIN_SKYCELLS) return;
      progress ??= new Progress();
      const s = (performance.now() - t0) / 1000;
      progress.update(() =>
        `${what}: ${done}/${total} skycells (${Math.floor((done / total) * 100)}%) ${s.toFixed(0)} s`
      );
    },
  });
  progress?.done();
  return inv;
}

function log(message: string): void {
  console.error(`${NAME}: ${message}`);
}

/** Runs the command line; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let parsed: InventoryArgs;
  try {
    parsed = parseInventoryArgs(args);
  } catch (err) {
    printError(NAME, err);
    return EXIT.usage;
  }
  if (parsed.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  let store: ZarrStore | undefined;
  try {
    const date = new Date();
    store = await ZarrStore.open(parsed.zarrPath, {
      lock: { onWait: (p) => log(`waiting for the store lock ${p} (another process is changing the store)`) },
    });
    const before = await takeInventory(store, parsed, "inventory");
    const cleaning = parsed.categories.length > 0;
    let result: CleanupResult | undefined;
    let after: Inventory | undefined;
    let reports: ReportPaths;
    let afterReports: ReportPaths | undefined;
    if (!cleaning) {
      reports = await writeReports(before, parsed.outputDir, { date });
    } else if (parsed.dryRun) {
      result = await cleanup(before, {
        store,
        categories: parsed.categories,
        incomplete: parsed.incompleteMode,
        tempMinAgeSeconds: parsed.tempMinAgeSeconds,
        dryRun: true,
      });
      reports = await writeReports(before, parsed.outputDir, { date, cleanup: result });
    } else {
      // What was found is recorded before anything is removed; the *_latest copies follow the store after.
      reports = await writeReports(before, parsed.outputDir, { date, latest: false });
      result = await cleanup(before, {
        store,
        categories: parsed.categories,
        incomplete: parsed.incompleteMode,
        tempMinAgeSeconds: parsed.tempMinAgeSeconds,
        onItem: (item) => {
          if (item.action === "removed") log(`removed ${item.kind} ${item.path}`);
          if (item.action === "failed") log(`could not remove ${item.path}: ${item.reason}`);
        },
      });
      after = await takeInventory(store, parsed, "inventory after cleanup");
      afterReports = await writeReports(after, parsed.outputDir, {
        date,
        suffix: "_after_cleanup",
        cleanup: result,
      });
    }
    const final = after ?? before;
    // The page shows the store as it is now: after a cleanup, the second inventory, named like its CSVs.
    let html: HtmlReportPaths | undefined;
    if (parsed.html) {
      html = await writeHtmlReport(
        final,
        parsed.outputDir,
        after ? { date, suffix: "_after_cleanup" } : { date },
      );
    }
    const failed = result?.failed ?? 0;
    const status = problemCount(final) > 0 || failed > 0 ? EXIT.problems : EXIT.ok;
    if (parsed.json) {
      console.log(JSON.stringify(
        {
          inventory: inventoryJson(before),
          reports,
          cleanup: result ?? null,
          after: after ? inventoryJson(after) : null,
          afterReports: afterReports ?? null,
          ...(html ? { html } : {}),
          exitStatus: status,
        },
        null,
        2,
      ));
    } else {
      console.log(formatSummary(before));
      if (result) console.log("\n" + formatCleanup(result));
      if (after) console.log("\n" + formatSummary(after, "INVENTORY AFTER CLEANUP"));
      for (const p of Object.values(afterReports ?? reports)) log(`report ${p}`);
      if (html) { for (const p of Object.values(html)) log(`report ${p}`); }
    }
    return status;
  } catch (err) {
    printError(NAME, err);
    const unusable = err instanceof StoreError || err instanceof MappingCsvError ||
      err instanceof InventoryOptionError || err instanceof Deno.errors.NotFound;
    return unusable ? EXIT.usage : EXIT.problems;
  } finally {
    store?.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
