/**
 * What a download run has to do: the skycell list (explicit names, a given CSV, or the mapping CSV of a
 * sector/camera/CCD), the shard of it this process takes, and per skycell the arrays to fetch and the ones
 * already complete in the store.
 *
 * What is complete is the store layer's verdict (`lib/store/state.ts`): an array is fetched again unless it
 * is `complete`; an `unreadable` one is left alone (it may be healthy) and reported.
 * @module
 */

import type { FileKind } from "../ps1/urls.ts";
import { ARRAY_KINDS, arrayName, findSkycell, skycellGroupPath } from "../store/layout.ts";
import { arrayState } from "../store/state.ts";
import { isOrphanTemp } from "../zarr/owner.ts";
import type { ZarrStore } from "../zarr/store.ts";
import type { Shard } from "./options.ts";

/**
 * The skycells of shard K of N: every N-th name of the sorted list starting at K, so the N shares are
 * disjoint, cover the list exactly once, and differ in size by at most one.
 */
export function shardSkycells(skycells: readonly string[], shard: Shard | undefined): string[] {
  const sorted = [...new Set(skycells)].sort();
  if (!shard || shard.count === 1) return sorted;
  return sorted.filter((_, i) => i % shard.count === shard.index);
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
  /** Arrays present but damaged (fetched again), with the first piece of evidence. */
  damaged: { job: ArrayJob; reason: string }[];
  /** Arrays that cannot be read here (left alone, never replaced), with the reason. */
  unreadable: { job: ArrayJob; reason: string }[];
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

/** Checks the store for one skycell: which arrays are complete, which must be fetched. */
export async function planSkycell(
  store: ZarrStore,
  skycell: string,
  bands: readonly string[],
  overwrite: boolean,
): Promise<SkycellPlan> {
  const jobs = skycellJobs(skycell, bands);
  const plan: SkycellPlan = {
    skycell,
    fetch: [],
    complete: [],
    damaged: [],
    unreadable: [],
    orphans: [],
    temps: 0,
  };
  const node = await findSkycell(store, skycell);
  // Arrays of the legacy layout are not reused: the toolkit writes the current layout.
  const current = node?.layout === "current" ? node : null;
  for (const temp of node?.temps ?? []) {
    if (await isOrphanTemp(store.root, temp.name)) plan.orphans.push(temp.path);
    else plan.temps++;
  }
  for (const job of jobs) {
    const child = current?.arrays.find((a) => a.name === job.name);
    const verdict = arrayState(store, child, { kind: job.kind, groupAttributes: current?.group?.attributes });
    if (verdict.state === "unreadable") {
      plan.unreadable.push({ job, reason: verdict.problems[0].message });
    } else if (verdict.state === "complete" && !overwrite) plan.complete.push(job);
    else {
      if (verdict.state === "corrupt") plan.damaged.push({ job, reason: verdict.problems[0].message });
      plan.fetch.push(job);
    }
  }
  return plan;
}
