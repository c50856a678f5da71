/**
 * The inventory's reports: CSV files shaped like the Python tool's (its columns first, in its order and
 * its value spelling: `True`/`False`, Python list and tuple reprs, empty for None, floats with a decimal
 * point), then the new columns; the text summary; the JSON document.
 *
 * Files: `skycell_inventory_{YYYYMMDD_HHMMSS}.csv`, `array_inventory_{...}.csv` (and
 * `expected_inventory_{...}.csv` with an expected list, `cleanup_{...}.csv` after a cleanup), each also
 * copied to `*_latest.csv`. The timestamp is local time, as Python's `time.strftime`.
 *
 * Column meanings where the Python tool's differ: `total_size_mb` is, as there, the decoded size in MiB
 * (`array.nbytes`), not the size on disk (see `bytes_on_disk`, `disk_size_mb`); `is_complete` and
 * `is_corrupted` are the states of `records.ts` (temp arrays no longer make a skycell corrupt, missing
 * arrays make it incomplete, not corrupt); the array report also lists missing expected arrays
 * (`exists` False), temp nodes and unexpected nodes (`status` says which).
 *
 * @example
 * ```ts ignore
 * const paths = await writeReports(inv, "data/zarr_inventory");
 * console.log(formatSummary(inv));
 * ```
 * @module
 */

import * as path from "node:path";
import { formatCsv } from "../ps1/csv.ts";
import { formatDuration, formatMB } from "../cli/progress.ts";
import type { CleanupResult } from "./cleanup.ts";
import type { ArrayRecord, ExpectedReport, Inventory, Summary } from "./records.ts";

/** A cell value: strings as they are, booleans as `True`/`False`, null/undefined empty. */
type Cell = string | number | boolean | null | undefined | readonly string[];

function pyStr(s: string): string {
  const escaped = s.replaceAll("\\", "\\\\");
  if (s.includes("'") && !s.includes('"')) return `"${escaped}"`;
  return `'${escaped.replaceAll("'", "\\'")}'`;
}

/** A value as pandas writes it: `True`/`False`, `['a', 'b']`, empty for None, `1.0` for an integral float. */
export function pyCell(v: Cell, float = false): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return float && Number.isInteger(v) ? v.toFixed(1) : String(v);
  if (typeof v === "string") return v;
  return `[${v.map(pyStr).join(", ")}]`;
}

