/**
 * Zarr metadata: the exact `zarr.json` documents zarr-python 3 writes for the store's arrays and groups
 * (same keys, same order, same two-space indentation, so the files are byte-identical), and a reader that
 * turns any array or group metadata, Zarr format 3 (`zarr.json`) or 2 (`.zarray`/`.zgroup`/`.zattrs`),
 * into one {@link NodeInfo}.
 *
 * @example
 * ```ts
 * import { arrayMetadataJson } from "./metadata.ts";
 * const text = arrayMetadataJson({ shape: [6300, 6300], dtype: "float32", chunks: [1024, 1024] }, { header: "" });
 * JSON.parse(text).fill_value; // "NaN"
 * ```
 * @module
 */

import { DamagedNodeError, StoreError } from "./errors.ts";
import { pythonJson } from "./json.ts";

/** Data types the toolkit writes. */
export type StoreDtype = "float32" | "uint16";

/** Shape, type and chunking of a 2-D array the toolkit writes. */
export interface ArraySpec {
  /** [height, width]. */
  shape: [number, number];
  /** Element type. */
  dtype: StoreDtype;
  /** Chunk shape [rows, columns]. */
  chunks: [number, number];
}

/** The zstd level and codec chain of every array the toolkit writes (as the Python tools). */
export const ZSTD_LEVEL = 3;

/** The fill value of a data type in the store: NaN for floats, 0 for integers. */
export function fillValueOf(dtype: StoreDtype): number {
  return dtype === "float32" ? NaN : 0;
}

/** The default chunk shape for an image: (min(1024, H), min(1024, W)). */
export function defaultChunks(shape: readonly [number, number]): [number, number] {
  return [Math.min(1024, shape[0]), Math.min(1024, shape[1])];
}

/** Checks an {@link ArraySpec}; throws {@link StoreError} naming the bad field. */
export function checkArraySpec(spec: ArraySpec): void {
  const positive = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (spec.shape.length !== 2 || !spec.shape.every(positive)) {
    throw new StoreError(`invalid array shape ${JSON.stringify(spec.shape)}`);
  }
  if (spec.chunks.length !== 2 || !spec.chunks.every(positive)) {
    throw new StoreError(`invalid chunk shape ${JSON.stringify(spec.chunks)}`);
  }
  if (spec.dtype !== "float32" && spec.dtype !== "uint16") {
    throw new StoreError(`unsupported data type ${JSON.stringify(spec.dtype)}`);
  }
}

/** The `zarr.json` text zarr-python 3 writes for such an array with these attributes. */
export function arrayMetadataJson(spec: ArraySpec, attributes: Record<string, unknown>): string {
  checkArraySpec(spec);
  const doc = {
    shape: spec.shape,
    data_type: spec.dtype,
    chunk_grid: { name: "regular", configuration: { chunk_shape: spec.chunks } },
    chunk_key_encoding: { name: "default", configuration: { separator: "/" } },
    fill_value: spec.dtype === "float32" ? "NaN" : 0,
    codecs: [
      { name: "bytes", configuration: { endian: "little" } },
      { name: "zstd", configuration: { level: ZSTD_LEVEL, checksum: false } },
    ],
    attributes,
    zarr_format: 3,
    node_type: "array",
    storage_transformers: [],
  };
  return pythonJson(doc);
}

/** The `zarr.json` text zarr-python 3 writes for a group. */
export function groupMetadataJson(attributes: Record<string, unknown> = {}): string {
  return pythonJson({ attributes, zarr_format: 3, node_type: "group" });
}

/** What a node's metadata says, whatever the Zarr format. */
export type NodeInfo = ArrayInfo | GroupInfo;

/** A group's metadata. */
export interface GroupInfo {
  /** Node kind. */
  kind: "group";
  /** Zarr format (2 or 3). */
  format: 2 | 3;
  /** User attributes. */
  attributes: Record<string, unknown>;
}

