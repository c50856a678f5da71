/**
 * The PS1 store layer's facts, defined once: where the store lives by default, the bands and array kinds,
 * array names, and the PS1 hierarchy inside the store: `{PPPP}/skycell.PPPP.CCC/{band}[_mask|_wt]`, and the legacy
 * read-only `projections/{PPPP}/skycell.PPPP.CCC/...` layout (possibly Zarr format 2). Listing walks the
 * directories and reads only metadata (no chunk), a few thousand small files for a full CCD.
 *
 * @example
 * ```ts
 * import { arrayName, skycellGroupPath } from "./layout.ts";
 * skycellGroupPath("skycell.2556.080"); // "2556/skycell.2556.080"
 * arrayName("r", "weight"); // "r_wt"
 * ```
 * @module
 */

import * as path from "node:path";
import { parseSkycell, SKYCELL_PATTERN } from "../ps1/skycell.ts";
import { PS1_BANDS } from "../ps1/urls.ts";
import type { NodeInfo } from "../zarr/metadata.ts";
import { isTempName, joinNodePath } from "../zarr/names.ts";
import type { ChildNode, ZarrStore } from "../zarr/store.ts";

/** The store directory's name inside the output directory. */
export const STORE_NAME = "ps1_skycells.zarr";

/** The default output directory (`--zarr-output-dir`); its parent is the data root (mapping CSVs). */
export const DEFAULT_OUTPUT_DIR = path.join("data", "ps1_skycells_zarr");

/** The default store: `data/ps1_skycells_zarr/ps1_skycells.zarr`. */
export const DEFAULT_STORE_PATH = path.join(DEFAULT_OUTPUT_DIR, STORE_NAME);

/** The default root of a local mirror of the archive (`--local-data-path`). */
export const DEFAULT_LOCAL_DATA_PATH = path.join("data", "ps1_skycells");

/** The default folder of the inventory's reports (`--output-dir` of zarr_inventory.ts). */
export const DEFAULT_INVENTORY_DIR = path.join("data", "zarr_inventory");

/** The default folder of extracted FITS files (`--output-dir` of zarr_to_fits.ts). */
export const DEFAULT_EXTRACT_DIR = "extracted_fits";

/** The default bands of a skycell (g is opt-in). */
export const DEFAULT_BANDS: readonly string[] = ["r", "i", "z", "y"];

/** Every PS1 band. */
export const ALL_BANDS: readonly string[] = PS1_BANDS;

/** A band list that cannot be used (the message names the band). */
export class BandListError extends Error {
  /** @param message one line naming the band */
  constructor(message: string) {
    super(message);
    this.name = "BandListError";
  }
}

/**
 * Checks a band list: at least one, every one a PS1 band (case and spaces ignored). Returns the bands
 * lower-cased, each once, in the order given. Throws {@link BandListError}.
 */
export function checkBands(bands: readonly string[]): string[] {
  const out = bands.map((b) => b.trim().toLowerCase());
  if (out.length === 0 || out.every((b) => b === "")) throw new BandListError("no band given");
  for (const b of out) {
    if (!ALL_BANDS.includes(b)) {
      throw new BandListError(`unknown PS1 band ${JSON.stringify(b)} (use ${ALL_BANDS.join(", ")})`);
    }
  }
  return [...new Set(out)];
}

/** What an array of a skycell holds. */
export type ArrayKind = "image" | "mask" | "weight";

/** The array kinds in store order. */
export const ARRAY_KINDS: readonly ArrayKind[] = ["image", "mask", "weight"];

const SUFFIX: Record<ArrayKind, string> = { image: "", mask: "_mask", weight: "_wt" };

/** The array name of a band and kind: `r`, `r_mask`, `r_wt`. */
export function arrayName(band: string, kind: ArrayKind): string {
  return band + SUFFIX[kind];
}

/** Band and kind of an array name, or null when it is not one of the skycell arrays. */
export function parseArrayName(name: string): { band: string; kind: ArrayKind } | null {
  const m = /^([grizy])(_mask|_wt)?$/.exec(name);
  if (!m) return null;
  return { band: m[1], kind: m[2] === "_mask" ? "mask" : m[2] === "_wt" ? "weight" : "image" };
}

/** The data type an array of this kind has: uint16 masks, float32 images and weights. */
export function dtypeOf(kind: ArrayKind): "float32" | "uint16" {
  return kind === "mask" ? "uint16" : "float32";
}

/** The arrays a complete skycell has for these bands (12 for r, i, z, y). */
export function expectedArrayNames(bands: readonly string[] = DEFAULT_BANDS): string[] {
  return bands.flatMap((band) => ARRAY_KINDS.map((kind) => arrayName(band, kind)));
}

