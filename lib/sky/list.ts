/**
 * Where a skycell list comes from, decided in one place for the download and the inventory's
 * `--expected`: names given, a mapping CSV given, a footprint computed from the sky (a TESS CCD, a FITS
 * image's WCS, a cone), or the mapping CSV an upstream stage wrote under the data root. When that CSV
 * is not found and nothing else was named, the CCD's computed footprint is used, with a warning that says
 * so and gives the main and padding counts.
 *
 * @example
 * ```ts ignore
 * const list = await resolveSkycellList({ dataRoot: "data", sector: 21, camera: 2, ccd: 1 });
 * list.source; // "newer", "legacy" or (no CSV found) "footprint"
 * ```
 * @module
 */

import { MappingCsvNotFoundError, readSkycellList, type SkycellList } from "../ps1/mapping.ts";
import { parseSkycell, SkycellNameError } from "../ps1/skycell.ts";
import {
  type FootprintSkycellList,
  skycellsForCone,
  skycellsForFits,
  skycellsForTessCcd,
} from "./footprint.ts";

/** A skycell list that cannot be had as asked (one line naming the option or input). */
export class SkycellListError extends Error {
  /** @param message one line naming what is wrong */
  constructor(message: string) {
    super(message);
    this.name = "SkycellListError";
  }
}

/** A cone on the sky, degrees. */
export interface Cone {
  /** Right ascension of the centre. */
  ra: number;
  /** Declination of the centre. */
  dec: number;
  /** Radius. */
  radius: number;
}

/** Where the skycell list comes from (the first that is given wins, in this order). */
export interface ListSource {
  /** Explicit skycell names (`--skycell`). */
  skycells?: string[];
  /** A mapping CSV to read (`--skycells-csv`). */
  skycellsCsv?: string;
  /** A cone (`--ra --dec --radius`). */
  cone?: Cone;
  /** A FITS image whose celestial WCS gives the footprint (`--footprint-fits`). */
  footprintFits?: string;
  /** The TESS CCD's computed footprint instead of its mapping CSV (`--footprint`). */
  footprint?: boolean;
  /** Use the CCD's computed footprint when its mapping CSV is not found (default true). */
  fallbackToFootprint?: boolean;
  /** Data root holding the mapping CSVs. */
  dataRoot: string;
  /** TESS sector. */
  sector: number;
  /** TESS camera. */
  camera: number;
  /** TESS CCD. */
  ccd: number;
}

function givenList(names: string[]): SkycellList {
  names.forEach((name, i) => {
    try {
      parseSkycell(name);
    } catch (err) {
      if (err instanceof SkycellNameError) throw new SkycellListError(`--skycell #${i + 1}: ${err.message}`);
      throw err;
    }
  });
  const skycells = [...new Set(names)].sort();
  return {
    skycells,
    rows: names.length,
    main: skycells,
    padding: [],
    mainCount: skycells.length,
    paddingCount: 0,
    csvPath: "",
    source: "given",
    warnings: [],
  };
}

/** A computed list, its input errors (an unknown sector, a cone too large, no WCS) as {@link SkycellListError}. */
async function computed(
  make: () => FootprintSkycellList | Promise<FootprintSkycellList>,
): Promise<SkycellList> {
  let list: FootprintSkycellList;
  try {
    list = await make();
  } catch (err) {
    if (
      err instanceof RangeError || (err as Error).name === "WcsError" || (err as Error).name === "FitsError"
    ) {
      throw new SkycellListError((err as Error).message);
    }
    throw err;
  }
  const { notes: _notes, ...rest } = list;
  return rest;
}

/** One line saying where a computed list came from, with its counts. */
export function describeList(list: SkycellList): string {
  const what = list.source === "footprint"
    ? `computed footprint of ${list.csvPath}`
    : `${list.csvPath} (${list.source} path)`;
  return `skycell list: ${what}: ${list.mainCount} main + ${list.paddingCount} padding`;
}

/**
 * Resolves the skycell list (see the module doc); every name validated. Throws `MappingCsvError` for a
 * bad CSV and {@link SkycellListError} for a bad name or footprint.
 */
export async function resolveSkycellList(src: ListSource): Promise<SkycellList> {
  if (src.skycells && src.skycells.length > 0) return givenList(src.skycells);
  if (src.cone) {
    const { ra, dec, radius } = src.cone;
    if (![ra, dec, radius].every(Number.isFinite)) {
      throw new SkycellListError("--ra, --dec and --radius: expected numbers (degrees)");
    }
    return await computed(() => skycellsForCone(ra, dec, radius));
  }
  if (src.footprintFits !== undefined) return await computed(() => skycellsForFits(src.footprintFits!));
  if (src.footprint) return await computed(() => skycellsForTessCcd(src.sector, src.camera, src.ccd));
  try {
    return await readSkycellList({
      csvPath: src.skycellsCsv,
      dataRoot: src.dataRoot,
      sector: src.sector,
      camera: src.camera,
      ccd: src.ccd,
    });
  } catch (err) {
    // No mapping CSV where the upstream stage writes it, and nothing else named: compute the CCD's list.
    const fallback = src.fallbackToFootprint ?? true;
    if (!(err instanceof MappingCsvNotFoundError) || src.skycellsCsv !== undefined || !fallback) throw err;
    const list = await computed(() => skycellsForTessCcd(src.sector, src.camera, src.ccd));
    const found = describeList(list).replace("skycell list: ", "");
    list.warnings.push(`${err.message.split("\n")[0]}; using the ${found}`);
    return list;
  }
}