/** An array's metadata, normalised. */
export interface ArrayInfo {
  /** Node kind. */
  kind: "array";
  /** Zarr format (2 or 3). */
  format: 2 | 3;
  /** Shape. */
  shape: number[];
  /** Chunk shape. */
  chunks: number[];
  /** Data type in the v3 spelling (`float32`, `uint16`, ...) or the raw v2 `dtype` when it has none. */
  dtype: string;
  /** Fill value (NaN for `"NaN"`), or null. */
  fillValue: number | null;
  /** Codec names in order (v2: the filters, then the compressor id). */
  codecs: string[];
  /** User attributes. */
  attributes: Record<string, unknown>;
  /** The store key (relative to the array) of a chunk. */
  chunkKey(coords: readonly number[]): string;
  /** True when the chunk layout is the toolkit's fast path: v3, bytes little endian then zstd, C order. */
  plainZstd: boolean;
}

const V2_DTYPES: Record<string, string> = {
  "<f4": "float32",
  "<f8": "float64",
  "<u2": "uint16",
  "<i2": "int16",
  "<u4": "uint32",
  "<i4": "int32",
  "|u1": "uint8",
  "|i1": "int8",
  ">f4": "float32",
  ">u2": "uint16",
};

function fillValue(v: unknown): number | null {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return typeof v === "number" ? v : null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Dimensions of an array at most (no array of this toolkit has more than 2). */
export const MAX_DIMENSIONS = 32;

/** Elements of one chunk at most: 32 Mi (a 1024 x 1024 chunk has 1 Mi). Bounds every chunk buffer. */
export const MAX_CHUNK_ELEMENTS = 1 << 25;

/** Chunks of an array's grid at most: 1 Mi (a skycell has 49). Bounds every loop over the grid. */
export const MAX_GRID_CHUNKS = 1 << 20;

/**
 * Checks a shape and chunk shape before anything loops over them or allocates by them: whole numbers,
 * sizes >= 0, chunk sizes >= 1, and grids and chunks within {@link MAX_GRID_CHUNKS} and
 * {@link MAX_CHUNK_ELEMENTS}. Throws {@link DamagedNodeError} naming `where`.
 */
export function checkGrid(shape: unknown, chunks: unknown, where: string): asserts shape is number[] {
  const bad = (what: string) => new DamagedNodeError(`${where}: ${what}`);
  if (!Array.isArray(shape) || shape.length > MAX_DIMENSIONS) throw bad("invalid shape");
  if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw bad(`invalid shape ${JSON.stringify(shape)}: sizes must be whole numbers >= 0`);
  }
  if (!Array.isArray(chunks) || chunks.length !== shape.length) {
    throw bad(`chunk shape ${JSON.stringify(chunks)} does not match shape ${JSON.stringify(shape)}`);
  }
  if (!chunks.every((n) => Number.isSafeInteger(n) && n >= 1)) {
    throw bad(`invalid chunk shape ${JSON.stringify(chunks)}: sizes must be whole numbers >= 1`);
  }
  let elements = 1;
  let count = 1;
  for (let i = 0; i < shape.length; i++) {
    elements *= chunks[i];
    count *= Math.ceil(shape[i] / chunks[i]);
  }
  if (elements > MAX_CHUNK_ELEMENTS) {
    throw bad(
      `chunk shape ${JSON.stringify(chunks)} has ${elements} elements (at most ${MAX_CHUNK_ELEMENTS})`,
    );
  }
  if (count > MAX_GRID_CHUNKS) {
    throw bad(`shape ${JSON.stringify(shape)} makes a grid of ${count} chunks (at most ${MAX_GRID_CHUNKS})`);
  }
}

function checkSeparator(sep: unknown, where: string): "/" | "." {
  if (sep === "/" || sep === ".") return sep;
  throw new DamagedNodeError(`${where}: chunk key separator ${JSON.stringify(sep)} (only "/" or ".")`);
}

