/**
 * Test stores for the inventory: skycells written through the store module (atomic builds with the
 * completion marker) with real astropy-form headers from the synthetic archive, plus helpers to damage
 * them by hand and to snapshot a directory tree.
 * @module
 */

import * as path from "node:path";
import { writeSkycellFiles } from "../../lib/archive/synth.ts";
import { openImage } from "../../lib/fits/image.ts";
import { allocate, type StoreTypedArray } from "../../lib/zarr/chunks.ts";
import { ARRAY_KINDS, type ArrayKind, arrayName, dtypeOf, skycellGroupPath } from "../../lib/store/layout.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";

/** Store headers of one synthetic skycell band, per kind, and the image size. */
export interface Headers {
  image: string;
  mask: string;
  weight: string;
  width: number;
  height: number;
}

const headerCache = new Map<number, Promise<Headers>>();

/** Real astropy-form store headers (NAXIS1 = size, NAXIS2 = size - round(size / 400)), cached per size. */
export function headersOf(size = 200): Promise<Headers> {
  let cached = headerCache.get(size);
  if (!cached) {
    cached = (async () => {
      const dir = await Deno.makeTempDir({ prefix: "inv-hdr-" });
      try {
        const { paths } = await writeSkycellFiles(dir, "skycell.2556.080", "r", { size });
        const out: Partial<Headers> = {};
        for (const kind of ARRAY_KINDS) {
          const img = openImage(await Deno.readFile(paths[kind]));
          out[kind] = img.storeHeader(dtypeOf(kind));
          out.width = img.width;
          out.height = img.height;
        }
        return out as Headers;
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    })();
    headerCache.set(size, cached);
  }
  return cached;
}

/** Pixel values of one array, row-major (height x width). */
export type PixelFn = (kind: ArrayKind, width: number, height: number) => StoreTypedArray;

/** Default pixels: images and weights with a NaN top-left corner block, masks all zero. */
export const defaultPixels: PixelFn = (kind, width, height) => {
  const data = allocate(dtypeOf(kind), width * height);
  if (kind === "mask") return data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data[y * width + x] = x < 40 && y < 40 ? NaN : (x * 7 + y * 13) % 101 + (kind === "weight" ? 1 : 0.5);
    }
  }
  return data;
};

/** Options of {@link writeSkycell}. */
export interface SkycellOptions {
  /** Bands (default r, i, z, y). */
  bands?: string[];
  /** Kinds per band (default image, mask, weight). */
  kinds?: ArrayKind[];
  /** Image width (default 200). */
  size?: number;
  /** Chunk shape (default 64 x 64, so arrays have several chunks). */
  chunks?: [number, number];
  /** Pixels (default {@link defaultPixels}). */
  pixels?: PixelFn;
}

/** Writes the arrays of one skycell through `beginArray` / `writeChunkRowSync` / `commit`. */
export async function writeSkycell(
  store: ZarrStore,
  skycell: string,
  opts: SkycellOptions = {},
): Promise<void> {
  const h = await headersOf(opts.size ?? 200);
  const chunks = opts.chunks ?? [64, 64];
  for (const band of opts.bands ?? ["r", "i", "z", "y"]) {
    for (const kind of opts.kinds ?? ARRAY_KINDS) {
      const spec = { shape: [h.height, h.width] as [number, number], dtype: dtypeOf(kind), chunks };
      const build = await store.beginArray(skycellGroupPath(skycell), arrayName(band, kind), spec);
      const data = (opts.pixels ?? defaultPixels)(kind, h.width, h.height);
      for (let row = 0; row < build.chunkRows; row++) {
        const [y0, y1] = build.rowsOf(row);
        build.writeChunkRow(row, data.slice(y0 * h.width, y1 * h.width) as StoreTypedArray);
      }
      await build.commit({ header: h[kind] }, { source: "test" });
    }
  }
}

/** Creates a store at `{dir}/ps1_skycells_zarr/ps1_skycells.zarr` holding these skycells. */
export async function makeStore(
  dir: string,
  skycells: string[],
  opts: SkycellOptions = {},
): Promise<ZarrStore> {
  const store = await ZarrStore.open(path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr"), {
    create: true,
  });
  for (const s of skycells) await writeSkycell(store, s, opts);
  return store;
}

