/**
 * Test stores for the extraction suites: synthetic PS1 archive files (lib/archive/synth.ts), decoded with
 * openImage as the Python tools decode them (pixels as float32/uint16, header as astropy's
 * `header.tostring()`), and written into a Zarr store in the current or legacy layout. The decoded source
 * pixels and store headers are kept as the references the extracted files are compared with.
 * @module
 */

import * as path from "node:path";
import { writeSkycellFiles } from "../../lib/archive/synth.ts";
import { openImage } from "../../lib/fits/image.ts";
import { type ArrayKind, arrayName, dtypeOf, skycellGroupPath } from "../../lib/store/layout.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import type { StoreTypedArray } from "../../lib/zarr/chunks.ts";
import { joinNodePath } from "../../lib/zarr/names.ts";
import { parseSkycell } from "../../lib/ps1/skycell.ts";

/** One archive file decoded: what the store holds for it. */
export interface SourceArray {
  skycell: string;
  band: string;
  kind: ArrayKind;
  /** The archive file. */
  file: string;
  width: number;
  height: number;
  pixels: Float32Array | Uint16Array;
  /** astropy's header string for the file (the store's `header` attribute). */
  header: string;
}

/** Writes archive files for skycells x bands and decodes them. */
export async function archiveSources(
  root: string,
  skycells: string[],
  bands: string[],
  size = 300,
): Promise<SourceArray[]> {
  const out: SourceArray[] = [];
  for (const skycell of skycells) {
    for (const band of bands) {
      const { paths } = await writeSkycellFiles(root, skycell, band, { size });
      for (const kind of ["image", "mask", "weight"] as const) {
        const file = paths[kind];
        const img = openImage(await Deno.readFile(file), { source: file });
        const type = dtypeOf(kind);
        out.push({
          skycell,
          band,
          kind,
          file,
          width: img.width,
          height: img.height,
          pixels: img.readRows(0, img.height, type),
          header: img.storeHeader(type),
        });
      }
    }
  }
  return out;
}

/** Options of {@link buildStore}. */
export interface BuildOptions {
  /** Chunk shape (default [128, 128], so a 300-pixel image has a 3 x 3 grid with edge chunks). */
  chunks?: [number, number];
  /** Current layout, or the legacy `projections/` one (default current). */
  layout?: "current" | "legacy";
  /** Where the header goes: the array (default), the skycell group (old stores), or nowhere. */
  headerOn?: "array" | "group" | "none";
}

/** Writes the sources into a (new or existing) store at `storePath`. */
export async function buildStore(
  storePath: string,
  sources: SourceArray[],
  opts: BuildOptions = {},
): Promise<void> {
  const store = await ZarrStore.open(storePath, { create: true });
  try {
    for (const src of sources) {
      const group = opts.layout === "legacy"
        ? joinNodePath("projections", parseSkycell(src.skycell).projection, src.skycell)
        : skycellGroupPath(src.skycell);
      const chunks = opts.chunks ?? [128, 128];
      const spec = { shape: [src.height, src.width] as [number, number], dtype: dtypeOf(src.kind), chunks };
      const build = await store.beginArray(group, arrayName(src.band, src.kind), spec);
      for (let row = 0; row < build.chunkRows; row++) {
        const [y0, y1] = build.rowsOf(row);
        const band = src.pixels.slice(y0 * src.width, y1 * src.width) as StoreTypedArray;
        build.writeChunkRow(row, band);
      }
      const headerOn = opts.headerOn ?? "array";
      await build.commit(headerOn === "array" ? { header: src.header } : {});
      if (headerOn === "group") {
        await store.updateAttributes(group, (a) => ({ ...a, header: src.header }));
      }
    }
  } finally {
    store.close();
  }
}

/** Every file under `dir` (relative paths, sorted); empty when `dir` does not exist. */
export async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory) await walk(p);
      else out.push(path.relative(dir, p));
    }
  }
  await walk(dir);
  return out.sort();
}

