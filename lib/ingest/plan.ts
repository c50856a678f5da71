/**
 * What a download run has to do: the skycell list (explicit names, a given CSV, or the mapping CSV of a
 * sector/camera/CCD), the shard of it this process takes, and per skycell the arrays to fetch and the ones
 * already complete in the store.
 *
 * "Complete" means the toolkit's completion marker; for arrays written by the Python tools (no marker), the
 * metadata (2-D, the kind's dtype), a header attribute and a shape equal to the header's NAXIS2 x NAXIS1.
 * @module
 */

import { FitsHeader } from "../fits/header.ts";
import { readSkycellList, type SkycellList } from "../ps1/mapping.ts";
import { parseSkycell, SkycellNameError } from "../ps1/skycell.ts";
import { type FileKind, PS1_BANDS } from "../ps1/urls.ts";
import { ARRAY_KINDS, arrayName, dtypeOf, findSkycell, headerOf, skycellGroupPath } from "../zarr/layout.ts";
import type { NodeInfo } from "../zarr/metadata.ts";
import { isOrphanTemp } from "../zarr/owner.ts";
import { type ZarrStore } from "../zarr/store.ts";
import { isMarkedComplete } from "../zarr/verify.ts";

/** A bad option or input of a download run (one line naming it). */
export class DownloadOptionError extends Error {
  /** @param message one line naming the option and value */
  constructor(message: string) {
    super(message);
    this.name = "DownloadOptionError";
  }
}

/** A 1/N share of the skycell list: index K (0-based) of N. */
export interface Shard {
  /** This share, 0 <= index < count. */
  index: number;
  /** Number of shares. */
  count: number;
}

/** Parses `K/N` (0 <= K < N); throws {@link DownloadOptionError}. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 0 && index < count)) {
    throw new DownloadOptionError(
      `--shard: expected K/N with 0 <= K < N (e.g. 0/4), got ${JSON.stringify(text)}`,
    );
  }
  return { index, count };
}

/**
 * The skycells of shard K of N: every N-th name of the sorted list starting at K, so the N shares are
 * disjoint, cover the list exactly once, and differ in size by at most one.
 */
export function shardSkycells(skycells: readonly string[], shard: Shard | undefined): string[] {
  const sorted = [...new Set(skycells)].sort();
  if (!shard || shard.count === 1) return sorted;
  return sorted.filter((_, i) => i % shard.count === shard.index);
}

/** Checks a band list (unique PS1 bands); throws {@link DownloadOptionError}. */
export function checkBands(bands: readonly string[]): string[] {
  if (bands.length === 0) throw new DownloadOptionError("--bands: no band given");
  for (const b of bands) {
    if (!(PS1_BANDS as readonly string[]).includes(b)) {
      throw new DownloadOptionError(`--bands: unknown PS1 band ${JSON.stringify(b)} (use g, r, i, z, y)`);
    }
  }
  return [...new Set(bands)];
}

/** Where the skycell list comes from. */
export interface ListSource {
  /** Explicit skycell names (`--skycell`). */
  skycells?: string[];
  /** A mapping CSV to read (`--skycells-csv`). */
  skycellsCsv?: string;
  /** Data root holding the mapping CSVs. */
  dataRoot: string;
  /** TESS sector, camera, CCD. */
  sector: number;
  /** TESS camera. */
  camera: number;
  /** TESS CCD. */
  ccd: number;
}

/** Resolves the skycell list; every name validated. Throws mapping errors or {@link DownloadOptionError}. */
export async function resolveSkycellList(src: ListSource): Promise<SkycellList> {
  if (src.skycells && src.skycells.length > 0) {
    src.skycells.forEach((name, i) => {
      try {
        parseSkycell(name);
      } catch (err) {
        if (err instanceof SkycellNameError) {
          throw new DownloadOptionError(`--skycell #${i + 1}: ${err.message}`);
        }
        throw err;
      }
    });
    const skycells = [...new Set(src.skycells)].sort();
    return {
      skycells,
      main: skycells,
      padding: [],
      mainCount: skycells.length,
      paddingCount: 0,
      csvPath: "",
      source: "given",
      warnings: [],
    };
  }
  return await readSkycellList({
    csvPath: src.skycellsCsv,
    dataRoot: src.dataRoot,
    sector: src.sector,
    camera: src.camera,
    ccd: src.ccd,
  });
}

/** One array of the plan. */
export interface ArrayJob {
  /** Skycell name. */
  skycell: string;
  /** Band. */
  band: string;
  /** Image, mask or weight. */
  kind: FileKind;
  /** Array name in the skycell group (`r`, `r_mask`, `r_wt`). */
  name: string;
  /** Store path of the skycell group. */
  group: string;
}

/** The state of one skycell before the run. */
export interface SkycellPlan {
  /** Skycell name. */
  skycell: string;
  /** Arrays to fetch. */
  fetch: ArrayJob[];
  /** Arrays already complete (skipped unless overwriting). */
  complete: ArrayJob[];
  /** Temp arrays of processes on this host that no longer run (safe to remove). */
  orphans: string[];
  /** Other temp arrays (another host's, or a build in progress). */
  temps: number;
}

/** The arrays a skycell needs for `bands`. */
export function skycellJobs(skycell: string, bands: readonly string[]): ArrayJob[] {
  const group = skycellGroupPath(skycell);
  return bands.flatMap((band) =>
    ARRAY_KINDS.map((kind) => ({ skycell, band, kind, name: arrayName(band, kind), group }))
  );
}

/**
 * True when an array in the store is complete for `kind`: the completion marker, or (Python-written) the
 * kind's dtype, 2-D, a header and a shape equal to the header's NAXIS2 x NAXIS1.
 */
export function isArrayComplete(info: NodeInfo | null, group: NodeInfo | null, kind: FileKind): boolean {
  if (info?.kind !== "array" || info.shape.length !== 2 || info.dtype !== dtypeOf(kind)) return false;
  if (isMarkedComplete(info)) return true;
  const header = headerOf(info, group);
  if (header === undefined) return false;
  try {
    const h = FitsHeader.fromString(header);
    return h.getNumber("NAXIS2") === info.shape[0] && h.getNumber("NAXIS1") === info.shape[1];
  } catch {
    return false;
  }
}

/** Checks the store for one skycell: which arrays are complete, which must be fetched. */
export async function planSkycell(
  store: ZarrStore,
  skycell: string,
  bands: readonly string[],
  overwrite: boolean,
): Promise<SkycellPlan> {
  const jobs = skycellJobs(skycell, bands);
  const plan: SkycellPlan = { skycell, fetch: [], complete: [], orphans: [], temps: 0 };
  const node = await findSkycell(store, skycell);
  // Arrays of the legacy layout are not reused: the toolkit writes the current layout.
  const current = node?.layout === "current" ? node : null;
  for (const temp of node?.temps ?? []) {
    if (await isOrphanTemp(store.root, temp.name)) plan.orphans.push(temp.path);
    else plan.temps++;
  }
  for (const job of jobs) {
    const child = overwrite ? undefined : current?.arrays.find((a) => a.name === job.name);
    if (child && isArrayComplete(child.info, current!.group, job.kind)) plan.complete.push(job);
    else plan.fetch.push(job);
  }
  return plan;
}
