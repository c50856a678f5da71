/**
 * One array of the store back to a FITS file: the stored `header` attribute (the array's, else the skycell
 * group's, as old stores kept it) written verbatim apart from the mandatory keywords, float32 images and
 * weights as `BITPIX = -32` (NaN kept), uint16 masks as `BITPIX = 16` with `BZERO = 32768`. Optionally a
 * cutout (only the chunks it touches are read; `CRPIX1/2` shifted, a `HISTORY` note added) and tile
 * compression in the archive's layout (empty primary HDU, the image in extension 1, RICE_1 or GZIP_1).
 *
 * Whole skycells are streamed in row bands aligned to the chunk rows (1024 rows for the store's chunks),
 * the next band read while the previous one is written, so memory holds two bands whatever the image size.
 * The file is written under a temporary name next to the output and renamed when complete, so an
 * interrupted extraction never leaves a complete-looking FITS file behind.
 *
 * @example
 * ```ts ignore
 * const store = await ZarrStore.open("data/ps1_skycells_zarr/ps1_skycells.zarr");
 * await extractArray(store, { skycell: "skycell.2556.080", band: "r", kind: "mask" }, "r_mask.fits");
 * ```
 * @module
 */

import * as path from "node:path";
import { CompressedFitsWriter, compressImage, type CompressOptions } from "../fits/compress.ts";
import { FitsStreamWriter, type PixelType, primaryImageCards, writeFits } from "../fits/write.ts";
import type { Logger } from "../cli/log.ts";
import { allocate, type StoreTypedArray } from "../zarr/chunks.ts";
import { WorkerPool } from "../zarr/pool.ts";
import {
  ALL_BANDS,
  type ArrayKind,
  arrayName,
  expectedArrayNames,
  findSkycell,
  headerOf,
  type SkycellNode,
} from "../zarr/layout.ts";
import { type ArrayReader, openArrayReader } from "../zarr/read.ts";
import type { ZarrStore } from "../zarr/store.ts";
import type { BandDone, BandTask } from "./band_worker.ts";
import { ArrayNotFoundError, OutputExistsError, SkycellNotFoundError } from "./errors.ts";
import {
  cutoutHeader,
  cutoutHistory,
  type PixelRegion,
  type RegionRequest,
  resolveRegion,
} from "./region.ts";

/** Which array: skycell, band and kind (image, mask, weight). */
export interface ArraySelector {
  /** Skycell name, `skycell.PPPP.CCC`. */
  skycell: string;
  /** Band: g, r, i, z, y. */
  band: string;
  /** Image, mask or weight. */
  kind: ArrayKind;
}

/** Tile compression of the output: `rice` (RICE_1) or `gzip` (GZIP_1). */
export type Compression = "rice" | "gzip";

/** Options of {@link extractArray} and {@link extractArrayToBytes}. */
export interface ExtractOptions {
  /** A cutout instead of the whole array. */
  region?: RegionRequest;
  /**
   * Tile-compressed output. RICE_1 quantizes float32 pixels (cfitsio's default q = 4, subtractive
   * dithering), which is lossy; masks and GZIP_1 stay lossless.
   */
  compress?: Compression;
  /** Replace an existing output file (default: refuse with {@link OutputExistsError}). */
  overwrite?: boolean;
  /** Where warnings go (missing header, a cutout cut at the image edge). */
  log?: Logger;
  /** Stops the extraction between row bands; the temporary file is removed. */
  signal?: AbortSignal;
  /** Rows per band when streaming (default 1024, rounded to whole chunk rows). */
  bandRows?: number;
  /**
   * Worker threads decoding row bands (default: one per core for windows of 16 MB and more, none for
   * smaller ones; 0: decode on the calling thread). Arrays outside the store's own codec chain (Zarr
   * format 2, other codecs) are always read on the calling thread.
   */
  workers?: number;
  /** A pool shared by several extractions (a batch); takes the place of `workers`. */
  pool?: BandPool;
}

/**
 * Worker threads that decode row bands (see band_worker.ts), shared by the extractions of a batch.
 * Workers start on first use; {@link close} stops them.
 */
export class BandPool {
  /** Number of workers. */
  readonly size: number;
  #pool: WorkerPool<BandTask, BandDone>;

