/**
 * Row bands of a window of an array, produced ahead of the writer: on the calling thread (the next band
 * read while the last one is written), or by a pool of workers that read and decode the chunk files and
 * can hand back bytes already encoded as FITS data (see band_worker.ts). Band boundaries fall on whole
 * chunk rows, so every chunk is decoded once. Memory holds a few bands (two, or one more than the
 * workers), whatever the image size.
 *
 * @example
 * ```ts ignore
 * const window = { reader, region: { x0: 0, x1: reader.width, y0: 0, y1: reader.height }, type: "float32" };
 * for await (const band of threadBands(window, rowRanges(window, 1024))) await writer.writeRows(band.pixels!);
 * ```
 * @module
 */

import type { PixelType } from "../fits/write.ts";
import { allocate, type StoreTypedArray } from "../zarr/chunks.ts";
import { WorkerPool } from "../zarr/pool.ts";
import type { ArrayReader } from "../zarr/read.ts";
import type { BandDone, BandTask } from "./band_worker.ts";
import type { PixelRegion } from "./region.ts";

/** What is read: a box of an array, and its pixel type. */
export interface Window {
  /** The array. */
  reader: ArrayReader;
  /** The box. */
  region: PixelRegion;
  /** Its element type. */
  type: PixelType;
}

/** One band: pixels, or bytes already encoded as FITS data. Valid until the next band is asked for. */
export type Band = { pixels: StoreTypedArray; bytes?: undefined } | { bytes: Uint8Array; pixels?: undefined };

/**
 * Worker threads that decode row bands, shared by the extractions of a batch. Workers start on first use;
 * {@link close} stops them.
 */
export class BandPool {
  /** Number of workers. */
  readonly size: number;
  #pool: WorkerPool<BandTask, BandDone>;

  /** Creates the pool (no worker starts yet). @param size workers (default: the number of cores) */
  constructor(size: number = navigator.hardwareConcurrency || 1) {
    this.size = size;
    this.#pool = new WorkerPool(new URL("./band_worker.ts", import.meta.url), size);
  }

  /** Decodes one band; the task's buffer is transferred and comes back in the answer. */
  run(task: BandTask): Promise<BandDone> {
    return this.#pool.run(task, [task.buffer]);
  }

  /** Stops the workers. */
  close(): void {
    this.#pool.close();
  }
}

/**
 * Row ranges [y0, y1) covering the window, about `bandRows` rows each, with boundaries on whole chunk
 * rows (chunks taller than `bandRows` are cut).
 */
export function rowRanges(window: Window, bandRows: number): [number, number][] {
  const chunkRows = window.reader.info.chunks[0];
  const step = chunkRows <= bandRows ? Math.floor(bandRows / chunkRows) * chunkRows : bandRows;
  const ranges: [number, number][] = [];
  for (let y = window.region.y0; y < window.region.y1;) {
    const end = Math.min(window.region.y1, (Math.floor(y / step) + 1) * step);
    ranges.push([y, end]);
    y = end;
  }
  return ranges;
}

/** Pixel bands read on the calling thread (any Zarr format and codecs), one read ahead. */
export async function* threadBands(window: Window, ranges: [number, number][]): AsyncGenerator<Band> {
  const { x0, x1 } = window.region;
  const maxRows = Math.max(...ranges.map(([a, b]) => b - a));
  const buffers = [allocate(window.type, maxRows * (x1 - x0)), allocate(window.type, maxRows * (x1 - x0))];
  const read = (i: number) => {
    const p = window.reader.readRegion(ranges[i][0], ranges[i][1], x0, x1, buffers[i % 2]);
    // A read that is never awaited (the consumer stopped) must not become an unhandled rejection.
    p.catch(() => {});
    return p;
  };
  let next = read(0);
  for (let i = 0; i < ranges.length; i++) {
    const pixels = await next;
    if (i + 1 < ranges.length) next = read(i + 1);
    yield { pixels };
  }
}

/**
 * Bands decoded by the pool's workers, as many in flight as there are workers plus one: FITS data bytes
 * when `fits`, else pixels. Only for arrays in the store's own codec chain (`info.plainZstd`).
 */
export async function* workerBands(
  pool: BandPool,
  window: Window,
  ranges: [number, number][],
  fits: boolean,
): AsyncGenerator<Band> {
  const { reader, type } = window;
  const { x0, x1 } = window.region;
  const [cr, cc] = reader.info.chunks;
  const bpp = type === "float32" ? 4 : 2;
  const maxBytes = Math.max(...ranges.map(([a, b]) => b - a)) * (x1 - x0) * bpp;
  const c0 = Math.floor(x0 / cc);
  const c1 = Math.floor((x1 - 1) / cc);
  const free: ArrayBuffer[] = [];
  const inflight: Promise<BandDone>[] = [];
  let started = 0;
  const start = () => {
    while (started < ranges.length && inflight.length < pool.size + 1) {
      const [y0, y1] = ranges[started++];
      const r0 = Math.floor(y0 / cr);
      const keys: string[][] = [];
      const required: boolean[][] = [];
      for (let r = r0; r * cr < y1; r++) {
        const row: string[] = [];
        for (let c = c0; c <= c1; c++) row.push(reader.info.chunkKey([r, c]));
        keys.push(row);
        required.push(row.map((key) => reader.isRequired(key)));
      }
      const p = pool.run({
        root: reader.root,
        dir: reader.dir,
        dtype: type,
        fill: reader.fill,
        chunks: [cr, cc],
        rows: [y0, y1],
        cols: [x0, x1],
        keys,
        required,
        firstChunk: [r0, c0],
        fits,
        buffer: free.pop() ?? new ArrayBuffer(maxBytes),
      });
      p.catch(() => {});
      inflight.push(p);
    }
  };
  const View = type === "float32" ? Float32Array : Uint16Array;
  for (let i = 0; i < ranges.length; i++) {
    start();
    const done = await inflight.shift()!;
    if (fits) yield { bytes: new Uint8Array(done.buffer, 0, done.length) };
    else yield { pixels: new View(done.buffer, 0, done.length / bpp) as StoreTypedArray };
    free.push(done.buffer);
  }
}
