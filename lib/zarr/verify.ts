/**
 * Is an array whole? Decided cheaply, from its metadata and its chunk files' directory entries, never
 * by decoding:
 *
 * - An array the toolkit wrote carries the completion marker (attribute `ps1_zarr`, written as the last
 *   step of an atomic build). It records the chunks that were left out because they hold only the fill
 *   value (`fill_chunks`), so every other chunk of the grid must be there as a regular, non-empty file no
 *   larger than its compressed bound. Markers of earlier versions record only the count
 *   (`stored_chunks`), which must then be reached.
 * - An array without a marker (written by zarr-python) follows Zarr: an absent chunk is the fill value.
 *   Only the files present are judged.
 *
 * Chunk files that cannot be looked at (permissions, I/O) make the array `unreadable`, which is no
 * evidence of damage.
 *
 * @example
 * ```ts ignore
 * const info = store.readNodeSync("2556/skycell.2556.080/r") as ArrayInfo;
 * const files = verifyArrayFiles(store.root, store.fsPath("2556/skycell.2556.080/r"), info);
 * files.evidence; // [] when every recorded chunk is there
 * ```
 * @module
 */

import { errorCode, isUnreadableCode } from "./errors.ts";
import { checkStoreFileSync, joinInside } from "./files.ts";
import { type ArrayInfo, chunkGridShape } from "./metadata.ts";

/** The attribute that holds the completion marker and provenance of arrays the toolkit wrote. */
export const MARKER_KEY = "ps1_zarr";

/** The completion marker as found on an array. */
export interface MarkerInfo {
  /** `complete: true` (the toolkit writes the marker only as the last step of a complete write). */
  complete: boolean;
  /** Chunk files the writer wrote, or null when the marker does not say. */
  storedChunks: number | null;
  /** Keys of the chunks not written because they hold only the fill value, or null (older markers). */
  fillChunks: string[] | null;
  /** When the array was committed. */
  writtenAt: string | null;
  /** Which writer (`ps1-zarr <version>`). */
  writer: string | null;
}

/** The completion marker of an array's attributes, or null when it has none. */
export function markerOf(attributes: Record<string, unknown>): MarkerInfo | null {
  const m = attributes[MARKER_KEY];
  if (typeof m !== "object" || m === null || Array.isArray(m)) return null;
  const r = m as Record<string, unknown>;
  const stored = r.stored_chunks;
  const fill = r.fill_chunks;
  return {
    complete: r.complete === true,
    storedChunks: Number.isSafeInteger(stored) && (stored as number) >= 0 ? stored as number : null,
    fillChunks: Array.isArray(fill) && fill.every((k) => typeof k === "string") ? fill as string[] : null,
    writtenAt: typeof r.written_at === "string" ? r.written_at : null,
    writer: typeof r.writer === "string" ? r.writer : null,
  };
}

/** True when an array's attributes carry a completion marker saying `complete: true`. */
export function isMarkedComplete(info: Pick<ArrayInfo, "attributes">): boolean {
  return markerOf(info.attributes)?.complete === true;
}

/**
 * The largest a chunk file of `elements` values of `itemBytes` can be: zstd's worst case is a little
 * over the raw size; other codecs (blosc, gzip) stay within twice it. Anything larger is damage, and is
 * never read into memory.
 */
export function maxChunkFileBytes(info: Pick<ArrayInfo, "chunks" | "dtype">): number {
  return maxChunkBytes(info.chunks.reduce((a, b) => a * b, 1), info.dtype);
}

/** {@link maxChunkFileBytes} of a chunk of `elements` values of `dtype`. */
export function maxChunkBytes(elements: number, dtype: string): number {
  return 2 * elements * itemBytes(dtype) + 65536;
}

/** Bytes per element of a data type spelled `float32`, `uint16`, ... (1 when it has no size). */
export function itemBytes(dtype: string): number {
  const m = /(\d+)$/.exec(dtype);
  return m ? Math.max(1, Number(m[1]) / 8) : 1;
}

/** Evidence found in an array's chunk files. */
export type ChunkEvidenceCode =
  | "chunk_missing"
  | "chunks_below_marker"
  | "chunk_not_file"
  | "chunk_oversize"
  | "empty_chunk_file"
  | "chunk_unreadable";

/** One piece of evidence, with the keys it concerns. */
export interface ChunkEvidence {
  /** What was found. */
  code: ChunkEvidenceCode;
  /** One line naming the array and up to three keys. */
  message: string;
  /** Every key concerned. */
  keys: string[];
}

/** The chunk files of an array, found by their grid keys. */
export interface ChunkScan {
  /** Keys and sizes of the chunk files present, in grid order. */
  files: { coords: number[]; key: string; bytes: number }[];
  /** Keys that exist but could not be looked at (permissions, I/O errors), with the reason. */
  unreadable: { key: string; message: string }[];
  /** Keys where something other than a regular file stands, or a link leading out of the store. */
  notFiles: { key: string; message: string }[];
  /** Keys absent from the directory. */
  absent: string[];
}

