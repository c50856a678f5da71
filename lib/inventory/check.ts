/**
 * The checks of one skycell group and its arrays (see `records.ts` for what each outcome means).
 *
 * Chunk files are found with `Deno.statSync` on every key of the chunk grid: on this kind of machine
 * that is 3-5 times faster than `node:fs/promises` `stat` in parallel, and the stat of 49 keys per array
 * is the main cost of a metadata-only inventory. A key whose parent directory is absent (a whole chunk
 * row of fill) costs one failed stat for the row, not one per key. Parallelism comes from running
 * skycell groups in Web Workers (`scan_worker.ts`).
 *
 * With `deep`, every stored chunk is read and decoded: toolkit-layout chunks (bytes + zstd) with a
 * structural frame check ({@link checkZstdFrames}) then the native decoder and a size check; any other
 * codec chain through zarrita.
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
import { type ArrayKind, dtypeOf, parseArrayName } from "../zarr/layout.ts";
import {
  type ArrayInfo,
  chunkGridShape,
  defaultChunks,
  type NodeInfo,
  parseV2,
  parseV3,
} from "../zarr/metadata.ts";
import { checkNodeName, isTempName, joinNodePath } from "../zarr/names.ts";
import { openArrayReader } from "../zarr/read.ts";
import { type ChildNode, type ZarrStore } from "../zarr/store.ts";
import { MARKER_KEY } from "../zarr/verify.ts";
import { checkHeader } from "./header_check.ts";
import type {
  ArrayRecord,
  Layout,
  MarkerInfo,
  ProblemCode,
  TempRecord,
  UnexpectedRecord,
} from "./records.ts";
import { blankArrayRecord } from "./records.ts";
import { checkZstdFrames } from "./zstd_frame.ts";

/** A chunk grid above this many chunks is not scanned (no skycell comes near; a shape gone wrong does). */
export const MAX_SCANNED_CHUNKS = 1_000_000;

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

/** The chunk files of an array found by their grid keys. */
export interface ChunkScan {
  /** Keys and sizes of the chunk files present, in grid order. */
  files: { coords: number[]; key: string; bytes: number }[];
  /** Keys that exist but could not be stat'ed (permissions, I/O errors), with the reason. */
  unreadable: { key: string; message: string }[];
}

/** Finds the chunk files of an array directory by stat'ing every key of its grid (see the module doc). */
export function scanChunkFiles(
  dir: string,
  info: Pick<ArrayInfo, "shape" | "chunks" | "chunkKey">,
): ChunkScan {
  const grid = chunkGridShape(info);
  const out: ChunkScan = { files: [], unreadable: [] };
  const absentDirs = new Set<string>();
  const presentDirs = new Set<string>();
  const coords = grid.map(() => 0);
  const total = grid.reduce((a, b) => a * b, 1);
  for (let i = 0; i < total; i++) {
    // Row-major order over the grid.
    for (let d = grid.length - 1, rest = i; d >= 0; d--) {
      coords[d] = rest % grid[d];
      rest = Math.floor(rest / grid[d]);
    }
    const key = info.chunkKey(coords);
    const slash = key.lastIndexOf("/");
    const parent = slash > 0 ? key.slice(0, slash) : "";
    if (parent && absentDirs.has(parent)) continue;
    const file = dir + "/" + key;
    try {
      const st = Deno.statSync(file);
      if (st.isFile) out.files.push({ coords: [...coords], key, bytes: st.size });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        out.unreadable.push({ key, message: (err as Error).message });
      } else if (parent && !presentDirs.has(parent)) {
        const parentExists = (() => {
          try {
            return Deno.statSync(dir + "/" + parent).isDirectory;
          } catch {
            return false;
          }
        })();
        (parentExists ? presentDirs : absentDirs).add(parent);
      }
    }
  }
  return out;
}

function markerOf(attributes: Record<string, unknown>): MarkerInfo | null {
  const m = attributes[MARKER_KEY];
  if (typeof m !== "object" || m === null || Array.isArray(m)) return null;
  const r = m as Record<string, unknown>;
  const stored = r.stored_chunks;
  return {
    complete: r.complete === true,
    storedChunks: Number.isSafeInteger(stored) && (stored as number) >= 0 ? stored as number : null,
    writtenAt: typeof r.written_at === "string" ? r.written_at : null,
    writer: typeof r.writer === "string" ? r.writer : null,
  };
}

