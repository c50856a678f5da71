/**
 * The mapping CSV: the list of skycells whose pixels fall on a TESS sector/camera/CCD, written by the
 * upstream mapping stage under the data root. The download set is the sorted union of the `NAME` column
 * and the eight padding columns (neighbouring skycells needed as padding; a value is empty, `None`, one
 * name, or two names joined by `/`). Every name is validated; a bad one stops the run with its row number.
 *
 * @example
 * ```ts ignore
 * import { readSkycellList } from "./mapping.ts";
 * const list = await readSkycellList({ dataRoot: "data", sector: 20, camera: 3, ccd: 3 });
 * list.skycells; // ["skycell.2556.080", ...]
 * ```
 * @module
 */

import * as path from "node:path";
import { parseCsv } from "./csv.ts";
import { isSkycellName } from "./skycell.ts";

/** The padding columns of the mapping CSV, in the upstream stage's order. */
export const PADDING_COLUMNS = [
  "pad_skycell_top",
  "pad_skycell_right",
  "pad_skycell_top_right",
  "pad_skycell_bottom",
  "pad_skycell_left",
  "pad_skycell_bottom_left",
  "pad_skycell_bottom_right",
  "pad_skycell_top_left",
] as const;

/** The column holding the main skycell names. */
export const NAME_COLUMN = "NAME";

/** A mapping CSV that cannot be used (bad name, missing NAME column, malformed CSV). */
export class MappingCsvError extends Error {
  /** @param message one line naming the file (and row) */
  constructor(message: string) {
    super(message);
    this.name = "MappingCsvError";
  }
}

/** No mapping CSV at any of the paths tried. */
export class MappingCsvNotFoundError extends MappingCsvError {
  /** The paths looked at, in order. */
  readonly tried: string[];
  /** @param tried the paths looked at */
  constructor(tried: string[]) {
    super(`no mapping CSV found; tried ${tried.join(", ")}`);
    this.name = "MappingCsvNotFoundError";
    this.tried = tried;
  }
}

const pad4 = (n: number) => String(n).padStart(4, "0");

/** The newer and the legacy location of the mapping CSV for a sector/camera/CCD under `dataRoot`. */
export function mappingCsvPaths(
  dataRoot: string,
  sector: number,
  camera: number,
  ccd: number,
): { newer: string; legacy: string } {
  const s = pad4(sector);
  const file = `tess_s${s}_${camera}_${ccd}_master_skycells_list.csv`;
  return {
    newer: path.join(dataRoot, `s${s}`, `c${camera}`, `k${ccd}`, "mapping", "oversampling_1", file),
    legacy: path.join(
      dataRoot,
      "skycell_pixel_mapping",
      `sector_${s}`,
      `camera_${camera}`,
      `ccd_${ccd}`,
      file,
    ),
  };
}

/** The skycell list of a mapping CSV. */
export interface SkycellList {
  /** Sorted unique union of main and padding skycells. */
  skycells: string[];
  /** Data rows of the CSV (each names a main skycell; blank rows not counted), or the names given. */
  rows: number;
  /** Unique names in the NAME column. */
  mainCount: number;
  /** Unique padding names that are not also main names. */
  paddingCount: number;
  /** The main skycells (NAME column), sorted. */
  main: string[];
  /** The padding-only skycells, sorted. */
  padding: string[];
  /** The CSV that was read. */
  csvPath: string;
  /** Where it came from: the newer or legacy CSV path, a path or names given explicitly, or a footprint. */
  source: "newer" | "legacy" | "given" | "footprint";
  /** Things worth saying that do not stop the run (absent padding columns). */
  warnings: string[];
}

/** Options of {@link readSkycellList}: either `csvPath`, or the data root and sector/camera/CCD. */
export interface SkycellListOptions {
  /** The data root holding the mapping CSVs (default `data`). */
  dataRoot?: string;
  /** TESS sector (default 20). */
  sector?: number;
  /** TESS camera (default 3). */
  camera?: number;
  /** TESS CCD (default 3). */
  ccd?: number;
  /** A mapping CSV to read instead of looking under the data root. */
  csvPath?: string;
}

