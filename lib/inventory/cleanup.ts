/**
 * Cleanup after an inventory: removes what the chosen categories name, and nothing else.
 *
 * | category | what is removed |
 * |---|---|
 * | `temp` | temp nodes (`_temp_` in the name, any level) whose maker is gone: its owner lock on this host is free (see `lib/zarr/owner.ts`), or, when the name records no owner on this host (other tools, other hosts), nothing under it changed for `tempMinAgeSeconds` (default 900). A temp node of a running process is kept. |
 * | `corrupt` | arrays of the chosen bands with evidence of damage (status `corrupt`), in either layout; an array directory without any metadata counts as a damaged array. A group standing where an array should be is kept (it may hold anything), and so are healthy arrays of a skycell whose group metadata is damaged. |
 * | `incomplete`, mode `empty` (the default) | groups of incomplete skycells (current layout) that hold no array at all: nothing but their metadata. Healthy arrays of incomplete skycells are kept: a rerun of the download fills the gaps. |
 * | `incomplete`, mode `skycells` | whole groups of incomplete skycells (current layout), healthy arrays included, when they hold nothing but arrays of the chosen bands. |
 *
 * Never removed: unexpected nodes (and any group holding one, or holding a file that is not metadata),
 * arrays of other bands, legacy-layout (`projections/`) skycells by the incomplete rule (they may be the
 * only copy of older data; a damaged legacy array is removed by `corrupt` like any other).
 *
 * Each item is re-checked just before it is removed, under the store lock, with the same checks as the
 * scan: the store may have changed since (a temp array renamed into place, a corrupt array replaced by a
 * healthy one, missing arrays filled in by a download). An item that no longer qualifies is kept and the
 * reason given. Removal goes through the store module (`deleteTemp`, `deleteNode`). A dry run does the
 * same re-checks without the lock and changes nothing.
 *
 * @example
 * ```ts ignore
 * const inv = await inventory(storePath);
 * const result = await cleanup(inv, { categories: ["temp", "corrupt"], dryRun: true });
 * result.items.filter((i) => i.action === "would_remove");
 * ```
 * @module
 */

import * as path from "node:path";
import { ARRAY_KINDS, arrayName, parseArrayName } from "../store/layout.ts";
import { hostToken, isTempName, parseTempName, tempOwner } from "../zarr/names.ts";
import { isOwnerGone, ownersDir } from "../zarr/owner.ts";
import { ZarrStore } from "../zarr/store.ts";

import { checkArray, measureTree } from "./check.ts";
import type { ArrayRecord, Inventory, SkycellRecord } from "./records.ts";

/** What a cleanup may remove (see the module doc). */
export type CleanupCategory = "temp" | "corrupt" | "incomplete";

/** The rule of the `incomplete` category: only empty groups (default), or whole skycells. */
export type IncompleteMode = "empty" | "skycells";

/** The categories in the order they run. */
export const CLEANUP_CATEGORIES: readonly CleanupCategory[] = ["temp", "corrupt", "incomplete"];

/** Default quiet time before a temp node without a known owner is taken as abandoned, seconds. */
export const DEFAULT_TEMP_MIN_AGE_SECONDS = 900;

/** Options of {@link cleanup}. */
export interface CleanupOptions {
  /** What to remove. */
  categories: readonly CleanupCategory[];
  /** Rule of the `incomplete` category (default `empty`). */
  incomplete?: IncompleteMode;
  /** List what would be removed, change nothing. */
  dryRun?: boolean;
  /** Quiet time before a temp node without a known owner counts as abandoned (default 900 s). */
  tempMinAgeSeconds?: number;
  /** The store (default: opened from the inventory's path). */
  store?: ZarrStore;
  /** Called after each item is decided. */
  onItem?: (item: CleanupItem) => void;
  /** Clock, ms (default Date.now). */
  now?: () => number;
}

/** One thing the cleanup looked at. */
export interface CleanupItem {
  /** The category that named it. */
  category: CleanupCategory;
  /** A temp node, an array, or a whole skycell group. */
  kind: "temp" | "array" | "skycell";
  /** Store path. */
  path: string;
  /** Bytes of all files under it (measured just before removal). */
  bytes: number;
  /** Files under it. */
  files: number;
  /** Removed, would be removed (dry run), kept (does not qualify, or no longer), or failed. */
  action: "removed" | "would_remove" | "kept" | "failed";
  /** Why it was removed or kept, or the error. */
  reason: string;
}

