/**
 * Batch extraction: every array of a skycell into `{dir}/{skycell}/`, or one band of every skycell in the
 * store into `{dir}/`. Each file succeeds or fails on its own; a failure is recorded and the batch goes
 * on. Only an abort (the signal) stops it.
 *
 * @example
 * ```ts ignore
 * const items = await skycellBatchItems(store, "skycell.2556.080", "extracted_fits");
 * const summary = await extractBatch(store, items, { onOutcome: (o) => console.log(o.ok ? "✓" : "✗") });
 * summary.failed; // 0
 * ```
 * @module
 */

import * as path from "node:path";
import {
  ALL_BANDS,
  ARRAY_KINDS,
  type ArrayKind,
  DEFAULT_BANDS,
  findSkycell,
  listStore,
  parseArrayName,
  type SkycellNode,
} from "../store/layout.ts";
import type { ZarrStore } from "../zarr/store.ts";
import { BandPool } from "./bands.ts";
import { SkycellNotFoundError } from "./errors.ts";
import {
  type ArraySelector,
  extractArray,
  type ExtractOptions,
  type ExtractResult,
  outputName,
} from "./extract.ts";

/** One file of a batch: the array and where it goes. */
export interface BatchItem {
  /** The array. */
  selector: ArraySelector;
  /** The output file. */
  output: string;
  /** The skycell group, when already found (saves looking it up again). */
  skycell?: SkycellNode;
}

/** How one file of a batch went. */
export type BatchOutcome =
  | { item: BatchItem; ok: true; result: ExtractResult }
  | { item: BatchItem; ok: false; error: Error };

/** The outcomes of a batch, in order, and their counts. */
export interface BatchSummary {
  /** One per item. */
  outcomes: BatchOutcome[];
  /** Files written. */
  ok: number;
  /** Files that failed. */
  failed: number;
}

/**
 * The bands of a skycell batch: the default ones (r, i, z, y), then g when the skycell has any g array
 * (the g band is opt-in when downloading).
 */
function skycellBands(node: SkycellNode): string[] {
  const present = new Set(node.arrays.map((a) => parseArrayName(a.name)?.band));
  return ALL_BANDS.filter((b) => DEFAULT_BANDS.includes(b) || present.has(b));
}

/**
 * The items of a skycell batch: every array of `skycell` for `bands` (default: r, i, z, y, and g when
 * present) and `kinds` (default: image, mask, weight), into `{outputDir}/{skycell}/`. Arrays the skycell
 * lacks are still listed, so the batch reports them as failed. Throws {@link SkycellNotFoundError} when
 * the skycell is not in the store.
 */
export async function skycellBatchItems(
  store: ZarrStore,
  skycell: string,
  outputDir: string,
  opts: { bands?: readonly string[]; kinds?: readonly ArrayKind[] } = {},
): Promise<BatchItem[]> {
  const node = await findSkycell(store, skycell);
  if (!node) throw new SkycellNotFoundError(`skycell ${skycell} is not in the store ${store.root}`);
  const bands = opts.bands ?? skycellBands(node);
  const kinds = opts.kinds ?? ARRAY_KINDS;
  return bands.flatMap((band) =>
    kinds.map((kind) => {
      const selector = { skycell, band, kind };
      return { selector, output: path.join(outputDir, skycell, outputName(selector)), skycell: node };
    })
  );
}

/**
 * The items of a band batch: array `kind` (default the image) of `band` for every skycell in the store
 * (current layout preferred when a skycell is in both), into `{outputDir}/`. Skycells without that array
 * are still listed, so the batch reports them as failed.
 */
export async function bandBatchItems(
  store: ZarrStore,
  band: string,
  outputDir: string,
  kind: ArrayKind = "image",
): Promise<BatchItem[]> {
  const listing = await listStore(store);
  const seen = new Set<string>();
  const items: BatchItem[] = [];
  for (const node of listing.skycells) {
    if (seen.has(node.name)) continue;
    seen.add(node.name);
    const selector = { skycell: node.name, band, kind };
    items.push({ selector, output: path.join(outputDir, outputName(selector)), skycell: node });
  }
  return items;
}

/**
 * Extracts the items one after the other. A failing item is recorded (`onOutcome` sees it at once) and
 * the batch goes on; an abort through `opts.signal` stops it and is rethrown.
 */
export async function extractBatch(
  store: ZarrStore,
  items: readonly BatchItem[],
  opts: ExtractOptions & { onOutcome?: (outcome: BatchOutcome, index: number, total: number) => void } = {},
): Promise<BatchSummary> {
  const summary: BatchSummary = { outcomes: [], ok: 0, failed: 0 };
  // One pool for the whole batch (its workers start only if some file needs them).
  const pool = opts.pool ?? (opts.workers === 0 ? undefined : new BandPool(opts.workers));
  try {
    for (const [index, item] of items.entries()) {
      opts.signal?.throwIfAborted();
      const outcome = await extractItem(store, item, { ...opts, pool });
      summary.outcomes.push(outcome);
      if (outcome.ok) summary.ok++;
      else summary.failed++;
      opts.onOutcome?.(outcome, index, items.length);
    }
  } finally {
    if (pool !== opts.pool) pool?.close();
  }
  return summary;
}

/** One item's outcome; only an abort is thrown. */
async function extractItem(store: ZarrStore, item: BatchItem, opts: ExtractOptions): Promise<BatchOutcome> {
  try {
    const result = await extractArray(store, item.selector, item.output, opts, item.skycell);
    return { item, ok: true, result };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return { item, ok: false, error: err instanceof Error ? err : new Error(String(err)) };
  }
}