// Values of a padding cell that mean "no padding skycell" (pandas writes missing values as empty or nan).
const NO_PADDING = new Set(["", "none", "nan"]);

async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Finds and reads the mapping CSV. With `csvPath` that file is read; otherwise the newer path, then the
 * legacy path under `dataRoot` (default `data`) for `sector`/`camera`/`ccd` (default 20/3/3). Throws
 * {@link MappingCsvNotFoundError} listing the paths tried, or {@link MappingCsvError} for a bad file.
 */
export async function readSkycellList(opts: SkycellListOptions): Promise<SkycellList> {
  let csvPath: string;
  let source: SkycellList["source"];
  if (opts.csvPath !== undefined) {
    if (!(await isFile(opts.csvPath))) throw new MappingCsvNotFoundError([opts.csvPath]);
    csvPath = opts.csvPath;
    source = "given";
  } else {
    const { newer, legacy } = mappingCsvPaths(
      opts.dataRoot ?? "data",
      opts.sector ?? 20,
      opts.camera ?? 3,
      opts.ccd ?? 3,
    );
    if (await isFile(newer)) {
      csvPath = newer;
      source = "newer";
    } else if (await isFile(legacy)) {
      csvPath = legacy;
      source = "legacy";
    } else {
      throw new MappingCsvNotFoundError([newer, legacy]);
    }
  }
  const text = await Deno.readTextFile(csvPath);
  return { ...skycellListFromCsv(text, csvPath), csvPath, source };
}

/** Extracts the skycell list from mapping CSV text; `source` names the file in messages. */
export function skycellListFromCsv(
  text: string,
  source: string,
): Omit<SkycellList, "csvPath" | "source"> {
  let table;
  try {
    table = parseCsv(text, source);
  } catch (err) {
    throw new MappingCsvError((err as Error).message);
  }
  const header = table.header.map((h) => h.trim());
  const nameIndex = header.indexOf(NAME_COLUMN);
  if (nameIndex < 0) throw new MappingCsvError(`${source}: no ${NAME_COLUMN} column in the header`);
  const columns = PADDING_COLUMNS.map((c) => ({ column: c, index: header.indexOf(c) }));
  const present = columns.filter((p) => p.index >= 0);
  const warnings: string[] = [];
  if (present.length === 0) {
    warnings.push(`${source}: no padding columns; downloading the main skycells only`);
  } else if (present.length < PADDING_COLUMNS.length) {
    const missing = columns.filter((p) => p.index < 0).map((p) => p.column);
    warnings.push(`${source}: padding columns missing: ${missing.join(", ")}`);
  }
  const main = new Set<string>();
  const pad = new Set<string>();
  let rows = 0;
  table.records.forEach((record, r) => {
    // A row of empty fields only (",,,,") carries nothing; spreadsheets leave such rows behind.
    if (record.fields.every((f) => f.trim() === "")) return;
    rows++;
    const where = (column: string) => `${source}: row ${r + 1} (line ${record.line}), column ${column}`;
    const name = (record.fields[nameIndex] ?? "").trim();
    if (!isSkycellName(name)) {
      throw new MappingCsvError(`${where(NAME_COLUMN)}: invalid skycell name ${JSON.stringify(name)}`);
    }
    main.add(name);
    for (const { column, index } of present) {
      const value = (record.fields[index] ?? "").trim();
      if (NO_PADDING.has(value.toLowerCase())) continue;
      for (const part of value.split("/")) {
        const padName = part.trim();
        if (!isSkycellName(padName)) {
          throw new MappingCsvError(`${where(column)}: invalid skycell name ${JSON.stringify(padName)}`);
        }
        pad.add(padName);
      }
    }
  });
  if (main.size === 0) warnings.push(`${source}: no skycells listed`);
  const padding = [...pad].filter((p) => !main.has(p)).sort();
  const skycells = [...new Set([...main, ...pad])].sort();
  return {
    skycells,
    rows,
    mainCount: main.size,
    paddingCount: padding.length,
    main: [...main].sort(),
    padding,
    warnings,
  };
}
