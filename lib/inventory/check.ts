/**
 * The checks of one skycell group and its arrays. Every array's state is the store layer's verdict
 * (`lib/store/state.ts`, metadata and chunk files' directory entries; see `records.ts` for the rules);
 * this module turns it into the inventory's records and, with `deep`, reads and decodes every stored
 * chunk on top: toolkit-layout chunks (bytes + zstd) with a structural frame check
 * ({@link checkZstdFrames}) then the native decoder capped at the chunk's size; any other codec chain
 * through zarrita. Every read is bounded (see `lib/zarr/files.ts`). Parallelism comes from running
 * skycell groups in Web Workers (`scan_worker.ts`).
 *
 * @example
 * ```ts ignore
 * const store = await ZarrStore.open("data/ps1_skycells_zarr/ps1_skycells.zarr");
 * const scan = await checkSkycellGroup(store, { name: "skycell.2556.080", projection: "2556",
 *   path: "2556/skycell.2556.080", layout: "current", groupAttributes: {}, deep: false });
 * scan.arrays.map((a) => a.problems);
 * ```
 * @module
 */

import * as path from "node:path";
import { registry } from "zarrita";
import { decodeChunk, isAllFill, type StoreTypedArray } from "../zarr/chunks.ts";
import { type ArrayKind, parseArrayName } from "../store/layout.ts";
import { arrayState, stateOfProblems } from "../store/state.ts";
import { UnreadableError } from "../zarr/errors.ts";
import { readStoreFileSync } from "../zarr/files.ts";
import { type ArrayInfo, chunkGridShape } from "../zarr/metadata.ts";
import { isTempName } from "../zarr/names.ts";
import { openArrayReader } from "../zarr/read.ts";
import type { ChildNode, ZarrStore } from "../zarr/store.ts";
import { type ChunkScan, itemBytes, maxChunkFileBytes } from "../zarr/verify.ts";
import type { ArrayRecord, Layout, TempRecord, UnexpectedRecord } from "./records.ts";
import { blankArrayRecord } from "./records.ts";
import { checkZstdFrames } from "./zstd_frame.ts";

/** Failing chunks named in a problem message at most (the count is always given). */
const NAMED_CHUNKS = 3;

/** One skycell group to check. */
export interface GroupTask {
  /** Skycell name. */
  name: string;
  /** Projection cell. */
  projection: string;
  /** Store path of the group. */
  path: string;
  /** Layout it was found in. */
  layout: Layout;
  /** The group's attributes (for the header fallback of old stores). */
  groupAttributes: Record<string, unknown>;
  /** Decode every stored chunk. */
  deep: boolean;
}

/** What checking a skycell group found (before the skycell state is decided). */
export interface GroupScan {
  /** Every child that is named like a skycell array, of any band. */
  arrays: ArrayRecord[];
  /** Temp nodes in the group. */
  temps: TempRecord[];
  /** Unexpected nodes in the group. */
  unexpected: UnexpectedRecord[];
  /** Why the group could not be listed. */
  listError?: string;
  /** True when the listing failed for permissions or I/O (no evidence of damage). */
  listUnreadable?: boolean;
}

/** Size, file count and newest change time of everything under a directory (symlinks not followed). */
export function measureTree(dir: string): { bytes: number; files: number; lastChangeMs: number } {
  const out = { bytes: 0, files: 0, lastChangeMs: 0 };
  const visit = (p: string) => {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch {
      return;
    }
    const changed = Math.max(st.mtime?.getTime() ?? 0, st.ctime?.getTime() ?? 0);
    if (changed > out.lastChangeMs) out.lastChangeMs = changed;
    if (st.isDirectory) {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(p)];
      } catch {
        return;
      }
      for (const e of entries) visit(path.join(p, e.name));
    } else {
      out.bytes += st.size;
      out.files++;
    }
  };
  visit(dir);
  return out;
}

