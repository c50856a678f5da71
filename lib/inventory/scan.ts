/**
 * Walking the store down to the skycell groups (current `{PPPP}/skycell...` and legacy
 * `projections/{PPPP}/skycell...`, Zarr format 3 or 2), then checking the groups, inline or in a pool of
 * Web Workers. The walk reads only group metadata; array metadata is read by whoever checks the group,
 * so every file is read once.
 *
 * The classification follows `lib/zarr/layout.ts` (`listStore`): 4-digit projection cells at the top or
 * under `projections/`, `skycell.PPPP.CCC` groups whose PPPP matches their projection cell, temp nodes by
 * `_temp_` in the name, anything else unexpected.
 *
 * @example
 * ```ts ignore
 * const walk = await walkStore(store);
 * const scans = await scanGroups(store, walk.groups, { deep: false, workers: 2 });
 * ```
 * @module
 */

import { SKYCELL_PATTERN } from "../ps1/skycell.ts";
import { readStoreTextSync } from "../zarr/files.ts";
import { parseJson } from "../zarr/json.ts";
import { isTempName } from "../zarr/names.ts";
import { WorkerPool } from "../zarr/pool.ts";
import type { ChildNode, ZarrStore } from "../zarr/store.ts";
import { checkSkycellGroup, type GroupScan, type GroupTask, tempRecord, unexpectedRecord } from "./check.ts";
import type { Layout, TempRecord, UnexpectedRecord } from "./records.ts";
import type { ScanJob } from "./scan_worker.ts";

const PROJECTION = /^\d{4}$/;

/** A skycell group found by the walk. */
export interface FoundGroup {
  /** Skycell name. */
  name: string;
  /** Projection cell. */
  projection: string;
  /** Store path. */
  path: string;
  /** Layout. */
  layout: Layout;
  /** Zarr format of its metadata, or null when missing or unreadable. */
  format: 2 | 3 | null;
  /** Its attributes ({} without metadata). */
  attributes: Record<string, unknown>;
  /** Missing or unreadable metadata of the group itself or of a parent group. */
  problems: string[];
}

/** What the walk found above and at skycell level. */
export interface StoreWalk {
  /** Skycell groups, sorted by name, current layout first. */
  groups: FoundGroup[];
  /** Temp nodes above skycell level. */
  temps: TempRecord[];
  /** Unexpected nodes above skycell level. */
  unexpected: UnexpectedRecord[];
  /** Groups above skycell level without readable metadata. */
  storeProblems: string[];
  /** Things about the store as a whole that are not damage (consolidated metadata). */
  storeNotes: string[];
}

/**
 * Consolidated metadata, which zarr-python trusts over the directory tree: the toolkit never writes it,
 * so a copy in the store may not match what is there (and will not match after a cleanup).
 */
function consolidatedNotes(store: ZarrStore): string[] {
  const notes: string[] = [];
  try {
    const doc = parseJson(readStoreTextSync(store.root, `${store.root}/zarr.json`) ?? "null") as
      | { consolidated_metadata?: unknown }
      | null;
    if (doc?.consolidated_metadata) {
      notes.push(
        "the root zarr.json holds consolidated metadata, which zarr-python trusts over the tree: it may be stale",
      );
    }
  } catch {
    // No (readable) format 3 root: nothing to say here.
  }
  try {
    Deno.statSync(`${store.root}/.zmetadata`);
    notes.push(
      "the store has a .zmetadata file (consolidated metadata), which zarr-python may trust over the tree",
    );
  } catch {
    // None.
  }
  return notes;
}

function metadataProblem(child: ChildNode, what: string): string | null {
  if (child.error) return `${what} ${child.path}: metadata unreadable (${child.error})`;
  if (!child.info) return `${what} ${child.path}: no zarr.json or .zgroup`;
  return null;
}