/** What {@link cleanup} did. */
export interface CleanupResult {
  /** Nothing was changed. */
  dryRun: boolean;
  /** The categories run. */
  categories: CleanupCategory[];
  /** The rule of the `incomplete` category. */
  incompleteMode: IncompleteMode;
  /** Every item looked at, in order. */
  items: CleanupItem[];
  /** Items removed (or that would be, in a dry run). */
  removed: number;
  /** Items kept. */
  kept: number;
  /** Items whose removal failed. */
  failed: number;
  /** Bytes freed (or that would be, in a dry run). */
  bytesFreed: number;
}

/** A verdict of a re-check: remove it or keep it, and why. */
export interface Verdict {
  /** Remove it now. */
  remove: boolean;
  /** Why. */
  reason: string;
}

interface Planned {
  category: CleanupCategory;
  kind: CleanupItem["kind"];
  path: string;
  /** Re-check against the store as it is now. */
  recheck: () => Promise<Verdict>;
  /** Remove through the store module. */
  remove: () => Promise<boolean | string>;
}

function exists(dir: string): boolean {
  try {
    Deno.lstatSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Why a temp node may or may not be removed now (see the module doc). */
export async function tempVerdict(
  storeRoot: string,
  name: string,
  lastChangeMs: number,
  minAgeSeconds: number,
  now: number,
): Promise<Verdict> {
  const owner = tempOwner(name);
  if (owner && owner.host === hostToken()) {
    if (await isOwnerGone(storeRoot, owner.host, owner.pid)) {
      return { remove: true, reason: `its maker (process ${owner.pid}) is gone` };
    }
    if (exists(path.join(ownersDir(storeRoot), `${owner.host}-${owner.pid}`)) || owner.pid === Deno.pid) {
      return { remove: false, reason: `in progress: its maker (process ${owner.pid}) is running` };
    }
  }
  const age = (now - lastChangeMs) / 1000;
  if (age >= minAgeSeconds) {
    return { remove: true, reason: `unchanged for ${Math.floor(age)} s (maker unknown)` };
  }
  const who = owner ? `made on host ${owner.host}` : "maker unknown";
  return {
    remove: false,
    reason: `changed ${
      Math.floor(age)
    } s ago (${who}): may be in progress; removed after ${minAgeSeconds} s quiet`,
  };
}

async function groupAttributes(store: ZarrStore, groupPath: string): Promise<Record<string, unknown>> {
  try {
    return (await store.readNode(groupPath))?.attributes ?? {};
  } catch {
    return {};
  }
}

/** Re-checks an array with the scan's checks; the verdict is "remove" only when it is still corrupt. */
async function recheckArray(store: ZarrStore, record: ArrayRecord, deep: boolean): Promise<Verdict> {
  if (!exists(store.fsPath(record.path))) return { remove: false, reason: "gone since the scan" };
  const groupPath = record.path.slice(0, record.path.lastIndexOf("/"));
  const now = await checkArray(store, store.childSync(record.path), {
    skycell: record.skycell,
    projection: record.projection,
    layout: record.layout,
    band: record.band,
    kind: record.kind,
    groupAttributes: await groupAttributes(store, groupPath),
    deep,
  });
  if (now.status === "unreadable") {
    return { remove: false, reason: `cannot be read, never removed: ${now.problems[0].message}` };
  }
  if (now.status !== "corrupt") return { remove: false, reason: "healthy now (changed since the scan)" };
  if (!now.removable) return { remove: false, reason: now.problems[0].message };
  return { remove: true, reason: now.problems.map((p) => p.code).join(", ") };
}

const METADATA_FILES = new Set(["zarr.json", ".zgroup", ".zattrs"]);

/** Re-checks an incomplete skycell group before it is removed under `mode`. */
async function recheckSkycell(
  store: ZarrStore,
  skycell: SkycellRecord,
  mode: IncompleteMode,
  bands: readonly string[],
): Promise<Verdict> {
  const dir = store.fsPath(skycell.path);
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return { remove: false, reason: "gone since the scan" };
  }
  const wanted = new Set(bands.flatMap((b) => ARRAY_KINDS.map((k) => arrayName(b, k))));
  const arrays: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory) {
      if (METADATA_FILES.has(e.name)) continue;
      return { remove: false, reason: `holds ${e.name}, which is not metadata` };
    }
    if (isTempName(e.name)) {
      return { remove: false, reason: `holds temp node ${e.name} (a write may be in progress)` };
    }
    if (!parseArrayName(e.name)) return { remove: false, reason: `holds unexpected node ${e.name}` };
    if (!wanted.has(e.name)) return { remove: false, reason: `holds ${e.name}, an array of another band` };
    arrays.push(e.name);
  }
  if (mode === "empty") {
    if (arrays.length > 0) return { remove: false, reason: `holds ${arrays.join(", ")} now` };
    return { remove: true, reason: "incomplete and empty (no array)" };
  }
  // Every array it holds is looked at: one that cannot be read may be healthy, and is never removed.
  const attributes = await groupAttributes(store, skycell.path);
  let healthy = 0;
  for (const name of arrays) {
    const parsed = parseArrayName(name)!;
    const record = await checkArray(store, store.childSync(`${skycell.path}/${name}`), {
      skycell: skycell.name,
      projection: skycell.projection,
      layout: skycell.layout,
      band: parsed.band,
      kind: parsed.kind,
      groupAttributes: attributes,
      deep: false,
    });
    if (record.status === "unreadable") {
      return { remove: false, reason: `holds ${name}, which cannot be read: ${record.problems[0].message}` };
    }
    if (record.status === "healthy") healthy++;
  }
  if (healthy === wanted.size) return { remove: false, reason: "complete now (filled in since the scan)" };
  return {
    remove: true,
    reason: `incomplete (${wanted.size - arrays.length} of ${wanted.size} arrays missing)`,
  };
}