function itemSize(dtype: string): number {
  const m = /(\d+)$/.exec(dtype);
  return m ? Math.max(1, Number(m[1]) / 8) : 0;
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
 * Checks one array node (`child` as {@link ZarrStore.listChildren} gives it). The record's `role` is
 * `expected`; the caller sets it.
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
  const problem = (code: ProblemCode, message: string) => record.problems.push({ code, message });
  const finish = () => {
    record.status = record.problems.length > 0 ? "corrupt" : "healthy";
    return record;
  };
  const info: NodeInfo | null = child.info;
  if (!info) {
    record.bytesOnDisk = measureTree(dir).bytes;
    if (child.error) problem("metadata_unreadable", child.error);
    else problem("metadata_missing", `${child.path}: directory has no zarr.json, .zarray or .zgroup`);
    return finish();
  }
  record.format = info.format;
  if (info.kind !== "array") {
    problem("not_an_array", `${child.path}: a group stands where the ${ctx.kind} array should be`);
    // It may hold anything: reported, never removed by cleanup.
    record.removable = false;
    return finish();
  }
  record.dtype = info.dtype;
  record.shape = info.shape;
  record.chunkShape = info.chunks;
  record.codecs = info.codecs;
  record.marker = markerOf(info.attributes);
  const want = dtypeOf(ctx.kind);
  if (info.dtype !== want) {
    problem("wrong_dtype", `${child.path}: data type ${info.dtype}, expected ${want} for a ${ctx.kind}`);
  }
  if (info.shape.length !== 2) {
    problem("wrong_ndim", `${child.path}: shape ${JSON.stringify(info.shape)} is not 2-D`);
  }
  const gridOk = info.chunks.every((c) => Number.isSafeInteger(c) && c > 0) &&
    info.shape.every((n) => Number.isSafeInteger(n) && n >= 0);
  if (!gridOk) {
    problem("bad_chunk_grid", `${child.path}: chunk shape ${JSON.stringify(info.chunks)} is not usable`);
  }
  if (gridOk) {
    const elements = info.shape.reduce((a, b) => a * b, 1);
    record.decodedBytes = elements * itemSize(info.dtype);
  }

  // The header: the array's own attribute, else the skycell group's (old stores).
  const own = info.attributes.header;
  const fallback = ctx.groupAttributes.header;
  const source = own !== undefined ? "array" : fallback !== undefined ? "group" : null;
  if (source === null) {
    problem("header_missing", `${child.path}: no header attribute on the array or its skycell group`);
  } else {
    const h = checkHeader(source === "array" ? own : fallback);
    record.header = { source, length: h.length, naxis1: h.naxis1, naxis2: h.naxis2 };
    if (source === "group") record.notes.push("header taken from the skycell group (old store)");
    for (const n of h.notes) record.notes.push(n);
    if (h.error) {
      problem(h.errorKind === "no_naxis" ? "header_no_naxis" : "header_invalid", `${child.path}: ${h.error}`);
    } else if (info.shape.length === 2 && (info.shape[0] !== h.naxis2 || info.shape[1] !== h.naxis1)) {
      problem(
        "shape_mismatch",
        `${child.path}: shape ${info.shape[0]} x ${
          info.shape[1]
        } contradicts the header's NAXIS2 x NAXIS1 = ${h.naxis2} x ${h.naxis1}`,
      );
    }
  }
  if (info.fillValue === null) record.notes.push("fill_value is null (zarr-python rejects it)");
  if (!record.marker) {
    record.notes.push("no completion marker (written by another tool): judged by metadata, header and shape");
  } else if (!record.marker.complete) {
    record.notes.push("completion marker present but not complete: true");
  }
  if (gridOk && info.shape.length === 2) {
    const [dr, dc] = defaultChunks([info.shape[0], info.shape[1]]);
    if (info.chunks[0] !== dr || info.chunks[1] !== dc) {
      record.notes.push(`chunk shape ${info.chunks.join(" x ")} differs from the usual ${dr} x ${dc}`);
    }
  }

  if (!gridOk) {
    record.bytesOnDisk = measureTree(dir).bytes;
    return finish();
  }
  const expected = chunkGridShape(info).reduce((a, b) => a * b, 1);
  record.chunksExpected = expected;
  if (expected > MAX_SCANNED_CHUNKS) {
    record.notes.push(`chunk grid of ${expected} chunks not scanned`);
    record.bytesOnDisk = measureTree(dir).bytes;
    return finish();
  }
  const scan = scanChunkFiles(dir, info);
  record.chunksPresent = scan.files.length;
  for (const f of scan.files) record.bytesOnDisk += f.bytes;
  if (scan.unreadable.length > 0) {
    const named = scan.unreadable.slice(0, NAMED_CHUNKS).map((u) => `${u.key} (${u.message})`).join(", ");
    problem(
      "chunk_unreadable",
      `${child.path}: ${scan.unreadable.length} chunk file(s) cannot be read: ${named}`,
    );
  }
  const empty = scan.files.filter((f) => f.bytes === 0);
  if (empty.length > 0) {
    const named = empty.slice(0, NAMED_CHUNKS).map((f) => f.key).join(", ");
    problem("empty_chunk_file", `${child.path}: ${empty.length} chunk file(s) of 0 bytes: ${named}`);
  }
  const marker = record.marker;
  if (marker?.complete && marker.storedChunks !== null) {
    if (scan.files.length < marker.storedChunks) {
      problem(
        "chunks_below_marker",
        `${child.path}: ${scan.files.length} chunk files present, the completion marker records ${marker.storedChunks}`,
      );
    } else if (scan.files.length > marker.storedChunks) {
      record.notes.push(
        `${scan.files.length} chunk files present, more than the ${marker.storedChunks} the marker records`,
      );
    }
  }
  // Chunks are decoded only when the metadata makes sense: a wrong type or shape is damage already.
  if (ctx.deep && record.problems.length === 0) await decodeAll(store, child.path, dir, info, scan, record);
  return finish();
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
  const fill = info.fillValue ?? (info.dtype === "float32" ? NaN : 0);
  const failures: string[] = [];
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
      let bytes: Uint8Array;
      try {
        bytes = Deno.readFileSync(file);
      } catch (err) {
        failures.push(`${f.key}: cannot read (${(err as Error).message})`);
        continue;
      }
      if (zstdFile) {
        const frames = checkZstdFrames(bytes);
        if (frames.error) throw new Error(frames.error);
        const want = elements * itemSize(info.dtype);
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

function readJsonSync(file: string): unknown | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`${file}: cannot read (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

/** A node's metadata as {@link ZarrStore.readNode} reads it (format 3, else 2), with synchronous reads. */
function readNodeSync(dir: string): NodeInfo | null {
  const v3 = readJsonSync(path.join(dir, "zarr.json"));
  if (v3 !== undefined) return parseV3(v3, path.join(dir, "zarr.json"));
  for (const file of [".zarray", ".zgroup"]) {
    const v2 = readJsonSync(path.join(dir, file));
    if (v2 !== undefined) {
      let attrs: unknown;
      try {
        attrs = readJsonSync(path.join(dir, ".zattrs"));
      } catch {
        attrs = undefined;
      }
      return parseV2(v2, attrs, path.join(dir, file));
    }
  }
  return null;
}

/**
 * The child directories of a group with their metadata, sorted by name, as {@link ZarrStore.listChildren}
 * gives them, but with synchronous reads: they read a skycell group's dozen small files 2-3 times faster
 * than `node:fs/promises` does, which matters over a thousand groups.
 */
export function listChildrenSync(store: ZarrStore, nodePath: string): ChildNode[] {
  const dir = store.fsPath(nodePath);
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw new Error(`${dir}: cannot list (${(err as Error).message})`);
  }
  return names.map((name): ChildNode => {
    const childPath = joinNodePath(nodePath, name);
    try {
      checkNodeName(name);
      return { name, path: childPath, info: readNodeSync(path.join(dir, name)) };
    } catch (err) {
      return { name, path: childPath, info: null, error: (err as Error).message };
    }
  });
}

/**
 * Lists a skycell group and checks every child: arrays of any band (`r`, `g_mask`, ...), temp nodes,
 * anything else as unexpected.
 */
export async function checkSkycellGroup(store: ZarrStore, task: GroupTask): Promise<GroupScan> {
  const out: GroupScan = { arrays: [], temps: [], unexpected: [] };
  let children: ChildNode[];
  try {
    children = listChildrenSync(store, task.path);
  } catch (err) {
    out.listError = (err as Error).message;
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