/** Where the array sits and what it should be. */
export interface ArrayContext {
  /** Skycell name. */
  skycell: string;
  /** Projection cell. */
  projection: string;
  /** Layout of the group. */
  layout: Layout;
  /** Band. */
  band: string;
  /** Kind (decides the dtype). */
  kind: ArrayKind;
  /** The skycell group's attributes (header fallback). */
  groupAttributes: Record<string, unknown>;
  /** Decode every stored chunk. */
  deep: boolean;
}

/**
 * Checks one array node (`child` as {@link ZarrStore.listChildrenSync} gives it): the store layer's
 * verdict, then with `deep` every stored chunk decoded. The record's `role` is `expected`; the caller
 * sets it.
 */
export async function checkArray(
  store: ZarrStore,
  child: ChildNode,
  ctx: ArrayContext,
): Promise<ArrayRecord> {
  const dir = store.fsPath(child.path);
  const record = blankArrayRecord({
    skycell: ctx.skycell,
    projection: ctx.projection,
    layout: ctx.layout,
    name: child.name,
    path: child.path,
    band: ctx.band,
    kind: ctx.kind,
  }, true);
  const verdict = arrayState(store, child, { kind: ctx.kind, groupAttributes: ctx.groupAttributes });
  record.problems.push(...verdict.problems);
  record.notes.push(...verdict.notes);
  record.removable = verdict.removable;
  record.marker = verdict.marker;
  record.header = verdict.header;
  const info = verdict.info;
  if (child.info) record.format = child.info.format;
  if (info) {
    record.dtype = info.dtype;
    record.shape = info.shape;
    record.chunkShape = info.chunks;
    record.codecs = info.codecs;
    record.decodedBytes = info.shape.reduce((a, b) => a * b, 1) * itemBytes(info.dtype);
    record.chunksExpected = chunkGridShape(info).reduce((a, b) => a * b, 1);
  }
  const files = verdict.files;
  if (files) {
    record.chunksPresent = files.files.length;
    for (const f of files.files) record.bytesOnDisk += f.bytes;
  } else {
    record.bytesOnDisk = measureTree(dir).bytes;
  }
  // Chunks are decoded only when nothing else is wrong: a wrong type or shape is damage already.
  if (ctx.deep && verdict.state === "complete" && info && files) {
    await decodeAll(store, child.path, dir, info, files, record);
  }
  // The deep decode may have added problems: the same rule decides.
  const state = stateOfProblems(record.problems);
  record.status = state === "complete" ? "healthy" : state;
  return record;
}

function supported(codec: string): boolean {
  return registry.has(codec) || registry.has(`numcodecs.${codec}`);
}