/** Walks the store to the skycell groups, reading group metadata only. */
export async function walkStore(store: ZarrStore): Promise<StoreWalk> {
  const out: StoreWalk = {
    groups: [],
    temps: [],
    unexpected: [],
    storeProblems: [],
    storeNotes: consolidatedNotes(store),
  };
  const projections: { node: ChildNode; layout: Layout; inherited: string[] }[] = [];
  for (const child of await store.listChildren("")) {
    if (isTempName(child.name)) out.temps.push(tempRecord(store, child, null, "current"));
    else if (child.info?.kind === "array") out.unexpected.push(unexpectedRecord(child, null));
    else if (PROJECTION.test(child.name)) projections.push({ node: child, layout: "current", inherited: [] });
    else if (child.name === "projections") {
      const problem = metadataProblem(child, "group");
      if (problem) out.storeProblems.push(problem);
      for (const p of await store.listChildren(child.path)) {
        if (isTempName(p.name)) out.temps.push(tempRecord(store, p, null, "legacy"));
        else if (PROJECTION.test(p.name) && p.info?.kind !== "array") {
          projections.push({ node: p, layout: "legacy", inherited: problem ? [problem] : [] });
        } else out.unexpected.push(unexpectedRecord(p, null));
      }
    } else out.unexpected.push(unexpectedRecord(child, null));
  }
  await Promise.all(projections.map(async ({ node, layout, inherited }) => {
    const own = metadataProblem(node, "projection group");
    if (own) out.storeProblems.push(own);
    const above = own ? [...inherited, own] : inherited;
    for (const child of await store.listChildren(node.path)) {
      if (isTempName(child.name)) {
        out.temps.push(tempRecord(store, child, null, layout));
        continue;
      }
      const isSkycell = SKYCELL_PATTERN.test(child.name) && child.name.slice(8, 12) === node.name;
      if (!isSkycell || child.info?.kind === "array") {
        out.unexpected.push(unexpectedRecord(child, null));
        continue;
      }
      const problem = metadataProblem(child, "skycell group");
      out.groups.push({
        name: child.name,
        projection: node.name,
        path: child.path,
        layout,
        format: child.info?.format ?? null,
        attributes: child.info?.attributes ?? {},
        problems: problem ? [...above, problem] : above,
      });
    }
  }));
  const rank = (g: FoundGroup) => (g.layout === "current" ? 0 : 1);
  out.groups.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : rank(a) - rank(b)));
  out.temps.sort((a, b) => (a.path < b.path ? -1 : 1));
  out.unexpected.sort((a, b) => (a.path < b.path ? -1 : 1));
  out.storeProblems.sort();
  return out;
}

/** Options of {@link scanGroups}. */
export interface ScanOptions {
  /** Decode every stored chunk. */
  deep: boolean;
  /** Web Workers checking groups in parallel (1: on this thread). */
  workers: number;
  /** Called after each group. */
  onProgress?: (done: number, total: number) => void;
}

// Below this many groups a metadata-only scan is over before workers have started. A deep scan decodes
// hundreds of megabytes per group, so it uses them whenever there are two groups.
const MIN_GROUPS_FOR_WORKERS = 16;

/** Checks every group; results are in the order of `groups`. */
export async function scanGroups(
  store: ZarrStore,
  groups: FoundGroup[],
  opts: ScanOptions,
): Promise<GroupScan[]> {
  const tasks: GroupTask[] = groups.map((g) => ({
    name: g.name,
    projection: g.projection,
    path: g.path,
    layout: g.layout,
    groupAttributes: g.attributes,
    deep: opts.deep,
  }));
  let done = 0;
  const tick = () => opts.onProgress?.(++done, tasks.length);
  if (opts.workers <= 1 || tasks.length < (opts.deep ? 2 : MIN_GROUPS_FOR_WORKERS)) {
    const out: GroupScan[] = [];
    for (const task of tasks) {
      out.push(await checkSkycellGroup(store, task));
      tick();
    }
    return out;
  }
  const pool = new WorkerPool<ScanJob, GroupScan>(
    new URL("./scan_worker.ts", import.meta.url),
    Math.min(opts.workers, tasks.length),
  );
  try {
    return await Promise.all(tasks.map(async (task) => {
      let scan: GroupScan;
      try {
        scan = await pool.run({ root: store.root, task });
      } catch {
        // A worker that died (e.g. out of memory) loses only its task: check that group here.
        scan = await checkSkycellGroup(store, task);
      }
      tick();
      return scan;
    }));
  } finally {
    pool.close();
  }
}
