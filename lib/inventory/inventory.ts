/**
 * The inventory of a store: every skycell group with its state, every array with its checks, temp and
 * unexpected nodes, the counts, and optionally the comparison with the skycell list of a TESS
 * sector/camera/CCD. The states are defined in `records.ts`. Nothing is changed.
 *
 * @example
 * ```ts ignore
 * import { inventory } from "./inventory.ts";
 * const inv = await inventory("data/ps1_skycells_zarr/ps1_skycells.zarr", { deep: false });
 * inv.summary.skycells; // { total: 1000, complete: 990, incomplete: 7, corrupt: 3, ... }
 * ```
 * @module
 */

import * as path from "node:path";
import type { SkycellList } from "../ps1/mapping.ts";
import { resolveSkycellList, SkycellListError } from "../sky/list.ts";
import { ARRAY_KINDS, arrayName, BandListError, checkBands, DEFAULT_BANDS } from "../store/layout.ts";
import { ZarrStore } from "../zarr/store.ts";
import type { GroupScan } from "./check.ts";
import type {
  ArrayRecord,
  ExpectedReport,
  ExpectedSkycell,
  Inventory,
  SkycellRecord,
  SkycellState,
  Summary,
  TempRecord,
  UnexpectedRecord,
} from "./records.ts";
import { blankArrayRecord } from "./records.ts";
import { type FoundGroup, scanGroups, walkStore } from "./scan.ts";

/** Bad inventory options (an unknown band, an incomplete sector/camera/CCD). */
export class InventoryOptionError extends Error {
  /**
   * Makes the error.
   * @param message one line naming the option
   */
  constructor(message: string) {
    super(message);
    this.name = "InventoryOptionError";
  }
}

/** Where to find the skycell list of a CCD: a mapping CSV, or sector/camera/CCD under the data root. */
export interface ExpectedOptions {
  /** A mapping CSV to read. */
  csvPath?: string;
  /** TESS sector (with camera and CCD, unless `csvPath`). */
  sector?: number;
  /** TESS camera. */
  camera?: number;
  /** TESS CCD. */
  ccd?: number;
  /** The data root holding the mapping CSVs (default: {@link dataRootOf} the store). */
  dataRoot?: string;
  /** Compare with the CCD's computed footprint (lib/sky) instead of its mapping CSV. */
  footprint?: boolean;
}

/** Options of {@link inventory}. */
export interface InventoryOptions {
  /** Bands that make a skycell complete (default r, i, z, y). */
  bands?: readonly string[];
  /** Decode every stored chunk (default false: metadata and chunk file sizes only). */
  deep?: boolean;
  /** Web Workers checking skycell groups in parallel (default: the number of cores; 1: this thread). */
  workers?: number;
  /** Compare with the skycell list a CCD needs. */
  expected?: ExpectedOptions;
  /** Called after each skycell group is checked. */
  onProgress?: (done: number, total: number) => void;
}

/** The data root of a store: the parent of its output directory (`data` for `data/ps1_skycells_zarr/ps1_skycells.zarr`). */
export function dataRootOf(storePath: string): string {
  return path.dirname(path.dirname(path.resolve(storePath)));
}

/** {@link checkBands} of the store layer, failing as an inventory option. */
export function checkInventoryBands(bands: readonly string[]): string[] {
  try {
    return checkBands(bands);
  } catch (err) {
    if (err instanceof BandListError) throw new InventoryOptionError(err.message);
    throw err;
  }
}

function missingRecord(
  group: FoundGroup,
  name: string,
  band: string,
  kind: ArrayRecord["kind"],
): ArrayRecord {
  return blankArrayRecord({
    skycell: group.name,
    projection: group.projection,
    layout: group.layout,
    name,
    path: `${group.path}/${name}`,
    band,
    kind,
  }, false);
}