function plan(
  inv: Inventory,
  store: ZarrStore,
  opts: Required<Pick<CleanupOptions, "incomplete" | "tempMinAgeSeconds" | "now">> & CleanupOptions,
): { planned: Planned[]; keptUpfront: CleanupItem[] } {
  const planned: Planned[] = [];
  const keptUpfront: CleanupItem[] = [];
  const keep = (category: CleanupCategory, kind: CleanupItem["kind"], p: string, reason: string) =>
    keptUpfront.push({ category, kind, path: p, bytes: 0, files: 0, action: "kept", reason });
  const categories = new Set(opts.categories);
  if (categories.has("temp")) {
    // New builds before old arrays moved aside, so a finished replacement wins over what it replaced.
    const rank = (name: string) => (parseTempName(name)?.purpose === "new" ? 0 : 1);
    for (const t of [...inv.temps].sort((a, b) => rank(a.name) - rank(b.name))) {
      planned.push({
        category: "temp",
        kind: "temp",
        path: t.path,
        recheck: async () => {
          const dir = store.fsPath(t.path);
          if (!exists(dir)) {
            return { remove: false, reason: "gone since the scan (renamed into place or removed)" };
          }
          const m = measureTree(dir);
          return await tempVerdict(store.root, t.name, m.lastChangeMs, opts.tempMinAgeSeconds, opts.now());
        },
        // A temp array of this toolkit may be the only copy (a replace cut between its renames):
        // recoverTemp installs a complete one or restores an old one whose final name is free.
        remove: async () => {
          if (!parseTempName(t.name)) return await store.deleteTemp(t.path);
          const outcome = await store.recoverTemp(t.path);
          return outcome === "removed" ? true : `${outcome} under its final name`;
        },
      });
    }
  }
  if (categories.has("corrupt")) {
    for (const s of inv.skycells) {
      if (s.groupProblems.length > 0) {
        keep("corrupt", "skycell", s.path, `group metadata damaged, arrays kept: ${s.groupProblems[0]}`);
      }
    }
    for (const a of inv.arrays) {
      if (a.role !== "expected" || a.status !== "corrupt") continue;
      if (!a.removable) {
        keep("corrupt", "array", a.path, a.problems[0]?.message ?? "not removable");
        continue;
      }
      planned.push({
        category: "corrupt",
        kind: "array",
        path: a.path,
        recheck: () => recheckArray(store, a, inv.deep),
        remove: () => store.deleteNode(a.path),
      });
    }
  }
  if (categories.has("incomplete")) {
    for (const s of inv.skycells) {
      if (s.state !== "incomplete") continue;
      if (s.layout === "legacy") {
        keep(
          "incomplete",
          "skycell",
          s.path,
          "legacy layout: never removed as incomplete (may be the only copy)",
        );
        continue;
      }
      if (s.unexpected.length > 0) {
        keep("incomplete", "skycell", s.path, `holds unexpected node ${s.unexpected[0]}`);
        continue;
      }
      if (s.otherBand.length > 0) {
        keep("incomplete", "skycell", s.path, `holds ${s.otherBand[0]}, an array of another band`);
        continue;
      }
      if (opts.incomplete === "empty" && s.present.length > 0) {
        keep(
          "incomplete",
          "skycell",
          s.path,
          `holds ${s.present.length} healthy array(s): kept for the download to complete (mode skycells removes it)`,
        );
        continue;
      }
      planned.push({
        category: "incomplete",
        kind: "skycell",
        path: s.path,
        recheck: () => recheckSkycell(store, s, opts.incomplete, inv.bands),
        remove: () => store.deleteNode(s.path),
      });
    }
  }
  return { planned, keptUpfront };
}

