/**
 * What the store holds, for `--list`: projection cells, their skycells, and per skycell how many of the
 * expected arrays (12 for bands r, i, z, y) are complete, by the store layer's verdict (the same the
 * inventory and the download follow). Reads metadata and chunk directory entries only.
 *
 * @example
 * ```ts ignore
 * const contents = await listContents(store);
 * for (const p of contents.projections) console.log(p.projection, p.skycells.length);
 * ```
 * @module
 */

import { ALL_BANDS, DEFAULT_BANDS, expectedArrayNames, listStore, parseArrayName } from "../store/layout.ts";
import { arrayState } from "../store/state.ts";
import type { ZarrStore } from "../zarr/store.ts";

/** One skycell group and its arrays. */
export interface SkycellContents {
  /** Skycell name. */
  name: string;
  /** Projection cell. */
  projection: string;
  /** Current or legacy (`projections/`) layout. */
  layout: "current" | "legacy";
  /** Store path of the group. */
  path: string;
  /** Arrays present (readable array metadata), in band and kind order. */
  arrays: string[];
  /** How many of the expected arrays are complete. */
  present: number;
  /** How many arrays a complete skycell has. */
  expected: number;
  /** Expected arrays that are absent or not complete (damaged, unreadable). */
  missing: string[];
  /** Present arrays beyond the expected ones (e.g. the opt-in g band). */
  extra: string[];
  /** All expected arrays complete. */
  complete: boolean;
  /** Arrays that are not complete (with the first piece of evidence), and temp arrays, as `name: why`. */
  problems: string[];
}

/** A projection cell and its skycells. */
export interface ProjectionContents {
  /** Projection cell, 4 digits. */
  projection: string;
  /** Its skycells, by name. */
  skycells: SkycellContents[];
  /** How many of them are complete. */
  complete: number;
}

/** The whole store. */
export interface StoreContents {
  /** Store path. */
  store: string;
  /** The bands a complete skycell has. */
  bands: string[];
  /** Projection cells, by number. */
  projections: ProjectionContents[];
  /** Skycell groups in total (a skycell in both layouts counts twice). */
  skycells: number;
  /** Complete skycell groups. */
  complete: number;
}

const ORDER = expectedArrayNames(ALL_BANDS);

/** Lists projections and skycells with their completeness against `bands` (default r, i, z, y). */
export async function listContents(
  store: ZarrStore,
  opts: { bands?: readonly string[] } = {},
): Promise<StoreContents> {
  const bands = [...(opts.bands ?? DEFAULT_BANDS)];
  const expected = expectedArrayNames(bands);
  const listing = await listStore(store);
  const byProjection = new Map<string, SkycellContents[]>();
  for (const node of listing.skycells) {
    const problems: string[] = [];
    const arrays: string[] = [];
    const complete = new Set<string>();
    for (const child of node.arrays) {
      if (child.info?.kind === "array") arrays.push(child.name);
      const verdict = arrayState(store, child, {
        kind: parseArrayName(child.name)!.kind,
        groupAttributes: node.group?.attributes,
      });
      if (verdict.state === "complete") complete.add(child.name);
      else {problems.push(
          `${child.name}: ${verdict.state} (${verdict.problems[0]?.message ?? "no array metadata"})`,
        );}
    }
    for (const temp of node.temps) problems.push(`${temp.name}: temporary array`);
    arrays.sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
    const missing = expected.filter((name) => !complete.has(name));
    const entry: SkycellContents = {
      name: node.name,
      projection: node.projection,
      layout: node.layout,
      path: node.path,
      arrays,
      present: expected.length - missing.length,
      expected: expected.length,
      missing,
      extra: arrays.filter((name) => !expected.includes(name)),
      complete: missing.length === 0,
      problems,
    };
    const list = byProjection.get(node.projection) ?? [];
    list.push(entry);
    byProjection.set(node.projection, list);
  }
  const projections = [...byProjection.keys()].sort().map((projection) => {
    const skycells = byProjection.get(projection)!;
    return { projection, skycells, complete: skycells.filter((s) => s.complete).length };
  });
  return {
    store: store.root,
    bands,
    projections,
    skycells: listing.skycells.length,
    complete: projections.reduce((n, p) => n + p.complete, 0),
  };
}