  /** @param size workers (default: the number of cores) */
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

/** Windows at least this large use workers unless told otherwise: below, starting them costs more. */
const WORKER_MIN_BYTES = 16 << 20;

/** What one extraction did. */
export interface ExtractResult {
  /** The array extracted. */
  selector: ArraySelector;
  /** Its store path. */
  array: string;
  /** The file written (null for {@link extractArrayToBytes}). */
  output: string | null;
  /** Size of the written image (NAXIS1, NAXIS2). */
  width: number;
  /** See `width`. */
  height: number;
  /** The cutout box, or null for the whole array. */
  region: PixelRegion | null;
  /** True when a box around a sky position was cut at the image edge. */
  clipped: boolean;
  /** Pixel type of the data. */
  type: PixelType;
  /** Tile compression, or null for a plain FITS file. */
  compression: Compression | null;
  /** Where the header came from: the array's attribute, the skycell group's (old stores), or nowhere. */
  headerSource: "array" | "group" | "none";
  /** Bytes of the FITS file. */
  bytes: number;
  /** Wall time, seconds. */
  seconds: number;
}

/** An array located in the store, opened for reading, with its header. */
export interface SourceArray {
  /** The skycell group it belongs to. */
  skycell: SkycellNode;
  /** The array's store path. */
  path: string;
  /** Reader of the array. */
  reader: ArrayReader;
  /** The stored header string, if any. */
  header: string | undefined;
  /** Where the header came from. */
  headerSource: "array" | "group" | "none";
}

/** The default file name of an array: `{skycell}_{band}.fits`, `..._mask.fits`, `..._wt.fits`. */
export function outputName(sel: ArraySelector): string {
  return `${sel.skycell}_${arrayName(sel.band, sel.kind)}.fits`;
}

/**
 * Finds and opens an array: the skycell (current layout first, then legacy `projections/`), the array
 * under it, and its header (array attribute first, then the skycell group's). Throws
 * {@link SkycellNotFoundError} or {@link ArrayNotFoundError} naming what is missing.
 */
export async function openSourceArray(
  store: ZarrStore,
  sel: ArraySelector,
  skycell?: SkycellNode,
): Promise<SourceArray> {
  const node = skycell ?? await findSkycell(store, sel.skycell);
  if (!node) throw new SkycellNotFoundError(`skycell ${sel.skycell} is not in the store ${store.root}`);
  const name = arrayName(sel.band, sel.kind);
  const child = node.arrays.find((a) => a.name === name);
  if (!child || child.info?.kind !== "array") {
    const order = expectedArrayNames(ALL_BANDS);
    const have = node.arrays.filter((a) => a.info?.kind === "array").map((a) => a.name)
      .sort((a, b) => order.indexOf(a) - order.indexOf(b));
    const why = child?.error
      ? `unreadable metadata (${child.error})`
      : child
      ? "no array metadata"
      : "missing";
    throw new ArrayNotFoundError(
      `skycell ${sel.skycell} has no array ${name} (${why}; arrays: ${
        have.length ? have.join(", ") : "none"
      })`,
    );
  }
  const reader = await openArrayReader(store, child.path);
  const header = headerOf(reader.info, node.group);
  const headerSource = header === undefined
    ? "none"
    : typeof reader.info.attributes.header === "string"
    ? "array"
    : "group";
  return { skycell: node, path: child.path, reader, header, headerSource };
}

/** Everything decided before a byte is written. */
interface Plan {
  source: SourceArray;
  selector: ArraySelector;
  region: PixelRegion;
  cutout: boolean;
  clipped: boolean;
  header: string | undefined;
  extraCards: string[];
  type: PixelType;
}

async function makePlan(
  store: ZarrStore,
  sel: ArraySelector,
  opts: ExtractOptions,
  skycell?: SkycellNode,
): Promise<Plan> {
  const source = await openSourceArray(store, sel, skycell);
  const { reader } = source;
  const full = { x0: 0, x1: reader.width, y0: 0, y1: reader.height };
  let region = full;
  let clipped = false;
  let header = source.header;
  let extraCards: string[] = [];
  if (opts.region) {
    const resolved = resolveRegion(opts.region, reader.width, reader.height, source.header);
    region = resolved.region;
    clipped = resolved.clipped;
    const cut = cutoutHeader(source.header, region);
    header = cut.header;
    const where = `${store.root}/${source.path}`;
    extraCards = cutoutHistory(region, reader.width, reader.height, where, cut.shifted);
  }
  if (source.headerSource === "none") {
    opts.log?.warn(
      `${source.path}: no header attribute on the array or its skycell group; the FITS file has the mandatory keywords only`,
    );
  }
  if (clipped) {
    opts.log?.warn(
      `${source.path}: the cutout reaches past the image edge and was cut to ${region.x1 - region.x0} x ${
        region.y1 - region.y0
      } pixels`,
    );
  }
  return {
    source,
    selector: sel,
    region,
    cutout: opts.region !== undefined,
    clipped,
    header,
    extraCards,
    type: reader.info.dtype as PixelType,
  };
}

function compressOptions(compression: Compression, type: PixelType): CompressOptions & { unsigned: boolean } {
  return {
    compression: compression === "rice" ? "RICE_1" : "GZIP_1",
    bitpix: type === "uint16" ? 16 : -32,
    unsigned: type === "uint16",
  };
}

/** The image header cards of the output (mandatory keywords first; the compressed writer rebuilds those). */
function imageCards(plan: Plan): string[] {
  const { x0, x1, y0, y1 } = plan.region;
  return primaryImageCards(plan.header, x1 - x0, y1 - y0, plan.type, plan.extraCards);
}

/** Row bands [y0, y1) covering the region, with boundaries on whole chunk rows. */
function rowBands(plan: Plan, bandRows: number): [number, number][] {
  const chunkRows = plan.source.reader.info.chunks[0];
  const step = chunkRows <= bandRows ? Math.floor(bandRows / chunkRows) * chunkRows : bandRows;
  const bands: [number, number][] = [];
  for (let y = plan.region.y0; y < plan.region.y1;) {
    const end = Math.min(plan.region.y1, (Math.floor(y / step) + 1) * step);
    bands.push([y, end]);
    y = end;
  }
  return bands;
}

function result(plan: Plan, output: string | null, bytes: number, t0: number, opts: ExtractOptions) {
  const { x0, x1, y0, y1 } = plan.region;
  return {
    selector: plan.selector,
    array: plan.source.path,
    output,
    width: x1 - x0,
    height: y1 - y0,
    region: plan.cutout ? { ...plan.region } : null,
    clipped: plan.clipped,
    type: plan.type,
    compression: opts.compress ?? null,
    headerSource: plan.source.headerSource,
    bytes,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await Deno.lstat(file);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** One band as the producers give it: pixels, or bytes already encoded as FITS data. */
type Band = { pixels: StoreTypedArray; bytes?: undefined } | { bytes: Uint8Array; pixels?: undefined };

/** Bands read on the calling thread, the next one read while the last one is being written. */
async function* threadBands(plan: Plan, ranges: [number, number][]): AsyncGenerator<Band> {
  const { x0, x1 } = plan.region;
  const maxRows = Math.max(...ranges.map(([a, b]) => b - a));
  const buffers = [allocate(plan.type, maxRows * (x1 - x0)), allocate(plan.type, maxRows * (x1 - x0))];
  const read = (i: number) => {
    const p = plan.source.reader.readRegion(ranges[i][0], ranges[i][1], x0, x1, buffers[i % 2]);
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

/** Bands decoded by the pool's workers, as many in flight as there are workers plus one. */
async function* workerBands(
  pool: BandPool,
  plan: Plan,
  ranges: [number, number][],
  fits: boolean,
): AsyncGenerator<Band> {
  const { reader } = plan.source;
  const { x0, x1 } = plan.region;
  const [cr, cc] = reader.info.chunks;
  const bpp = plan.type === "float32" ? 4 : 2;
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
      for (let r = r0; r * cr < y1; r++) {
        const row: string[] = [];
        for (let c = c0; c <= c1; c++) row.push(reader.info.chunkKey([r, c]));
        keys.push(row);
      }
      const p = pool.run({
        dir: reader.dir,
        dtype: plan.type,
        fill: reader.fill,
        chunks: [cr, cc],
        rows: [y0, y1],
        cols: [x0, x1],
        keys,
        firstChunk: [r0, c0],
        fits,
        buffer: free.pop() ?? new ArrayBuffer(maxBytes),
      });
      p.catch(() => {});
      inflight.push(p);
    }
  };
  for (let i = 0; i < ranges.length; i++) {
    start();
    const done = await inflight.shift()!;
    if (fits) yield { bytes: new Uint8Array(done.buffer, 0, done.length) };
    else {
      const View = plan.type === "float32" ? Float32Array : Uint16Array;
      yield { pixels: new View(done.buffer, 0, done.length / bpp) as StoreTypedArray };
    }
    free.push(done.buffer);
  }
}

/** Streams the plan's pixels into `file`, band by band, through the pool when there is one. */
async function writeFile(
  plan: Plan,
  file: string,
  opts: ExtractOptions,
  pool: BandPool | null,
): Promise<void> {
  const { x0, x1 } = plan.region;
  const width = x1 - x0;
  const height = plan.region.y1 - plan.region.y0;
  const ranges = rowBands(plan, opts.bandRows ?? 1024);
  const writer = opts.compress
    ? await CompressedFitsWriter.create(
      file,
      imageCards(plan),
      width,
      height,
      compressOptions(opts.compress, plan.type),
    )
    : await FitsStreamWriter.create(file, plan.header, width, height, plan.type, {
      extraCards: plan.extraCards,
    });
  try {
    const bands = pool ? workerBands(pool, plan, ranges, !opts.compress) : threadBands(plan, ranges);
    for await (const band of bands) {
      opts.signal?.throwIfAborted();
      if (band.bytes) await (writer as FitsStreamWriter).writeEncodedRows(band.bytes);
      else await writer.writeRows(band.pixels);
    }
    await writer.close();
  } catch (err) {
    writer.abort();
    throw err;
  }
}

/** The pool an extraction uses (null: the calling thread), and whether it must close it. */
function choosePool(plan: Plan, opts: ExtractOptions): { pool: BandPool | null; owned: boolean } {
  if (!plan.source.reader.info.plainZstd) return { pool: null, owned: false };
  if (opts.pool) return { pool: opts.pool, owned: false };
  const { x0, x1, y0, y1 } = plan.region;
  const bytes = (x1 - x0) * (y1 - y0) * (plan.type === "float32" ? 4 : 2);
  const workers = opts.workers ?? (bytes >= WORKER_MIN_BYTES ? navigator.hardwareConcurrency || 1 : 0);
  return workers > 0 ? { pool: new BandPool(workers), owned: true } : { pool: null, owned: false };
}

/**
 * Moves the finished temporary file to `output`. Without `overwrite` a hard link refuses an output that
 * appeared meanwhile (the check at the start is not enough when two runs race); file systems without
 * hard links fall back to a check and a rename.
 */
async function install(temp: string, output: string, overwrite: boolean): Promise<void> {
  if (overwrite) return await Deno.rename(temp, output);
  try {
    await Deno.link(temp, output);
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new OutputExistsError(`${output} exists (use --overwrite to replace it)`);
    }
    if (await exists(output)) throw new OutputExistsError(`${output} exists (use --overwrite to replace it)`);
    return await Deno.rename(temp, output);
  }
  await Deno.remove(temp);
}

/**
 * Extracts one array (or a cutout of it) to the FITS file `output`, creating its directory. Everything
 * that can make the extraction impossible (missing skycell or array, bad region, existing output without
 * `overwrite`) is checked before anything is written and thrown as an {@link ExtractError} subclass.
 * The file is written to a temporary name and renamed into place once complete.
 */
export async function extractArray(
  store: ZarrStore,
  sel: ArraySelector,
  output: string,
  opts: ExtractOptions = {},
  skycell?: SkycellNode,
): Promise<ExtractResult> {
  const t0 = performance.now();
  const plan = await makePlan(store, sel, opts, skycell);
  if (!opts.overwrite && await exists(output)) {
    throw new OutputExistsError(`${output} exists (use --overwrite to replace it)`);
  }
  opts.signal?.throwIfAborted();
  await Deno.mkdir(path.dirname(path.resolve(output)), { recursive: true });
  const temp = `${output}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const { pool, owned } = choosePool(plan, opts);
  try {
    await writeFile(plan, temp, opts, pool);
    await install(temp, output, opts.overwrite ?? false);
  } finally {
    if (owned) pool?.close();
    await Deno.remove(temp).catch(() => {});
  }
  const bytes = (await Deno.stat(output)).size;
  return result(plan, output, bytes, t0, opts);
}

/**
 * Extracts one array (or a cutout) to a FITS file in memory. The whole image is held at once: meant for
 * cutouts and small arrays; use {@link extractArray} for whole skycells.
 */
export async function extractArrayToBytes(
  store: ZarrStore,
  sel: ArraySelector,
  opts: Omit<ExtractOptions, "overwrite" | "bandRows"> = {},
): Promise<{ bytes: Uint8Array; result: ExtractResult }> {
  const t0 = performance.now();
  const plan = await makePlan(store, sel, opts);
  const { x0, x1, y0, y1 } = plan.region;
  const pixels = await plan.source.reader.readRegion(y0, y1, x0, x1);
  const bytes = opts.compress
    ? compressImage(imageCards(plan), x1 - x0, y1 - y0, pixels, compressOptions(opts.compress, plan.type))
    : writeFits(plan.header, pixels, x1 - x0, y1 - y0, plan.type, { extraCards: plan.extraCards });
  return { bytes, result: result(plan, null, bytes.length, t0, opts) };
}
