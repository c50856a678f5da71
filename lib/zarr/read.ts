/**
 * Reading arrays: a whole array, a row range or a window into a typed array, with missing chunks as the
 * fill value, and the list of chunk files an array has on disk (for the inventory).
 *
 * Arrays with the toolkit's own codec chain (format 3, `bytes` little endian + `zstd`) are read directly
 * with the native `node:zlib` zstd. Anything else zarr-python may have written (format 2, blosc, gzip,
 * transpose, sharding, ...) is decoded chunk by chunk through zarrita, with its zstd codec swapped for the
 * native one. Either way every chunk must decode to the full chunk shape, or the read fails naming the file.
 *
 * @example
 * ```ts ignore
 * const reader = await openArrayReader(store, "2556/skycell.2556.080/r");
 * const rows = await reader.readRegion(0, 1024, 0, reader.width);
 * ```
 * @module
 */

import zlib from "node:zlib";
import * as zarr from "zarrita";
import FileSystemStore from "@zarrita/storage/fs";
import {
  allocate,
  readChunkFileSync,
  releaseBuffer,
  type StoreTypedArray,
  zstdDecompress,
} from "./chunks.ts";
import { DamagedNodeError, StoreError } from "./errors.ts";
import { checkStoreFileSync, joinInside } from "./files.ts";
import type { ArrayInfo } from "./metadata.ts";
import type { ZarrStore } from "./store.ts";
import { markerOf, maxChunkFileBytes, scanChunkFilesSync } from "./verify.ts";

/** zarrita's zstd codec replaced by node:zlib's native one (2-3x faster; decode only is needed). */
class NativeZstd {
  readonly kind = "bytes_to_bytes";
  static fromConfig(): NativeZstd {
    return new NativeZstd();
  }
  encode(bytes: Uint8Array): Uint8Array {
    return zlib.zstdCompressSync(bytes);
  }
  decode(bytes: Uint8Array): Uint8Array {
    return zstdDecompress(bytes, "zstd frame");
  }
}
zarr.registry.set("zstd", () => NativeZstd as never);
zarr.registry.set("numcodecs.zstd", () => NativeZstd as never);

/** One chunk file of an array on disk. */
export interface ChunkFile {
  /** Chunk coordinates. */
  coords: number[];
  /** Store key relative to the array (`c/0/1`, or `0.1` in format 2). */
  key: string;
  /** Size on disk in bytes. */
  bytes: number;
}

/** An array opened for reading. */
export class ArrayReader {
  /** Store path of the array. */
  readonly path: string;
  /** Its metadata. */
  readonly info: ArrayInfo;
  /** File-system path of the array directory. */
  readonly dir: string;
  /** File-system path of the store (every chunk file read must lie inside it). */
  readonly root: string;
  #store: ZarrStore;
  /** Keys of the chunks the completion marker says were left out as all fill; null: no such record. */
  #fillChunks: Set<string> | null;
  #zarrita?: Promise<zarr.Array<zarr.DataType, FileSystemStore>>;

  /** @internal use {@link openArrayReader} */
  constructor(store: ZarrStore, nodePath: string, info: ArrayInfo) {
    if (info.shape.length !== 2) {
      throw new StoreError(`${nodePath}: expected a 2-D array, has shape ${info.shape}`);
    }
    if (info.dtype !== "float32" && info.dtype !== "uint16") {
      throw new StoreError(`${nodePath}: unsupported data type ${info.dtype} (expected float32 or uint16)`);
    }
    this.#store = store;
    this.path = nodePath;
    this.info = info;
    this.dir = store.fsPath(nodePath);
    this.root = store.root;
    const marker = markerOf(info.attributes);
    this.#fillChunks = marker?.complete && marker.fillChunks ? new Set(marker.fillChunks) : null;
  }

  /**
   * True when the chunk file of `key` must exist: the array's completion marker records every chunk it
   * left out as all fill, and this is not one of them. Without such a record (an array written by
   * zarr-python), an absent chunk is the fill value, as Zarr says.
   */
  isRequired(key: string): boolean {
    return this.#fillChunks !== null && !this.#fillChunks.has(key);
  }

  /** Height (rows). */
  get height(): number {
    return this.info.shape[0];
  }

  /** Width (columns). */
  get width(): number {
    return this.info.shape[1];
  }

  /** The fill value as a number (NaN for floats without one, 0 for integers). */
  get fill(): number {
    return this.info.fillValue ?? (this.info.dtype === "float32" ? NaN : 0);
  }

  /** The `header` attribute of the array, if any. */
  get header(): string | undefined {
    const h = this.info.attributes.header;
    return typeof h === "string" ? h : undefined;
  }

  /**
   * Reads rows [y0, y1) and columns [x0, x1) (row-major). `out` is reused when given (length >= the
   * window's size). Throws {@link StoreError} for a window outside the array or a chunk that does not
   * decode.
   */
  async readRegion(
    y0: number,
    y1: number,
    x0 = 0,
    x1: number = this.width,
    out?: StoreTypedArray,
  ): Promise<StoreTypedArray> {
    const ok = [y0, y1, x0, x1].every(Number.isInteger) && 0 <= y0 && y0 < y1 && y1 <= this.height &&
      0 <= x0 && x0 < x1 && x1 <= this.width;
    if (!ok) {
      throw new StoreError(
        `${this.path}: window rows ${y0}:${y1}, columns ${x0}:${x1} is outside the array (${this.height} x ${this.width})`,
      );
    }
    const w = x1 - x0;
    const n = (y1 - y0) * w;
    const result = out && out.length >= n
      ? out.subarray(0, n) as StoreTypedArray
      : allocate(this.info.dtype, n);
    await this.#readChunks(y0, y1, x0, x1, result);
    return result;
  }