/**
 * Removes what the chosen categories name (see the module doc), re-checking each item under the store
 * lock just before removing it. Returns every item looked at with what was done and why.
 */
export async function cleanup(inv: Inventory, opts: CleanupOptions): Promise<CleanupResult> {
  const store = opts.store ?? await ZarrStore.open(inv.store);
  const full = {
    ...opts,
    incomplete: opts.incomplete ?? "empty",
    tempMinAgeSeconds: opts.tempMinAgeSeconds ?? DEFAULT_TEMP_MIN_AGE_SECONDS,
    now: opts.now ?? Date.now,
  };
  const dryRun = opts.dryRun ?? false;
  const { planned, keptUpfront } = plan(inv, store, full);
  const items: CleanupItem[] = [];
  const record = (item: CleanupItem) => {
    items.push(item);
    opts.onItem?.(item);
  };
  // Items kept by rule come first within their category, then the ones re-checked, in category order.
  for (const category of CLEANUP_CATEGORIES) {
    for (const k of keptUpfront.filter((k) => k.category === category)) record(k);
    for (const p of planned.filter((p) => p.category === category)) {
      const base = { category: p.category, kind: p.kind, path: p.path, bytes: 0, files: 0 };
      const decide = async (): Promise<CleanupItem> => {
        const verdict = await p.recheck();
        if (!verdict.remove) return { ...base, action: "kept", reason: verdict.reason };
        const m = measureTree(store.fsPath(p.path));
        if (dryRun) return { ...base, ...sizeOf(m), action: "would_remove", reason: verdict.reason };
        const removed = await p.remove();
        if (!removed) return { ...base, action: "kept", reason: "gone before it could be removed" };
        const how = typeof removed === "string" ? `; ${removed}` : "";
        return { ...base, ...sizeOf(m), action: "removed", reason: verdict.reason + how };
      };
      try {
        // The re-check and the removal happen under one hold of the lock, so nothing can change between.
        record(dryRun ? await decide() : await store.lock.run(decide));
      } catch (err) {
        record({ ...base, action: "failed", reason: (err as Error).message.split("\n")[0] });
      }
    }
  }
  const done = items.filter((i) => i.action === "removed" || i.action === "would_remove");
  return {
    dryRun,
    categories: CLEANUP_CATEGORIES.filter((c) => opts.categories.includes(c)),
    incompleteMode: full.incomplete,
    items,
    removed: done.length,
    kept: items.filter((i) => i.action === "kept").length,
    failed: items.filter((i) => i.action === "failed").length,
    bytesFreed: done.reduce((s, i) => s + i.bytes, 0),
  };
}

function sizeOf(m: { bytes: number; files: number }): { bytes: number; files: number } {
  return { bytes: m.bytes, files: m.files };
}