/** A shape as a Python tuple: `(6243, 6240)`, `(5,)`. */
export function pyTuple(shape: readonly number[] | null): string {
  if (!shape) return "";
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

const MIB = 1024 * 1024;

/** Skycell report columns: the Python tool's first, then the new ones. */
export const SKYCELL_COLUMNS = [
  "skycell_name",
  "projection_id",
  "is_complete",
  "is_corrupted",
  "corruption_type",
  "arrays_present_count",
  "arrays_missing_count",
  "arrays_corrupted_count",
  "temp_arrays_count",
  "total_size_mb",
  "cell_id",
  "sector",
  "camera",
  "ccd",
  "arrays_present",
  "arrays_missing",
  "arrays_extra",
  "temp_arrays",
  "arrays_corrupted",
  "total_size_bytes",
  "has_header",
  "header_size",
  // New columns.
  "state",
  "layout",
  "group_path",
  "zarr_format",
  "bytes_on_disk",
  "disk_size_mb",
  "decoded_bytes",
  "other_band_arrays",
  "unexpected_count",
  "unexpected_nodes",
  "group_problems",
  "checked_deep",
] as const;

/** Array report columns: the Python tool's first, then the new ones. */
export const ARRAY_COLUMNS = [
  "skycell_name",
  "projection_id",
  "array_name",
  "exists",
  "readable",
  "shape",
  "dtype",
  "size_bytes",
  "has_valid_data",
  "corruption_notes",
  // New columns.
  "status",
  "role",
  "band",
  "kind",
  "layout",
  "array_path",
  "zarr_format",
  "chunk_shape",
  "codecs",
  "header_source",
  "header_length",
  "header_naxis1",
  "header_naxis2",
  "chunks_expected",
  "chunks_present",
  "marker_complete",
  "marker_stored_chunks",
  "marker_written_at",
  "marker_writer",
  "bytes_on_disk",
  "decoded_bytes",
  "checked_deep",
  "chunks_decoded",
  "chunks_all_fill",
  "problem_codes",
  "notes",
] as const;

/** Expected-list report columns. */
export const EXPECTED_COLUMNS = [
  "skycell_name",
  "projection_id",
  "role",
  "state",
  "is_complete",
  "arrays_missing",
  "arrays_corrupted",
  "layout",
] as const;

/** Cleanup report columns. */
export const CLEANUP_COLUMNS = [
  "category",
  "kind",
  "path",
  "action",
  "bytes",
  "size_mb",
  "files",
  "reason",
] as const;

/** A corruption description for a skycell: its damaged arrays and their problem codes. */
function corruptionType(index: Map<string, ArrayRecord[]>, s: Inventory["skycells"][number]): string {
  if (s.state !== "corrupt") return "";
  const parts: string[] = [...s.groupProblems];
  const arrays = index.get(`${s.layout}:${s.name}`) ?? [];
  const damaged = arrays.filter((a) => a.role === "expected" && a.status === "corrupt");
  if (damaged.length > 0) {
    parts.push(
      `Corrupted arrays: ${
        damaged.map((a) => `${a.name} (${a.problems.map((p) => p.code).join(", ")})`).join(", ")
      }`,
    );
  }
  return parts.join("; ");
}

function arraysBySkycell(inv: Inventory): Map<string, ArrayRecord[]> {
  const index = new Map<string, ArrayRecord[]>();
  for (const a of inv.arrays) {
    const key = `${a.layout}:${a.skycell}`;
    let list = index.get(key);
    if (!list) index.set(key, list = []);
    list.push(a);
  }
  return index;
}

/** The skycell report: header row, then one row per skycell group. */
export function skycellRows(inv: Inventory): string[][] {
  const index = arraysBySkycell(inv);
  const rows: string[][] = [[...SKYCELL_COLUMNS]];
  for (const s of inv.skycells) {
    const arrays = index.get(`${s.layout}:${s.name}`) ?? [];
    const present = arrays.filter((a) => a.exists);
    const hasHeader = s.groupHeaderLength > 0 ||
      (present.length > 0 && present.every((a) => a.header !== null));
    const headerSize = s.groupHeaderLength || (present.find((a) => a.header)?.header?.length ?? 0);
    const extra = [...s.otherBand, ...s.unexpected];
    const row: Record<(typeof SKYCELL_COLUMNS)[number], string> = {
      skycell_name: s.name,
      projection_id: s.projection,
      is_complete: pyCell(s.state === "complete"),
      is_corrupted: pyCell(s.state === "corrupt"),
      corruption_type: corruptionType(index, s),
      arrays_present_count: String(s.present.length),
      arrays_missing_count: String(s.missing.length),
      arrays_corrupted_count: String(s.corrupt.length),
      temp_arrays_count: String(s.temps.length),
      total_size_mb: pyCell(s.decodedBytes / MIB, true),
      cell_id: s.cell,
      sector: "",
      camera: "",
      ccd: "",
      arrays_present: pyCell(s.present),
      arrays_missing: pyCell(s.missing),
      arrays_extra: pyCell(extra),
      temp_arrays: pyCell(s.temps),
      arrays_corrupted: pyCell(s.corrupt),
      total_size_bytes: String(s.decodedBytes),
      has_header: pyCell(hasHeader),
      header_size: String(headerSize),
      state: s.state,
      layout: s.layout,
      group_path: s.path,
      zarr_format: pyCell(s.groupFormat),
      bytes_on_disk: String(s.bytesOnDisk),
      disk_size_mb: pyCell(s.bytesOnDisk / MIB, true),
      decoded_bytes: String(s.decodedBytes),
      other_band_arrays: pyCell(s.otherBand),
      unexpected_count: String(s.unexpected.length),
      unexpected_nodes: pyCell(s.unexpected),
      group_problems: pyCell(s.groupProblems),
      checked_deep: pyCell(inv.deep),
    };
    rows.push(SKYCELL_COLUMNS.map((c) => row[c]));
  }
  return rows;
}

const UNREADABLE: ReadonlySet<string> = new Set([
  "metadata_unreadable",
  "metadata_invalid",
  "metadata_missing",
  "not_an_array",
  "chunk_unreadable",
  "chunk_undecodable",
]);

/** The array report: header row, then arrays (present and missing), temp nodes, unexpected nodes. */
export function arrayRows(inv: Inventory): string[][] {
  const rows: string[][] = [[...ARRAY_COLUMNS]];
  const blank = Object.fromEntries(ARRAY_COLUMNS.map((c) => [c, ""])) as Record<
    (typeof ARRAY_COLUMNS)[number],
    string
  >;
  for (const a of inv.arrays) {
    const stored = a.chunksPresent ?? 0;
    const row: typeof blank = {
      skycell_name: a.skycell,
      projection_id: a.projection,
      array_name: a.name,
      exists: pyCell(a.exists),
      readable: pyCell(a.exists && !a.problems.some((p) => UNREADABLE.has(p.code))),
      shape: pyTuple(a.shape),
      dtype: a.dtype ?? "",
      size_bytes: String(a.decodedBytes),
      has_valid_data: pyCell(
        a.exists && stored > 0 && (a.chunksAllFill === null || stored > a.chunksAllFill),
      ),
      corruption_notes: pyCell(a.problems.map((p) => p.message)),
      status: a.status,
      role: a.role,
      band: a.band,
      kind: a.kind,
      layout: a.layout,
      array_path: a.path,
      zarr_format: pyCell(a.format),
      chunk_shape: pyTuple(a.chunkShape),
      codecs: pyCell(a.codecs),
      header_source: a.header?.source ?? "",
      header_length: pyCell(a.header?.length),
      header_naxis1: pyCell(a.header?.naxis1),
      header_naxis2: pyCell(a.header?.naxis2),
      chunks_expected: pyCell(a.chunksExpected),
      chunks_present: pyCell(a.chunksPresent),
      marker_complete: a.marker ? pyCell(a.marker.complete) : "",
      marker_stored_chunks: pyCell(a.marker?.storedChunks),
      marker_written_at: a.marker?.writtenAt ?? "",
      marker_writer: a.marker?.writer ?? "",
      bytes_on_disk: String(a.bytesOnDisk),
      decoded_bytes: String(a.decodedBytes),
      checked_deep: pyCell(a.deep),
      chunks_decoded: pyCell(a.chunksDecoded),
      chunks_all_fill: pyCell(a.chunksAllFill),
      problem_codes: pyCell(a.problems.map((p) => p.code)),
      notes: pyCell(a.notes),
    };
    rows.push(ARRAY_COLUMNS.map((c) => row[c]));
  }
  for (const t of inv.temps) {
    const row: typeof blank = {
      ...blank,
      skycell_name: t.skycell ?? "",
      projection_id: t.skycell ? t.skycell.slice(8, 12) : "",
      array_name: t.name,
      exists: "True",
      corruption_notes: "[]",
      status: "temp",
      layout: t.layout,
      array_path: t.path,
      bytes_on_disk: String(t.bytes),
      notes: pyCell([`temp node: ${t.files} files, last change ${new Date(t.lastChangeMs).toISOString()}`]),
    };
    rows.push(ARRAY_COLUMNS.map((c) => row[c]));
  }
  for (const u of inv.unexpected) {
    const row: typeof blank = {
      ...blank,
      skycell_name: u.skycell ?? "",
      projection_id: u.skycell ? u.skycell.slice(8, 12) : "",
      array_name: u.name,
      exists: "True",
      corruption_notes: "[]",
      status: "unexpected",
      array_path: u.path,
      notes: pyCell([`unexpected ${u.nodeType}: reported, never removed`]),
    };
    rows.push(ARRAY_COLUMNS.map((c) => row[c]));
  }
  return rows;
}

/** The expected-list report. */
export function expectedRows(report: ExpectedReport): string[][] {
  return [
    [...EXPECTED_COLUMNS],
    ...report.skycells.map((s) => [
      s.name,
      s.name.slice(8, 12),
      s.role,
      s.state,
      pyCell(s.state === "complete"),
      pyCell(s.missing),
      pyCell(s.corrupt),
      s.layout ?? "",
    ]),
  ];
}

/** The cleanup report. */
export function cleanupRows(result: CleanupResult): string[][] {
  return [
    [...CLEANUP_COLUMNS],
    ...result.items.map((i) => [
      i.category,
      i.kind,
      i.path,
      i.action,
      String(i.bytes),
      pyCell(i.bytes / MIB, true),
      String(i.files),
      i.reason,
    ]),
  ];
}

/** `YYYYMMDD_HHMMSS` in local time, as the Python tool's `time.strftime("%Y%m%d_%H%M%S")`. */
export function timestampOf(date: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}_` +
    `${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/** Options of {@link writeReports}. */
export interface ReportOptions {
  /** The timestamp in the file names (default now). */
  date?: Date;
  /** Inserted after the timestamp (e.g. `_after_cleanup`). */
  suffix?: string;
  /** Also write the `*_latest.csv` copies (default true). */
  latest?: boolean;
  /** A cleanup result to write as `cleanup_{ts}.csv`. */
  cleanup?: CleanupResult;
}

/** The report files written, by kind. */
export interface ReportPaths {
  /** The skycell report. */
  skycells: string;
  /** The array report. */
  arrays: string;
  /** The expected-list report, when there was a list. */
  expected?: string;
  /** The cleanup report, after a cleanup. */
  cleanup?: string;
}

async function writeCsv(file: string, rows: string[][], latest: string | null): Promise<void> {
  const text = formatCsv(rows);
  await Deno.writeTextFile(file, text);
  if (latest) await Deno.writeTextFile(latest, text);
}

/** Writes the CSV reports of an inventory into `outputDir` (created if needed). */
export async function writeReports(
  inv: Inventory,
  outputDir: string,
  opts: ReportOptions = {},
): Promise<ReportPaths> {
  await Deno.mkdir(outputDir, { recursive: true });
  const stamp = timestampOf(opts.date ?? new Date()) + (opts.suffix ?? "");
  const latest = opts.latest ?? true;
  const file = (stem: string) => path.join(outputDir, `${stem}_${stamp}.csv`);
  const latestFile = (stem: string) => (latest ? path.join(outputDir, `${stem}_latest.csv`) : null);
  const out: ReportPaths = { skycells: file("skycell_inventory"), arrays: file("array_inventory") };
  await writeCsv(out.skycells, skycellRows(inv), latestFile("skycell_inventory"));
  await writeCsv(out.arrays, arrayRows(inv), latestFile("array_inventory"));
  if (inv.expected) {
    out.expected = file("expected_inventory");
    await writeCsv(out.expected, expectedRows(inv.expected), latestFile("expected_inventory"));
  }
  if (opts.cleanup) {
    // One cleanup file per run, named like the reports of the scan it acted on.
    out.cleanup = path.join(outputDir, `cleanup_${timestampOf(opts.date ?? new Date())}.csv`);
    await writeCsv(out.cleanup, cleanupRows(opts.cleanup), latestFile("cleanup"));
  }
  return out;
}

const RULE = "=".repeat(60);
const LISTED = 20;

function pct(n: number, total: number): string {
  return total > 0 ? `${((n / total) * 100).toFixed(1)}%` : "n/a";
}

/** The summary counts as text lines. */
export function summaryLines(s: Summary, title = "ZARR STORE INVENTORY SUMMARY"): string[] {
  const k = s.skycells;
  const a = s.arrays;
  const lines = [
    RULE,
    title,
    RULE,
    `Store: ${s.store}`,
    `Checked: ${
      s.deep
        ? "metadata, chunk files, every stored chunk decoded"
        : "metadata and chunk files (--deep decodes every chunk)"
    }`,
    `Bands: ${s.bands.join(", ")}`,
    "",
    `Skycells: ${k.total} = ${k.complete} complete + ${k.incomplete} incomplete + ${k.corrupt} corrupt` +
    (k.unreadable > 0 ? ` + ${k.unreadable} unreadable (never removed)` : ""),
    `  complete ${pct(k.complete, k.total)}; layouts: ${k.current} current, ${k.legacy} legacy`,
    `Arrays: ${a.expected} expected: ${a.healthy} healthy, ${a.corrupt} corrupt, ${a.missing} missing` +
    (a.unreadable > 0 ? `, ${a.unreadable} unreadable` : ""),
  ];
  if (a.otherBand > 0) lines.push(`  arrays of other bands: ${a.otherBand} (${a.otherBandCorrupt} corrupt)`);
  lines.push(
    `  chunk files: ${a.chunksPresent} of ${a.chunksExpected} grid chunks` +
      (a.chunksAllFill !== null ? `, ${a.chunksAllFill} stored all-fill` : "") +
      " (chunks of fill value only are not stored)",
  );
  lines.push(`Temp nodes: ${s.temps.count} (${formatMB(s.temps.bytes)})`);
  lines.push(`Unexpected nodes: ${s.unexpected} (reported, never removed)`);
  for (const p of s.storeProblems) lines.push(`Store problem: ${p}`);
  for (const n of s.storeNotes) lines.push(`Note: ${n}`);
  lines.push(
    `Size: ${formatMB(s.bytesOnDisk)} on disk, ${formatMB(s.decodedBytes)} decoded, compression ratio ${
      s.compressionRatio === null ? "n/a" : s.compressionRatio.toFixed(2)
    }`,
  );
  const bands = Object.entries(s.bandCompleteness).map(([b, c]) => `${b} ${c.complete}/${c.total}`);
  lines.push(`Complete per band: ${bands.join(", ")}`);
  lines.push(`Time: ${s.seconds < 60 ? `${s.seconds.toFixed(2)} s` : formatDuration(s.seconds)}`);
  return lines;
}

/** The full text summary: counts, the first problem skycells, the expected-list comparison. */
export function formatSummary(inv: Inventory, title?: string): string {
  const lines = summaryLines(inv.summary, title);
  const index = arraysBySkycell(inv);
  const corrupt = inv.skycells.filter((s) => s.state === "corrupt");
  if (corrupt.length > 0) {
    lines.push("", `Corrupt skycells (${corrupt.length}):`);
    for (const s of corrupt.slice(0, LISTED)) lines.push(`  ${s.path}: ${corruptionType(index, s)}`);
    if (corrupt.length > LISTED) lines.push(`  ... and ${corrupt.length - LISTED} more (see the CSV report)`);
  }
  const unreadable = inv.arrays.filter((a) => a.status === "unreadable");
  if (unreadable.length > 0) {
    lines.push(
      "",
      `Unreadable arrays (${unreadable.length}; permissions or I/O, not removed by any cleanup):`,
    );
    for (const a of unreadable.slice(0, LISTED)) lines.push(`  ${a.problems[0]?.message ?? a.path}`);
    if (unreadable.length > LISTED) {
      lines.push(`  ... and ${unreadable.length - LISTED} more (see the CSV report)`);
    }
  }
  if (inv.temps.length > 0) {
    lines.push("", `Temp nodes (${inv.temps.length}):`);
    for (const t of inv.temps.slice(0, LISTED)) lines.push(`  ${t.path} (${formatMB(t.bytes)})`);
    if (inv.temps.length > LISTED) lines.push(`  ... and ${inv.temps.length - LISTED} more`);
  }
  if (inv.unexpected.length > 0) {
    lines.push("", `Unexpected nodes (${inv.unexpected.length}):`);
    for (const u of inv.unexpected.slice(0, LISTED)) lines.push(`  ${u.path} (${u.nodeType})`);
    if (inv.unexpected.length > LISTED) lines.push(`  ... and ${inv.unexpected.length - LISTED} more`);
  }
  const e = inv.expected;
  if (e) {
    const ccd = e.sector !== null ? `sector ${e.sector} camera ${e.camera} CCD ${e.ccd}, ` : "";
    lines.push(
      "",
      `Expected skycells (${ccd}${e.source} list ${e.csvPath}):`,
      `  ${e.total} = ${e.complete} complete + ${e.incomplete} incomplete + ${e.corrupt} corrupt + ` +
        (e.unreadable > 0 ? `${e.unreadable} unreadable + ` : "") + `${e.absent} absent`,
    );
    for (const w of e.warnings) lines.push(`  warning: ${w}`);
    const missing = e.skycells.filter((s) => s.state !== "complete");
    for (const s of missing.slice(0, LISTED)) {
      const what = s.state === "absent"
        ? "absent"
        : `${s.state}${s.missing.length ? `, missing ${s.missing.join(",")}` : ""}${
          s.corrupt.length ? `, corrupt ${s.corrupt.join(",")}` : ""
        }`;
      lines.push(`  ${s.name} (${s.role}): ${what}`);
    }
    if (missing.length > LISTED) lines.push(`  ... and ${missing.length - LISTED} more (see the CSV report)`);
  }
  lines.push(RULE);
  return lines.join("\n");
}

/** A cleanup result as text: every removed item, kept items grouped by reason, the totals. */
export function formatCleanup(result: CleanupResult): string {
  const title = result.dryRun ? "CLEANUP DRY RUN: NOTHING CHANGED" : "CLEANUP";
  const lines = [RULE, title, RULE];
  lines.push(
    `Categories: ${result.categories.join(", ")}` +
      (result.categories.includes("incomplete") ? ` (incomplete rule: ${result.incompleteMode})` : ""),
  );
  const done = result.items.filter((i) => i.action === "removed" || i.action === "would_remove");
  lines.push(result.dryRun ? `Would remove (${done.length}):` : `Removed (${done.length}):`);
  for (const i of done) {
    lines.push(`  ${i.category.padEnd(10)} ${i.path} (${formatMB(i.bytes)}): ${i.reason}`);
  }
  const kept = result.items.filter((i) => i.action === "kept");
  if (kept.length > 0) {
    lines.push(`Kept (${kept.length}):`);
    const byReason = new Map<string, string[]>();
    for (const i of kept) {
      const key = `${i.category}: ${i.reason}`;
      byReason.set(key, [...(byReason.get(key) ?? []), i.path]);
    }
    for (const [reason, paths] of byReason) {
      lines.push(
        `  ${reason}: ${paths.slice(0, 5).join(", ")}${paths.length > 5 ? `, ... (${paths.length})` : ""}`,
      );
    }
  }
  const failed = result.items.filter((i) => i.action === "failed");
  if (failed.length > 0) {
    lines.push(`Failed (${failed.length}):`);
    for (const i of failed) lines.push(`  ${i.path}: ${i.reason}`);
  }
  lines.push(`${result.dryRun ? "Would free" : "Freed"}: ${formatMB(result.bytesFreed)}`);
  if (result.dryRun) lines.push("Re-run without --dry-run to remove these.");
  lines.push(RULE);
  return lines.join("\n");
}

/** The JSON document of an inventory: the summary, the expected comparison and every non-healthy item. */
export function inventoryJson(inv: Inventory): Record<string, unknown> {
  return {
    summary: inv.summary,
    expected: inv.expected
      ? { ...inv.expected, skycells: inv.expected.skycells.filter((s) => s.state !== "complete") }
      : null,
    skycells: inv.skycells.filter((s) => s.state !== "complete"),
    arrays: inv.arrays.filter((a) => a.status !== "healthy" || a.role === "other_band"),
    temps: inv.temps,
    unexpected: inv.unexpected,
  };
}