  /**
   * Reads one chunk, decoded, row-major at the full chunk shape (null when the chunk file is absent, i.e.
   * all fill). Throws {@link StoreError} naming the chunk file when it does not decode to a full chunk.
   */
  async readChunk(coords: readonly number[]): Promise<StoreTypedArray | null> {
    const [cr, cc] = this.info.chunks;
    const key = this.info.chunkKey(coords);
    const file = joinInside(this.dir, key);
    if (this.info.plainZstd) {
      return readChunkFileSync(this.root, file, this.info.dtype, cr * cc, { required: this.isRequired(key) });
    }
    const arr = await this.#zarritaArray();
    // The same bounds as our own chunks before zarrita reads the file whole.
    const check = checkStoreFileSync(this.root, file);
    if (check.kind === "absent") {
      if (this.isRequired(key)) {
        throw new StoreError(
          `${file}: chunk file missing (the completion marker records it): the array is damaged`,
        );
      }
      return null;
    }
    if (check.kind !== "file" || check.size > maxChunkFileBytes(this.info)) {
      throw new DamagedNodeError(
        `${file}: ${
          check.kind === "file" ? `${check.size} bytes, larger than a chunk can be` : "not a file"
        }`,
      );
    }
    let chunk: zarr.Chunk<zarr.DataType>;
    try {
      chunk = await arr.getChunk([...coords]);
    } catch (err) {
      const cause = (err as Error).cause instanceof Error
        ? `: ${((err as Error).cause as Error).message}`
        : "";
      throw new StoreError(`${file}: chunk does not decode (${(err as Error).message}${cause})`);
    }
    // zarrita makes a chunk of whatever the codecs give back, so a short one is caught here.
    const data = chunk.data as unknown as ArrayLike<number>;
    if (data.length !== cr * cc) {
      throw new StoreError(`${file}: decoded ${data.length} values, expected ${cr * cc} (${cr} x ${cc})`);
    }
    const [s0, s1] = chunk.stride;
    const type = this.info.dtype === "float32" ? Float32Array : Uint16Array;
    if (s0 === cc && s1 === 1 && data instanceof type) return data as StoreTypedArray;
    // Another element order (v2 order "F", transpose codec): rearrange row-major.
    const out = allocate(this.info.dtype, cr * cc);
    for (let y = 0; y < cr; y++) {
      for (let x = 0; x < cc; x++) out[y * cc + x] = data[y * s0 + x * s1];
    }
    return out;
  }

  async #readChunks(y0: number, y1: number, x0: number, x1: number, out: StoreTypedArray): Promise<void> {
    const [cr, cc] = this.info.chunks;
    const w = x1 - x0;
    for (let row = Math.floor(y0 / cr); row * cr < y1; row++) {
      const cols: number[] = [];
      for (let col = Math.floor(x0 / cc); col * cc < x1; col++) cols.push(col);
      const chunks = await Promise.all(cols.map((col) => this.readChunk([row, col])));
      const ry0 = Math.max(y0, row * cr);
      const ry1 = Math.min(y1, (row + 1) * cr);
      cols.forEach((col, k) => {
        const cx0 = Math.max(x0, col * cc);
        const cx1 = Math.min(x1, (col + 1) * cc);
        const chunk = chunks[k];
        for (let y = ry0; y < ry1; y++) {
          const dst = (y - y0) * w + (cx0 - x0);
          if (chunk) {
            const src = (y - row * cr) * cc + (cx0 - col * cc);
            out.set(chunk.subarray(src, src + (cx1 - cx0)), dst);
          } else {
            out.fill(this.fill, dst, dst + (cx1 - cx0));
          }
        }
      });
      // Chunks decoded here are ours alone: free them now, not at a later garbage collection.
      if (this.info.plainZstd) { for (const chunk of chunks) if (chunk) releaseBuffer(chunk); }
    }
  }

  #zarritaArray(): Promise<zarr.Array<zarr.DataType, FileSystemStore>> {
    this.#zarrita ??= zarr.open(
      zarr.root(new FileSystemStore(this.#store.root)).resolve(this.path),
      { kind: "array" },
    ).catch((err) => {
      throw new StoreError(`${this.path}: zarrita cannot open the array (${(err as Error).message})`);
    });
    return this.#zarrita;
  }

  /** The chunk files present on disk, with their sizes (not decoded). */
  async chunkFiles(): Promise<ChunkFile[]> {
    return await listChunkFiles(this.root, this.dir, this.info);
  }
}

/** Opens an array of the store for reading. */
export async function openArrayReader(store: ZarrStore, nodePath: string): Promise<ArrayReader> {
  return new ArrayReader(store, nodePath, await store.readArray(nodePath));
}

/** The chunk files of an array directory, with their sizes (see verify.ts `scanChunkFilesSync`). */
export function listChunkFiles(root: string, dir: string, info: ArrayInfo): Promise<ChunkFile[]> {
  return Promise.resolve(scanChunkFilesSync(root, dir, info).files);
}