/** A fresh temporary directory removed by the returned function. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "inv-test-" });
  return { dir, remove: () => Deno.remove(dir, { recursive: true }) };
}

/** Every file and directory under `root` with its size (files) and content digest, sorted. */
export async function treeSnapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.push(`${r}/`);
        await walk(p, r);
      } else {
        const bytes = await Deno.readFile(p);
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        out.push(`${r} ${bytes.length} ${Array.from(digest.slice(0, 8), (b) => b.toString(16)).join("")}`);
      }
    }
  };
  await walk(root, "");
  return out.sort();
}

/** Reads and rewrites an array's `zarr.json` document. */
export async function editMetadata(
  store: ZarrStore,
  nodePath: string,
  edit: (doc: Record<string, unknown>) => void,
): Promise<void> {
  const file = path.join(store.fsPath(nodePath), "zarr.json");
  const doc = JSON.parse(await Deno.readTextFile(file));
  edit(doc);
  await Deno.writeTextFile(file, JSON.stringify(doc, null, 2));
}

/** Options of {@link writeLegacySkycell}. */
export interface LegacyOptions {
  /** Bands (default r, i, z, y). */
  bands?: string[];
  /** Kinds (default image and mask: old stores had no weights). */
  kinds?: ArrayKind[];
  /** Header on the skycell group (default) or on each array. */
  headerOn?: "group" | "array";
  /** Chunk shape (default 128 x 128). */
  chunks?: [number, number];
}

/**
 * Writes one skycell in the legacy layout, Zarr format 2, by hand: `projections/{PPPP}/{skycell}/` with
 * `.zgroup`, `.zattrs` and `.zarray` files, zstd chunks with `.`-separated keys. The store root gets a
 * `.zgroup` when it has no metadata yet.
 */
export async function writeLegacySkycell(
  root: string,
  skycell: string,
  opts: LegacyOptions = {},
): Promise<void> {
  const { encodeChunk } = await import("../../lib/zarr/chunks.ts");
  const h = await headersOf(200);
  const chunks = opts.chunks ?? [128, 128];
  const projection = skycell.slice(8, 12);
  const group = path.join(root, "projections", projection, skycell);
  await Deno.mkdir(group, { recursive: true });
  const zgroup = JSON.stringify({ zarr_format: 2 });
  for (
    const dir of [root, path.join(root, "projections"), path.join(root, "projections", projection), group]
  ) {
    const hasMeta = await Deno.stat(path.join(dir, "zarr.json")).then(() => true, () => false);
    if (!hasMeta) await Deno.writeTextFile(path.join(dir, ".zgroup"), zgroup);
  }
  if ((opts.headerOn ?? "group") === "group") {
    await Deno.writeTextFile(path.join(group, ".zattrs"), JSON.stringify({ header: h.image }));
  }
  for (const band of opts.bands ?? ["r", "i", "z", "y"]) {
    for (const kind of opts.kinds ?? ["image", "mask"] as ArrayKind[]) {
      const dir = path.join(group, arrayName(band, kind));
      await Deno.mkdir(dir, { recursive: true });
      const dtype = dtypeOf(kind);
      await Deno.writeTextFile(
        path.join(dir, ".zarray"),
        JSON.stringify({
          zarr_format: 2,
          shape: [h.height, h.width],
          chunks,
          dtype: dtype === "float32" ? "<f4" : "<u2",
          compressor: { id: "zstd", level: 3 },
          fill_value: dtype === "float32" ? "NaN" : 0,
          order: "C",
          filters: null,
        }),
      );
      if (opts.headerOn === "array") {
        await Deno.writeTextFile(path.join(dir, ".zattrs"), JSON.stringify({ header: h[kind] }));
      }
      const data = defaultPixels(kind, h.width, h.height);
      const [cr, cc] = chunks;
      for (let r = 0; r * cr < h.height; r++) {
        for (let c = 0; c * cc < h.width; c++) {
          const chunk = allocate(dtype, cr * cc);
          chunk.fill(dtype === "float32" ? NaN : 0);
          for (let y = 0; y < cr && r * cr + y < h.height; y++) {
            const x1 = Math.min(cc, h.width - c * cc);
            chunk.set(
              data.subarray((r * cr + y) * h.width + c * cc, (r * cr + y) * h.width + c * cc + x1),
              y * cc,
            );
          }
          await Deno.writeFile(path.join(dir, `${r}.${c}`), encodeChunk(chunk));
        }
      }
    }
  }
}
