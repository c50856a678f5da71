/**
 * One array of the store back to a FITS file: the stored `header` attribute (the array's, else the skycell
 * group's, as old stores kept it) written verbatim apart from the mandatory keywords, float32 images and
 * weights as `BITPIX = -32` (NaN kept), uint16 masks as `BITPIX = 16` with `BZERO = 32768`. Optionally a
 * cutout (only the chunks it touches are read; `CRPIX1/2` shifted, a `HISTORY` note added) and tile
 * compression in the archive's layout (empty primary HDU, the image in extension 1, RICE_1 or GZIP_1).
 *
 * Whole skycells are streamed in row bands aligned to the chunk rows (1024 rows for the store's chunks),
 * decoded by worker threads ahead of the writer (see bands.ts), so memory holds a few bands whatever the
 * image size.
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
import {
  ALL_BANDS,
  type ArrayKind,
  arrayName,
  expectedArrayNames,
  findSkycell,
  headerOf,
  type SkycellNode,
} from "../store/layout.ts";
import { type ArrayReader, openArrayReader } from "../zarr/read.ts";
import type { ZarrStore } from "../zarr/store.ts";
import { BandPool, rowRanges, threadBands, type Window, workerBands } from "./bands.ts";
import { ArrayDamagedError, ArrayNotFoundError, OutputExistsError, SkycellNotFoundError } from "./errors.ts";
import { arrayState, pixelProblems } from "../store/state.ts";
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
  /**
   * A pool shared by several extractions (a batch), used where workers would be (see `workers`) instead
   * of starting a pool for each file.
   */
  pool?: BandPool;
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
  const verdict = arrayState(store, child, { kind: sel.kind, groupAttributes: node.group?.attributes });
  const damage = pixelProblems(verdict);
  if (damage.length > 0) {
    const what = verdict.state === "unreadable" ? "cannot be read" : "is damaged";
    throw new ArrayDamagedError(`${store.root}/${child.path} ${what}: ${damage[0].message}`);
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

function result(
  plan: Plan,
  output: string | null,
  bytes: number,
  t0: number,
  opts: ExtractOptions,
): ExtractResult {
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

function windowOf(plan: Plan): Window {
  return { reader: plan.source.reader, region: plan.region, type: plan.type };
}

/** Streams the plan's pixels into `file`, band by band, through the pool when there is one. */
async function writeFile(
  plan: Plan,
  file: string,
  opts: ExtractOptions,
  pool: BandPool | null,
): Promise<void> {
  const { x0, x1, y0, y1 } = plan.region;
  const width = x1 - x0;
  const height = y1 - y0;
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
    const window = windowOf(plan);
    const ranges = rowRanges(window, opts.bandRows ?? 1024);
    // Workers encode the FITS data themselves for plain output; the compressor needs pixels.
    const bands = pool ? workerBands(pool, window, ranges, !opts.compress) : threadBands(window, ranges);
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
  if (!plan.source.reader.info.plainZstd || opts.workers === 0) return { pool: null, owned: false };
  const { x0, x1, y0, y1 } = plan.region;
  const bytes = (x1 - x0) * (y1 - y0) * (plan.type === "float32" ? 4 : 2);
  if (opts.workers === undefined && bytes < WORKER_MIN_BYTES) return { pool: null, owned: false };
  if (opts.pool) return { pool: opts.pool, owned: false };
  return { pool: new BandPool(opts.workers ?? (navigator.hardwareConcurrency || 1)), owned: true };
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