/** Reads and decodes every stored chunk, recording failures as problems and counting all-fill chunks. */
async function decodeAll(
  store: ZarrStore,
  nodePath: string,
  dir: string,
  info: ArrayInfo,
  scan: ChunkScan,
  record: ArrayRecord,
): Promise<void> {
  const unknown = info.codecs.filter((c) => !supported(c));
  if (!info.plainZstd && unknown.length > 0) {
    record.notes.push(`codec ${unknown.join(", ")} cannot be decoded here: chunks not decoded`);
    return;
  }
  const elements = info.chunks.reduce((a, b) => a * b, 1);
  const limit = maxChunkFileBytes(info);
  const fill = info.fillValue ?? (info.dtype === "float32" ? NaN : 0);
  const failures: string[] = [];
  const unreadable: string[] = [];
  let decoded = 0;
  let allFill = 0;
  const reader = info.plainZstd ? null : await openArrayReader(store, nodePath);
  // When zstd is the outermost codec the file itself is zstd frames, whatever came before (v2 filters,
  // the v3 bytes codec): the structural check applies.
  const zstdFile = info.codecs.at(-1) === "zstd";
  for (const f of scan.files) {
    const file = path.join(dir, f.key);
    let chunk: StoreTypedArray | null = null;
    try {
      let bytes: Uint8Array | undefined;
      try {
        bytes = readStoreFileSync(store.root, file, limit);
      } catch (err) {
        if (err instanceof UnreadableError) {
          unreadable.push(`${f.key}: ${err.message}`);
          continue;
        }
        throw err;
      }
      if (bytes === undefined) {
        failures.push(`${f.key}: gone while the array was checked`);
        continue;
      }
      if (zstdFile) {
        const frames = checkZstdFrames(bytes);
        if (frames.error) throw new Error(frames.error);
        const want = elements * itemBytes(info.dtype);
        if (reader === null && frames.contentSize !== null && frames.contentSize !== want) {
          throw new Error(`frame records ${frames.contentSize} bytes, the chunk has ${want}`);
        }
      }
      if (reader === null) chunk = decodeChunk(bytes, info.dtype, elements, f.key);
      else {
        chunk = await reader.readChunk(f.coords);
        if (chunk && chunk.length !== elements) {
          throw new Error(`decoded ${chunk.length} values, the chunk has ${elements}`);
        }
      }
    } catch (err) {
      const message = (err as Error).message;
      if (/Unknown codec/i.test(message)) {
        record.notes.push(`codec cannot be decoded here: chunks not decoded (${message})`);
        return;
      }
      failures.push(message.startsWith(f.key) ? message : `${f.key}: ${message}`);
      continue;
    }
    decoded++;
    if (chunk && isAllFill(chunk, fill)) allFill++;
  }
  if (unreadable.length > 0) {
    record.problems.push({
      code: "chunk_unreadable",
      message: `${nodePath}: ${unreadable.length} chunk file(s) cannot be read: ${
        unreadable.slice(0, NAMED_CHUNKS).join("; ")
      }`,
    });
  }
  record.deep = true;
  record.chunksDecoded = decoded;
  record.chunksAllFill = allFill;
  if (failures.length > 0) {
    record.problems.push({
      code: "chunk_undecodable",
      message: `${nodePath}: ${failures.length} of ${scan.files.length} chunks do not decode: ${
        failures.slice(0, NAMED_CHUNKS).join("; ")
      }`,
    });
  }
}

/** A node's type for the report of unexpected nodes. */
function nodeTypeOf(child: ChildNode): UnexpectedRecord["nodeType"] {
  if (child.error) return "unreadable";
  return child.info ? child.info.kind : "directory";
}

/** A temp node with its size and last change. */
export function tempRecord(
  store: ZarrStore,
  child: ChildNode,
  skycell: string | null,
  layout: Layout,
): TempRecord {
  const m = measureTree(store.fsPath(child.path));
  return { path: child.path, name: child.name, skycell, layout, ...m };
}

/** An unexpected node record. */
export function unexpectedRecord(child: ChildNode, skycell: string | null): UnexpectedRecord {
  return { path: child.path, name: child.name, skycell, nodeType: nodeTypeOf(child) };
}

/**
 * Lists a skycell group and checks every child: arrays of any band (`r`, `g_mask`, ...), temp nodes,
 * anything else as unexpected.
 */
export async function checkSkycellGroup(store: ZarrStore, task: GroupTask): Promise<GroupScan> {
  const out: GroupScan = { arrays: [], temps: [], unexpected: [] };
  let children: ChildNode[];
  try {
    children = store.listChildrenSync(task.path);
  } catch (err) {
    out.listError = (err as Error).message;
    out.listUnreadable = err instanceof UnreadableError;
    return out;
  }
  for (const child of children) {
    if (isTempName(child.name)) {
      out.temps.push(tempRecord(store, child, task.name, task.layout));
      continue;
    }
    const parsed = parseArrayName(child.name);
    if (!parsed) {
      out.unexpected.push(unexpectedRecord(child, task.name));
      continue;
    }
    out.arrays.push(
      await checkArray(store, child, {
        skycell: task.name,
        projection: task.projection,
        layout: task.layout,
        band: parsed.band,
        kind: parsed.kind,
        groupAttributes: task.groupAttributes,
        deep: task.deep,
      }),
    );
  }
  return out;
}