/** Parses a v3 `zarr.json` document; `where` names it in errors. */
export function parseV3(doc: unknown, where: string): NodeInfo {
  if (!isRecord(doc) || doc.zarr_format !== 3) throw new StoreError(`${where}: not Zarr format 3 metadata`);
  const attributes = isRecord(doc.attributes) ? doc.attributes : {};
  if (doc.node_type === "group") return { kind: "group", format: 3, attributes };
  if (doc.node_type !== "array") {
    throw new StoreError(`${where}: unknown node_type ${JSON.stringify(doc.node_type)}`);
  }
  const shape = doc.shape;
  const grid = doc.chunk_grid as { name?: string; configuration?: { chunk_shape?: unknown } } | undefined;
  const chunks = grid?.configuration?.chunk_shape;
  if (grid?.name !== "regular" || !Array.isArray(chunks)) {
    throw new StoreError(`${where}: unsupported chunk grid`);
  }
  checkGrid(shape, chunks, where);
  const codecList = Array.isArray(doc.codecs)
    ? doc.codecs as { name?: string; configuration?: unknown }[]
    : [];
  const codecs = codecList.map((c) => String(c?.name));
  const keyEnc = doc.chunk_key_encoding as
    | { name?: string; configuration?: { separator?: string } }
    | undefined;
  const v2Keys = keyEnc?.name === "v2";
  const sep = checkSeparator(keyEnc?.configuration?.separator ?? (v2Keys ? "." : "/"), where);
  const bytesConf = codecList[0]?.configuration as { endian?: string } | undefined;
  const dtype = String(doc.data_type);
  return {
    kind: "array",
    format: 3,
    shape,
    chunks: chunks as number[],
    dtype,
    fillValue: fillValue(doc.fill_value),
    codecs,
    attributes,
    chunkKey: v2Keys ? (c) => c.length === 0 ? "0" : c.join(sep) : (c) => defaultChunkKey(c, sep),
    plainZstd: codecs.length === 2 && codecs[0] === "bytes" && codecs[1] === "zstd" &&
      (bytesConf?.endian ?? "little") === "little" && !v2Keys && sep === "/" &&
      (doc.storage_transformers === undefined ||
        (Array.isArray(doc.storage_transformers) && doc.storage_transformers.length === 0)),
  };
}

/** Parses v2 `.zarray` or `.zgroup` metadata with its `.zattrs` (or null); `where` names it in errors. */
export function parseV2(doc: unknown, attrs: unknown, where: string): NodeInfo {
  if (!isRecord(doc) || doc.zarr_format !== 2) throw new StoreError(`${where}: not Zarr format 2 metadata`);
  const attributes = isRecord(attrs) ? attrs : {};
  if (!("shape" in doc)) return { kind: "group", format: 2, attributes };
  const shape = doc.shape;
  const chunks = doc.chunks;
  checkGrid(shape, chunks, where);
  const raw = String(doc.dtype);
  const sep = checkSeparator(doc.dimension_separator ?? ".", where);
  const filters = Array.isArray(doc.filters)
    ? doc.filters.map((f) => String((f as { id?: string })?.id))
    : [];
  const compressor = isRecord(doc.compressor) ? [String(doc.compressor.id)] : [];
  return {
    kind: "array",
    format: 2,
    shape,
    chunks: chunks as number[],
    dtype: V2_DTYPES[raw] ?? raw,
    fillValue: fillValue(doc.fill_value),
    codecs: [...filters, ...compressor],
    attributes,
    chunkKey: (c) => c.length === 0 ? "0" : c.join(sep),
    plainZstd: false,
  };
}

/** The prefix of chunk keys in Zarr format 3's default key encoding (`c/0/1`). */
export const CHUNK_KEY_PREFIX = "c";

/** The key of a chunk in Zarr format 3's default key encoding: `c/0/1` (or `c.0.1` with separator `.`). */
export function defaultChunkKey(coords: readonly number[], separator: "/" | "." = "/"): string {
  return [CHUNK_KEY_PREFIX, ...coords].join(separator);
}

/** Number of chunks along each dimension. */
export function chunkGridShape(info: Pick<ArrayInfo, "shape" | "chunks">): number[] {
  return info.shape.map((n, i) => Math.ceil(n / info.chunks[i]));
}