/** Runs `fn` with console.log/console.error captured. */
export async function captured<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; stdout: string; stderr: string }> {
  const log = console.log;
  const error = console.error;
  const out: string[] = [];
  const err: string[] = [];
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    const value = await fn();
    return { value, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Asserts that two float arrays are equal bit for bit (NaN equal to NaN), naming the first difference. */
export function sameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  }
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      throw new Error(`${what}: value ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

/** Columns [x0, x1) of rows [y0, y1) of a row-major image. */
export function slice2d<T extends Float32Array | Uint16Array>(
  pixels: T,
  width: number,
  r: { x0: number; x1: number; y0: number; y1: number },
): T {
  const w = r.x1 - r.x0;
  const out = new (pixels.constructor as new (n: number) => T)(w * (r.y1 - r.y0));
  for (let y = r.y0; y < r.y1; y++) {
    out.set(pixels.subarray(y * width + r.x0, y * width + r.x1) as never, (y - r.y0) * w);
  }
  return out;
}

/** The stores most suites use, built once per test file in a temporary directory. */
export interface Fixture {
  /** The temporary directory (removed when the test process unloads). */
  dir: string;
  /** The decoded archive files. */
  sources: SourceArray[];
  /** A current-layout store: skycell A complete (r, i, z, y), skycell B with band r only. */
  store: string;
  /** The source of one array. */
  source(skycell: string, band: string, kind: ArrayKind): SourceArray;
  /** A copy of the store under `name` in {@link dir}, to damage. */
  copyStore(name: string): Promise<string>;
}

/** Skycell A of the fixture (complete). */
export const SKYCELL_A = "skycell.2556.080";
/** Skycell B of the fixture (band r only: 3 of 12 arrays). */
export const SKYCELL_B = "skycell.2556.081";

/** Builds the standard fixture (see {@link Fixture}). */
export async function standardFixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "extract_test_" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  });
  const sources = [
    ...await archiveSources(path.join(dir, "archive"), [SKYCELL_A], ["r", "i", "z", "y"]),
    ...await archiveSources(path.join(dir, "archive"), [SKYCELL_B], ["r"]),
  ];
  const store = path.join(dir, "ps1_skycells.zarr");
  await buildStore(store, sources);
  return {
    dir,
    sources,
    store,
    source(skycell, band, kind) {
      const s = sources.find((x) => x.skycell === skycell && x.band === band && x.kind === kind);
      if (!s) throw new Error(`no fixture source ${skycell} ${band} ${kind}`);
      return s;
    },
    async copyStore(name) {
      const copy = path.join(dir, name);
      await Deno.mkdir(copy);
      const cp = await new Deno.Command("cp", { args: ["-r", `${store}/.`, copy] }).output();
      if (!cp.success) throw new Error(`cp ${store} ${copy} failed`);
      return copy;
    },
  };
}

/**
 * The cards an extracted plain file must have after its five mandatory ones: the store header's cards
 * without the structural keywords the writer rebuilds (XTENSION, BITPIX, NAXISn, PCOUNT, GCOUNT) and the
 * stale CHECKSUM/DATASUM of the compressed source.
 */
export function expectedCards(storeHeader: string): string[] {
  const drop = /^(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|CHECKSUM|DATASUM)$/;
  const cards: string[] = [];
  for (let i = 0; i < storeHeader.length; i += 80) {
    const card = storeHeader.slice(i, i + 80);
    if (/^END\s*$/.test(card)) break;
    if (!drop.test(card.slice(0, 8).trimEnd())) cards.push(card);
  }
  return cards;
}

/** The FITS data bytes of pixels, encoded here independently of the writer: big endian, uint16 - 32768. */
export function fitsDataBytes(pixels: Float32Array | Uint16Array): Uint8Array {
  const out = new Uint8Array(pixels.length * pixels.BYTES_PER_ELEMENT);
  const view = new DataView(out.buffer);
  if (pixels instanceof Float32Array) {
    const bits = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length);
    for (let i = 0; i < pixels.length; i++) view.setUint32(4 * i, bits[i]);
  } else {
    for (let i = 0; i < pixels.length; i++) view.setInt16(2 * i, pixels[i] - 32768);
  }
  return out;
}