/** Decides a skycell group's state from its checks (the rules are in `records.ts`). */
export function classifySkycell(
  group: FoundGroup,
  scan: GroupScan,
  bands: readonly string[],
): { skycell: SkycellRecord; arrays: ArrayRecord[] } {
  const byName = new Map(scan.arrays.map((a) => [a.name, a]));
  const expected: string[] = [];
  const arrays: ArrayRecord[] = [];
  for (const band of bands) {
    for (const kind of ARRAY_KINDS) {
      const name = arrayName(band, kind);
      expected.push(name);
      const found = byName.get(name);
      arrays.push(found ? { ...found, role: "expected" } : missingRecord(group, name, band, kind));
    }
  }
  const otherBand = scan.arrays.filter((a) => !expected.includes(a.name))
    .map((a): ArrayRecord => ({ ...a, role: "other_band" }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const present = arrays.filter((a) => a.exists).map((a) => a.name);
  const missing = arrays.filter((a) => !a.exists).map((a) => a.name);
  const corrupt = arrays.filter((a) => a.status === "corrupt").map((a) => a.name);
  const unreadable = arrays.filter((a) => a.status === "unreadable").map((a) => a.name);
  const groupProblems = [...group.problems];
  if (scan.listError) groupProblems.push(`skycell group ${group.path}: cannot be listed (${scan.listError})`);
  const state: SkycellState = corrupt.length > 0 || groupProblems.length > 0
    ? "corrupt"
    : unreadable.length > 0 || scan.listUnreadable
    ? "unreadable"
    : missing.length > 0
    ? "incomplete"
    : "complete";
  const all = [...arrays, ...otherBand];
  const header = group.attributes.header;
  const skycell: SkycellRecord = {
    name: group.name,
    projection: group.projection,
    cell: group.name.slice(13),
    layout: group.layout,
    path: group.path,
    state,
    groupFormat: group.format,
    groupProblems,
    groupHeaderLength: typeof header === "string" ? header.length : 0,
    expected,
    present,
    missing,
    corrupt,
    unreadable,
    otherBand: otherBand.map((a) => a.name),
    temps: scan.temps.map((t) => t.name),
    unexpected: scan.unexpected.map((u) => u.name),
    bytesOnDisk: all.reduce((s, a) => s + a.bytesOnDisk, 0) + scan.temps.reduce((s, t) => s + t.bytes, 0),
    decodedBytes: all.reduce((s, a) => s + a.decodedBytes, 0),
  };
  return { skycell, arrays: [...arrays, ...otherBand] };
}

/** Counts over the records. */
export function summarize(
  parts: Pick<Inventory, "store" | "bands" | "deep" | "skycells" | "arrays" | "temps" | "unexpected">,
  storeProblems: string[],
  seconds: number,
  storeNotes: string[] = [],
): Summary {
  const count = (state: SkycellState) => parts.skycells.filter((s) => s.state === state).length;
  const expectedArrays = parts.arrays.filter((a) => a.role === "expected");
  const other = parts.arrays.filter((a) => a.role === "other_band");
  const present = parts.arrays.filter((a) => a.exists);
  const tempBytes = parts.temps.reduce((s, t) => s + t.bytes, 0);
  const arrayBytes = present.reduce((s, a) => s + a.bytesOnDisk, 0);
  // The ratio is over arrays whose chunks were counted (their decoded size is known).
  const scanned = present.filter((a) => a.chunksPresent !== null);
  const scannedBytes = scanned.reduce((s, a) => s + a.bytesOnDisk, 0);
  const scannedDecoded = scanned.reduce((s, a) => s + a.decodedBytes, 0);
  const bandCompleteness: Summary["bandCompleteness"] = {};
  for (const band of parts.bands) bandCompleteness[band] = { complete: 0, total: parts.skycells.length };
  const healthy = new Set(
    expectedArrays.filter((a) => a.status === "healthy").map((a) => `${a.layout}:${a.skycell}:${a.name}`),
  );
  for (const s of parts.skycells) {
    for (const band of parts.bands) {
      if (ARRAY_KINDS.every((k) => healthy.has(`${s.layout}:${s.name}:${arrayName(band, k)}`))) {
        bandCompleteness[band].complete++;
      }
    }
  }
  return {
    store: parts.store,
    deep: parts.deep,
    bands: [...parts.bands],
    skycells: {
      total: parts.skycells.length,
      complete: count("complete"),
      incomplete: count("incomplete"),
      corrupt: count("corrupt"),
      unreadable: count("unreadable"),
      current: parts.skycells.filter((s) => s.layout === "current").length,
      legacy: parts.skycells.filter((s) => s.layout === "legacy").length,
    },
    arrays: {
      expected: expectedArrays.length,
      present: expectedArrays.filter((a) => a.exists).length,
      healthy: expectedArrays.filter((a) => a.status === "healthy").length,
      corrupt: expectedArrays.filter((a) => a.status === "corrupt").length,
      unreadable: expectedArrays.filter((a) => a.status === "unreadable").length,
      missing: expectedArrays.filter((a) => a.status === "missing").length,
      otherBand: other.length,
      otherBandCorrupt: other.filter((a) => a.status === "corrupt").length,
      chunksExpected: present.reduce((s, a) => s + (a.chunksExpected ?? 0), 0),
      chunksPresent: present.reduce((s, a) => s + (a.chunksPresent ?? 0), 0),
      chunksAllFill: parts.deep ? present.reduce((s, a) => s + (a.chunksAllFill ?? 0), 0) : null,
    },
    temps: { count: parts.temps.length, bytes: tempBytes },
    unexpected: parts.unexpected.length,
    storeProblems,
    storeNotes,
    bytesOnDisk: arrayBytes + tempBytes,
    decodedBytes: present.reduce((s, a) => s + a.decodedBytes, 0),
    compressionRatio: scannedBytes > 0 ? scannedDecoded / scannedBytes : null,
    bandCompleteness,
    seconds,
  };
}

/** Compares the skycell records with the list a CCD needs. */
export function compareExpected(
  skycells: SkycellRecord[],
  list: {
    skycells: string[];
    main: string[];
    csvPath: string;
    source: ExpectedReport["source"];
    warnings: string[];
  },
  expectedArrays: string[],
  lookup: { sector?: number; camera?: number; ccd?: number } = {},
): ExpectedReport {
  const byName = new Map<string, SkycellRecord>();
  for (const s of skycells) {
    // The current layout is preferred: it is where downloads write.
    const seen = byName.get(s.name);
    if (!seen || (seen.layout === "legacy" && s.layout === "current")) byName.set(s.name, s);
  }
  const main = new Set(list.main);
  const items: ExpectedSkycell[] = list.skycells.map((name) => {
    const s = byName.get(name);
    return {
      name,
      role: main.has(name) ? "main" : "padding",
      state: s ? s.state : "absent",
      missing: s ? s.missing : [...expectedArrays],
      corrupt: s ? s.corrupt : [],
      layout: s ? s.layout : null,
    };
  });
  const count = (state: ExpectedSkycell["state"]) => items.filter((i) => i.state === state).length;
  return {
    csvPath: list.csvPath,
    source: list.source,
    sector: lookup.sector ?? null,
    camera: lookup.camera ?? null,
    ccd: lookup.ccd ?? null,
    total: items.length,
    complete: count("complete"),
    incomplete: count("incomplete"),
    corrupt: count("corrupt"),
    unreadable: count("unreadable"),
    absent: count("absent"),
    skycells: items,
    warnings: list.warnings,
  };
}

/**
 * Takes the inventory of a store (a path or an open {@link ZarrStore}); changes nothing. Throws
 * {@link InventoryOptionError} for bad options, the store module's errors for a path that is not a store,
 * and the mapping reader's for a skycell list that cannot be found or read (before scanning anything).
 */
export async function inventory(store: string | ZarrStore, opts: InventoryOptions = {}): Promise<Inventory> {
  const bands = checkInventoryBands(opts.bands ?? DEFAULT_BANDS);
  const deep = opts.deep ?? false;
  const workers = opts.workers ?? (navigator.hardwareConcurrency || 1);
  if (!Number.isInteger(workers) || workers < 1) {
    throw new InventoryOptionError(`workers must be >= 1: ${workers}`);
  }
  const s = typeof store === "string" ? await ZarrStore.open(store) : store;
  let list: SkycellList | undefined;
  const e = opts.expected;
  if (e) {
    if (
      e.csvPath === undefined && (e.sector === undefined || e.camera === undefined || e.ccd === undefined)
    ) {
      throw new InventoryOptionError(
        "the expected skycells need a mapping CSV or all of sector, camera and CCD",
      );
    }
    try {
      list = await resolveSkycellList({
        skycellsCsv: e.csvPath,
        footprint: e.footprint,
        fallbackToFootprint: false,
        dataRoot: e.dataRoot ?? dataRootOf(s.root),
        sector: e.sector ?? 0,
        camera: e.camera ?? 0,
        ccd: e.ccd ?? 0,
      });
    } catch (err) {
      if (err instanceof SkycellListError) throw new InventoryOptionError(err.message);
      throw err;
    }
  }
  const startedAt = new Date();
  const t0 = performance.now();
  const walk = await walkStore(s);
  const scans = await scanGroups(s, walk.groups, { deep, workers, onProgress: opts.onProgress });
  const skycells: SkycellRecord[] = [];
  const arrays: ArrayRecord[] = [];
  const temps: TempRecord[] = [...walk.temps];
  const unexpected: UnexpectedRecord[] = [...walk.unexpected];
  walk.groups.forEach((group, i) => {
    const c = classifySkycell(group, scans[i], bands);
    skycells.push(c.skycell);
    arrays.push(...c.arrays);
    temps.push(...scans[i].temps);
    unexpected.push(...scans[i].unexpected);
  });
  temps.sort((a, b) => (a.path < b.path ? -1 : 1));
  unexpected.sort((a, b) => (a.path < b.path ? -1 : 1));
  const parts = { store: s.root, bands, deep, skycells, arrays, temps, unexpected };
  const inv: Inventory = {
    ...parts,
    startedAt: startedAt.toISOString(),
    summary: summarize(parts, walk.storeProblems, (performance.now() - t0) / 1000, walk.storeNotes),
  };
  if (list) {
    const names = bands.flatMap((b) => ARRAY_KINDS.map((k) => arrayName(b, k)));
    inv.expected = compareExpected(skycells, list, names, e?.csvPath === undefined ? e : {});
  }
  return inv;
}

/** True when the inventory found nothing to fix (see {@link problemCount}). */
export function isHealthy(inv: Inventory): boolean {
  return problemCount(inv) === 0;
}

/**
 * What makes the exit status 1: skycells not complete (incomplete, corrupt or unreadable), corrupt arrays of other bands, temp nodes, groups
 * without readable metadata above skycell level, and expected skycells not complete. Unexpected nodes and
 * notes are not problems.
 */
export function problemCount(inv: Inventory): number {
  const s = inv.summary;
  const expected = inv.expected ? inv.expected.total - inv.expected.complete : 0;
  return s.skycells.incomplete + s.skycells.corrupt + s.skycells.unreadable + s.arrays.otherBandCorrupt +
    s.temps.count +
    s.storeProblems.length + expected;
}