/** Calls `visit` with every coordinate tuple of the grid, in row-major order (one array reused). */
function forEachCoords(grid: number[], visit: (coords: number[]) => void): void {
  const total = grid.reduce((a, b) => a * b, 1);
  const coords = grid.map(() => 0);
  for (let i = 0; i < total; i++) {
    for (let d = grid.length - 1, rest = i; d >= 0; d--) {
      coords[d] = rest % grid[d];
      rest = Math.floor(rest / grid[d]);
    }
    visit(coords);
  }
}

/**
 * Finds the chunk files of an array directory by looking up every key of its grid (so stray files are
 * not counted, and any key encoding works). A key whose parent directory is absent (a whole chunk row of
 * fill) costs one lookup for the row, not one per key. The grid's size is bounded by the metadata checks
 * (`MAX_GRID_CHUNKS`). Synchronous: on these machines `Deno.lstatSync` is 3-5 times faster than parallel
 * `node:fs/promises` calls for the few dozen keys of an array.
 */
export function scanChunkFilesSync(
  root: string,
  dir: string,
  info: Pick<ArrayInfo, "shape" | "chunks" | "chunkKey">,
): ChunkScan {
  const out: ChunkScan = { files: [], unreadable: [], notFiles: [], absent: [] };
  const dirState = new Map<string, "absent" | "present" | "unreadable">();
  const parentState = (parent: string): "absent" | "present" | "unreadable" => {
    let state = dirState.get(parent);
    if (state === undefined) {
      try {
        Deno.lstatSync(dir + "/" + parent);
        state = "present";
      } catch (err) {
        state = isUnreadableCode(errorCode(err)) ? "unreadable" : "absent";
      }
      dirState.set(parent, state);
    }
    return state;
  };
  forEachCoords(chunkGridShape(info), (coords) => {
    const key = info.chunkKey(coords);
    const slash = key.lastIndexOf("/");
    if (slash > 0 && parentState(key.slice(0, slash)) === "absent") return void out.absent.push(key);
    try {
      const check = checkStoreFileSync(root, joinInside(dir, key));
      if (check.kind === "file") out.files.push({ coords: [...coords], key, bytes: check.size });
      else if (check.kind === "absent") out.absent.push(key);
      else out.notFiles.push({ key, message: check.kind === "directory" ? "a directory" : check.what });
    } catch (err) {
      if ((err as Error).name === "UnreadableError") {
        out.unreadable.push({ key, message: (err as Error).message });
      } else out.notFiles.push({ key, message: (err as Error).message });
    }
  });
  return out;
}

const NAMED = 3;

function evidence(code: ChunkEvidenceCode, where: string, what: string, keys: string[]): ChunkEvidence {
  const named = keys.slice(0, NAMED).join(", ") + (keys.length > NAMED ? ", ..." : "");
  return { code, message: `${where}: ${keys.length} chunk file(s) ${what}: ${named}`, keys };
}

/** What {@link verifyArrayFiles} found. */
export interface ArrayFiles {
  /** The completion marker, or null (an array written by another tool). */
  marker: MarkerInfo | null;
  /** The chunk files. */
  scan: ChunkScan;
  /** Evidence of damage or unreadable files; empty when the array is whole. */
  evidence: ChunkEvidence[];
}

/**
 * Checks the chunk files of an array against its metadata and completion marker (see the module doc).
 * `where` names the array in messages (default: the directory).
 */
export function verifyArrayFiles(root: string, dir: string, info: ArrayInfo, where = dir): ArrayFiles {
  const marker = markerOf(info.attributes);
  const scan = scanChunkFilesSync(root, dir, info);
  const found: ChunkEvidence[] = [];
  if (scan.unreadable.length > 0) {
    found.push(evidence("chunk_unreadable", where, "cannot be read", scan.unreadable.map((u) => u.key)));
  }
  if (scan.notFiles.length > 0) {
    found.push(
      evidence(
        "chunk_not_file",
        where,
        `are not regular files in the store (${scan.notFiles[0].message})`,
        scan.notFiles.map((u) => u.key),
      ),
    );
  }
  const empty = scan.files.filter((f) => f.bytes === 0).map((f) => f.key);
  if (empty.length > 0) found.push(evidence("empty_chunk_file", where, "of 0 bytes", empty));
  const limit = maxChunkFileBytes(info);
  const huge = scan.files.filter((f) => f.bytes > limit).map((f) => f.key);
  if (huge.length > 0) found.push(evidence("chunk_oversize", where, `larger than ${limit} bytes`, huge));
  if (marker?.complete) {
    if (marker.fillChunks !== null) {
      const fill = new Set(marker.fillChunks);
      const gone = scan.absent.filter((key) => !fill.has(key));
      if (gone.length > 0) {
        found.push(evidence("chunk_missing", where, "recorded by the completion marker are gone", gone));
      }
    } else if (marker.storedChunks !== null && scan.files.length < marker.storedChunks) {
      found.push({
        code: "chunks_below_marker",
        message:
          `${where}: ${scan.files.length} chunk files present, the completion marker records ${marker.storedChunks}`,
        keys: [],
      });
    }
  }
  return { marker, scan, evidence: found };
}

/** The keys of every chunk of the grid, in row-major order. */
export function gridKeys(info: Pick<ArrayInfo, "shape" | "chunks" | "chunkKey">): string[] {
  const keys: string[] = [];
  forEachCoords(chunkGridShape(info), (coords) => keys.push(info.chunkKey(coords)));
  return keys;
}