/** Store path of a skycell's group in the current layout. Throws for a bad skycell name. */
export function skycellGroupPath(skycell: string): string {
  const { projection } = parseSkycell(skycell);
  return joinNodePath(projection, skycell);
}

/** A skycell group found in the store. */
export interface SkycellNode {
  /** Skycell name. */
  name: string;
  /** Projection cell (4 digits, from the name). */
  projection: string;
  /** Store path of the group. */
  path: string;
  /** Current or legacy (`projections/`) layout. */
  layout: "current" | "legacy";
  /** The group's metadata (null when missing or unreadable). */
  group: NodeInfo | null;
  /** Why the group metadata could not be read. */
  groupError?: string;
  /** Children that are (or claim to be) skycell arrays: `r`, `r_mask`, ... */
  arrays: ChildNode[];
  /** Temp arrays (`_temp_` in the name). */
  temps: ChildNode[];
  /** Anything else under the skycell group. */
  unexpected: ChildNode[];
}

/** Everything the layout walk found. */
export interface StoreListing {
  /** Skycell groups, sorted by name (current layout first when a skycell is in both). */
  skycells: SkycellNode[];
  /** Temp nodes above skycell level (e.g. a skycell being deleted). */
  temps: ChildNode[];
  /** Nodes that are not part of the layout (reported, never deleted). */
  unexpected: ChildNode[];
}

const PROJECTION = /^\d{4}$/;

async function listProjection(
  store: ZarrStore,
  projection: ChildNode,
  layout: "current" | "legacy",
  out: StoreListing,
): Promise<void> {
  const children = await store.listChildren(projection.path);
  await Promise.all(children.map(async (child) => {
    if (isTempName(child.name)) return void out.temps.push(child);
    if (!SKYCELL_PATTERN.test(child.name) || child.name.slice(8, 12) !== projection.name) {
      return void out.unexpected.push(child);
    }
    out.skycells.push(await describeSkycell(store, child, projection.name, layout));
  }));
}

async function describeSkycell(
  store: ZarrStore,
  group: ChildNode,
  projection: string,
  layout: "current" | "legacy",
): Promise<SkycellNode> {
  const node: SkycellNode = {
    name: group.name,
    projection,
    path: group.path,
    layout,
    group: group.info,
    groupError: group.error,
    arrays: [],
    temps: [],
    unexpected: [],
  };
  for (const child of await store.listChildren(group.path)) {
    if (isTempName(child.name)) node.temps.push(child);
    else if (parseArrayName(child.name)) node.arrays.push(child);
    else node.unexpected.push(child);
  }
  return node;
}

/** Walks the store's hierarchy (current and legacy layouts) reading only metadata. */
export async function listStore(store: ZarrStore): Promise<StoreListing> {
  const out: StoreListing = { skycells: [], temps: [], unexpected: [] };
  const top = await store.listChildren("");
  const projections: [ChildNode, "current" | "legacy"][] = [];
  for (const child of top) {
    if (PROJECTION.test(child.name)) projections.push([child, "current"]);
    else if (child.name === "projections") {
      for (const p of await store.listChildren(child.path)) {
        if (PROJECTION.test(p.name)) projections.push([p, "legacy"]);
        else if (isTempName(p.name)) out.temps.push(p);
        else out.unexpected.push(p);
      }
    } else if (isTempName(child.name)) out.temps.push(child);
    else out.unexpected.push(child);
  }
  await Promise.all(projections.map(([p, layout]) => listProjection(store, p, layout, out)));
  const rank = (s: SkycellNode) => s.layout === "current" ? 0 : 1;
  out.skycells.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : rank(a) - rank(b));
  out.temps.sort((a, b) => a.path < b.path ? -1 : 1);
  out.unexpected.sort((a, b) => a.path < b.path ? -1 : 1);
  return out;
}

/** Finds one skycell's group (current layout first, then legacy), or null. */
export async function findSkycell(store: ZarrStore, skycell: string): Promise<SkycellNode | null> {
  const { projection } = parseSkycell(skycell);
  for (
    const [groupPath, layout] of [
      [skycellGroupPath(skycell), "current"],
      [joinNodePath("projections", projection, skycell), "legacy"],
    ] as const
  ) {
    let info: NodeInfo | null = null;
    let error: string | undefined;
    try {
      info = await store.readNode(groupPath);
    } catch (err) {
      error = (err as Error).message;
    }
    if (info || error) {
      return await describeSkycell(
        store,
        { name: skycell, path: groupPath, info, error },
        projection,
        layout,
      );
    }
  }
  return null;
}

/** The header string of an array: its own `header` attribute, else the skycell group's (old stores). */
export function headerOf(array: NodeInfo | null, group: NodeInfo | null): string | undefined {
  for (const node of [array, group]) {
    const h = node?.attributes.header;
    if (typeof h === "string") return h;
  }
  return undefined;
}
