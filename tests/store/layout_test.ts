/**
 * The PS1 layout walk: `listStore` and `findSkycell` on the current layout and the legacy
 * `projections/{PPPP}/{skycell}` layout (Zarr format 2), with temp and unexpected nodes; the header
 * fallback to the skycell group; reading legacy format 2 arrays; and a metadata-only listing of a store of
 * 1000 skycells x 12 arrays.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import zlib from "node:zlib";
import { StoreError } from "../../lib/zarr/errors.ts";
import {
  arrayName,
  dtypeOf,
  expectedArrayNames,
  findSkycell,
  headerOf,
  listStore,
  parseArrayName,
  skycellGroupPath,
} from "../../lib/store/layout.ts";
import { arrayMetadataJson, type ArraySpec, groupMetadataJson } from "../../lib/zarr/metadata.ts";
import { openArrayReader } from "../../lib/zarr/read.ts";
import { SkycellNameError } from "../../lib/ps1/skycell.ts";
import { assertSameBits, testImage, window, withStore, writeImage } from "../zarr/_helpers.ts";

const TINY: ArraySpec = { shape: [4, 4], dtype: "float32", chunks: [4, 4] };

function writeGroup(dir: string, attributes: Record<string, unknown> = {}): void {
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(path.join(dir, "zarr.json"), groupMetadataJson(attributes));
}

function writeArrayMeta(dir: string, spec: ArraySpec, attributes: Record<string, unknown>): void {
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(path.join(dir, "zarr.json"), arrayMetadataJson(spec, attributes));
}

/** Writes a Zarr format 2 array (numcodecs zstd compressor, C order) the way zarr 2 lays it out. */
function writeV2Array(
  dir: string,
  image: Float32Array<ArrayBuffer> | Uint16Array<ArrayBuffer>,
  shape: [number, number],
  chunks: [number, number],
  opts: { separator?: "." | "/"; attributes?: Record<string, unknown> } = {},
): void {
  Deno.mkdirSync(dir, { recursive: true });
  const float = image instanceof Float32Array;
  const zarray: Record<string, unknown> = {
    chunks,
    compressor: { id: "zstd", level: 3 },
    dtype: float ? "<f4" : "<u2",
    fill_value: float ? "NaN" : 0,
    filters: null,
    order: "C",
    shape,
    zarr_format: 2,
  };
  if (opts.separator) zarray.dimension_separator = opts.separator;
  Deno.writeTextFileSync(path.join(dir, ".zarray"), JSON.stringify(zarray, null, 4));
  if (opts.attributes) Deno.writeTextFileSync(path.join(dir, ".zattrs"), JSON.stringify(opts.attributes));
  const sep = opts.separator ?? ".";
  for (let r = 0; r * chunks[0] < shape[0]; r++) {
    for (let c = 0; c * chunks[1] < shape[1]; c++) {
      const chunk = float
        ? new Float32Array(chunks[0] * chunks[1]).fill(NaN)
        : new Uint16Array(chunks[0] * chunks[1]);
      let any = false;
      for (let y = 0; y < chunks[0] && r * chunks[0] + y < shape[0]; y++) {
        for (let x = 0; x < chunks[1] && c * chunks[1] + x < shape[1]; x++) {
          const v = image[(r * chunks[0] + y) * shape[1] + c * chunks[1] + x];
          chunk[y * chunks[1] + x] = v;
          if (float ? !Number.isNaN(v) : v !== 0) any = true;
        }
      }
      if (!any) continue;
      const file = path.join(dir, `${r}${sep}${c}`);
      Deno.mkdirSync(path.dirname(file), { recursive: true });
      Deno.writeFileSync(file, zlib.zstdCompressSync(new Uint8Array(chunk.buffer)));
    }
  }
}

function writeV2Group(dir: string, attributes?: Record<string, unknown>): void {
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(path.join(dir, ".zgroup"), '{\n    "zarr_format": 2\n}');
  if (attributes) Deno.writeTextFileSync(path.join(dir, ".zattrs"), JSON.stringify(attributes));
}

Deno.test("array names, kinds and skycell paths of the layout", () => {
  assert.equal(arrayName("r", "image"), "r");
  assert.equal(arrayName("z", "mask"), "z_mask");
  assert.equal(arrayName("y", "weight"), "y_wt");
  assert.deepEqual(parseArrayName("i_wt"), { band: "i", kind: "weight" });
  assert.equal(parseArrayName("r_temp_1"), null);
  assert.equal(parseArrayName("x"), null);
  assert.equal(dtypeOf("mask"), "uint16");
  assert.equal(dtypeOf("weight"), "float32");
  assert.deepEqual(expectedArrayNames(), [
    "r",
    "r_mask",
    "r_wt",
    "i",
    "i_mask",
    "i_wt",
    "z",
    "z_mask",
    "z_wt",
    "y",
    "y_mask",
    "y_wt",
  ]);
  assert.equal(expectedArrayNames(["g", "r", "i", "z", "y"]).length, 15);
  assert.equal(skycellGroupPath("skycell.2556.080"), "2556/skycell.2556.080");
  assert.throws(() => skycellGroupPath("skycell.2556.80"), SkycellNameError);
  assert.throws(() => skycellGroupPath("../skycell.2556.080"), SkycellNameError);
});

Deno.test("listStore sorts current and legacy skycells, temp nodes and unexpected nodes apart", async () => {
  await withStore(async (store) => {
    const root = store.root;
    // Current layout: a complete skycell, an older one without weights and with a temp array, a temp
    // skycell being deleted, and nodes that are not part of the layout.
    writeGroup(path.join(root, "2556"));
    writeGroup(path.join(root, "2556", "skycell.2556.080"));
    for (const name of expectedArrayNames()) {
      writeArrayMeta(path.join(root, "2556", "skycell.2556.080", name), {
        ...TINY,
        dtype: name.endsWith("_mask") ? "uint16" : "float32",
      }, { header: name });
    }
    writeGroup(path.join(root, "2556", "skycell.2556.081"));
    for (const name of ["r", "r_mask", "i", "i_mask"]) {
      writeArrayMeta(path.join(root, "2556", "skycell.2556.081", name), TINY, {});
    }
    Deno.mkdirSync(path.join(root, "2556", "skycell.2556.081", "i_wt_temp_abc", "c", "0"), {
      recursive: true,
    });
    writeArrayMeta(path.join(root, "2556", "skycell.2556.081", "notes"), TINY, {});
    Deno.mkdirSync(path.join(root, "2556", "skycell.2556.081", ".hidden"));
    Deno.writeTextFileSync(path.join(root, "2556", "skycell.2556.081", "README"), "a file is not a node");
    writeGroup(path.join(root, "2556", "skycell.2556.082_temp_old_abc"));
    writeGroup(path.join(root, "2556", "skycell.2557.001")); // wrong projection cell
    writeGroup(path.join(root, "2556", "misc"));
    writeGroup(path.join(root, "extras"));
    Deno.mkdirSync(path.join(root, "broken"));
    Deno.writeTextFileSync(path.join(root, "broken", "zarr.json"), "{");
    writeGroup(path.join(root, "0001_temp_zz"));
    // Legacy layout, format 2, header on the skycell group only.
    writeV2Group(path.join(root, "projections"));
    writeV2Group(path.join(root, "projections", "2557"));
    writeV2Group(path.join(root, "projections", "2557", "skycell.2557.010"), { header: "GROUP HEADER" });
    writeV2Array(
      path.join(root, "projections", "2557", "skycell.2557.010", "r"),
      new Float32Array(16).fill(1),
      [4, 4],
      [4, 4],
    );
    writeV2Group(path.join(root, "projections", "2557", "skycell.2557.010", "r_temp_x"));
    writeV2Group(path.join(root, "projections", "2556"));
    writeV2Group(path.join(root, "projections", "2556", "skycell.2556.080")); // also in the current layout
    writeV2Group(path.join(root, "projections", "stuff"));

    const listing = await listStore(store);
    assert.deepEqual(
      listing.skycells.map((s) => [s.name, s.layout, s.path]),
      [
        ["skycell.2556.080", "current", "2556/skycell.2556.080"],
        ["skycell.2556.080", "legacy", "projections/2556/skycell.2556.080"],
        ["skycell.2556.081", "current", "2556/skycell.2556.081"],
        ["skycell.2557.010", "legacy", "projections/2557/skycell.2557.010"],
      ],
    );
    const [full, , older, legacy] = listing.skycells;
    assert.deepEqual(full.arrays.map((a) => a.name).sort(), expectedArrayNames().sort());
    assert.ok(full.arrays.every((a) => a.info?.kind === "array" && a.info.format === 3));
    assert.equal(full.projection, "2556");
    assert.equal(full.group?.kind, "group");
    assert.deepEqual(older.arrays.map((a) => a.name), ["i", "i_mask", "r", "r_mask"]);
    assert.deepEqual(older.temps.map((a) => [a.name, a.info]), [["i_wt_temp_abc", null]]);
    assert.deepEqual(older.unexpected.map((a) => a.name), [".hidden", "notes"]);
    assert.match(older.unexpected[0].error ?? "", /invalid node name/);
    assert.deepEqual(legacy.arrays.map((a) => [a.name, a.info?.format]), [["r", 2]]);
    assert.deepEqual(legacy.temps.map((a) => a.name), ["r_temp_x"]);
    assert.equal(legacy.group?.format, 2);
    assert.deepEqual(listing.temps.map((t) => t.path), [
      "0001_temp_zz",
      "2556/skycell.2556.082_temp_old_abc",
    ]);
    assert.deepEqual(
      listing.unexpected.map((u) => [u.path, u.error ? "error" : u.info?.kind ?? null]),
      [
        ["2556/misc", "group"],
        ["2556/skycell.2557.001", "group"],
        ["broken", "error"],
        ["extras", "group"],
        ["projections/stuff", "group"],
      ],
    );
    assert.match(listing.unexpected[2].error ?? "", /broken\/zarr\.json: invalid JSON/);
  });
});

Deno.test("findSkycell looks in the current layout first, then the legacy one, and headerOf falls back to the group", async () => {
  await withStore(async (store) => {
    const root = store.root;
    writeGroup(path.join(root, "2556"));
    writeGroup(path.join(root, "2556", "skycell.2556.080"), { header: "unused group header" });
    writeArrayMeta(path.join(root, "2556", "skycell.2556.080", "r"), TINY, { header: "ARRAY HEADER" });
    writeV2Group(path.join(root, "projections"));
    writeV2Group(path.join(root, "projections", "2556"));
    writeV2Group(path.join(root, "projections", "2556", "skycell.2556.080"), { header: "LEGACY" });
    writeV2Group(path.join(root, "projections", "2556", "skycell.2556.090"), { header: "GROUP HEADER" });
    writeV2Array(path.join(root, "projections", "2556", "skycell.2556.090", "r"), new Float32Array(16), [
      4,
      4,
    ], [4, 4]);
    writeV2Array(
      path.join(root, "projections", "2556", "skycell.2556.090", "i"),
      new Float32Array(16),
      [4, 4],
      [4, 4],
      {
        attributes: { header: "OWN HEADER" },
      },
    );

    const current = await findSkycell(store, "skycell.2556.080");
    assert.equal(current?.layout, "current");
    assert.equal(current?.path, "2556/skycell.2556.080");
    assert.equal(headerOf(current!.arrays[0].info, current!.group), "ARRAY HEADER");

    const legacy = await findSkycell(store, "skycell.2556.090");
    assert.equal(legacy?.layout, "legacy");
    assert.equal(legacy?.path, "projections/2556/skycell.2556.090");
    const byName = Object.fromEntries(legacy!.arrays.map((a) => [a.name, a.info]));
    assert.equal(headerOf(byName.r, legacy!.group), "GROUP HEADER");
    assert.equal(headerOf(byName.i, legacy!.group), "OWN HEADER");
    assert.equal(headerOf(byName.i, null), "OWN HEADER");
    assert.equal(headerOf(byName.r, null), undefined);
    assert.equal(headerOf(null, null), undefined);
    // The reader's own header is the array's only.
    assert.equal((await openArrayReader(store, "projections/2556/skycell.2556.090/r")).header, undefined);

    assert.equal(await findSkycell(store, "skycell.2556.099"), null);
    await assert.rejects(() => findSkycell(store, "skycell.2556"), SkycellNameError);
  });
});

Deno.test("findSkycell reports an unreadable skycell group instead of throwing", async () => {
  await withStore(async (store) => {
    writeGroup(path.join(store.root, "2556"));
    Deno.mkdirSync(path.join(store.root, "2556", "skycell.2556.080"));
    Deno.writeTextFileSync(
      path.join(store.root, "2556", "skycell.2556.080", "zarr.json"),
      '{"zarr_format": 3}',
    );
    const found = await findSkycell(store, "skycell.2556.080");
    assert.equal(found?.group, null);
    assert.match(found?.groupError ?? "", /unknown node_type/);
  });
});

for (const separator of [".", "/"] as const) {
  Deno.test(`legacy format 2 arrays with '${separator}' chunk keys read back bit-exact, missing chunks as fill`, async () => {
    await withStore(async (store) => {
      const dir = path.join(store.root, "projections", "2556", "skycell.2556.080");
      writeV2Group(path.join(store.root, "projections"));
      writeV2Group(path.join(store.root, "projections", "2556"));
      writeV2Group(dir);
      const image = testImage("float32", 300, 250, { seed: 9, border: 110 }) as Float32Array<ArrayBuffer>;
      const mask = testImage("uint16", 300, 250, { seed: 8, border: 110 }) as Uint16Array<ArrayBuffer>;
      writeV2Array(path.join(dir, "r"), image, [300, 250], [100, 100], {
        separator,
        attributes: { header: "H" },
      });
      writeV2Array(path.join(dir, "r_mask"), mask, [300, 250], [100, 100], { separator });
      const reader = await openArrayReader(store, "projections/2556/skycell.2556.080/r");
      assert.equal(reader.info.format, 2);
      assert.equal(reader.info.plainZstd, false);
      assert.equal(reader.header, "H");
      assertSameBits(await reader.readRegion(0, 300), image);
      assertSameBits(await reader.readRegion(95, 205, 5, 249), window(image, 250, 95, 205, 5, 249));
      const chunks = await reader.chunkFiles();
      assert.deepEqual(chunks.map((c) => c.key), [`1${separator}1`]);
      assert.equal(await reader.readChunk([0, 0]), null);
      const maskReader = await openArrayReader(store, "projections/2556/skycell.2556.080/r_mask");
      assertSameBits(await maskReader.readRegion(0, 300), mask);
    });
  });
}

Deno.test("a damaged chunk of a legacy format 2 array fails the read with a StoreError naming the file", async () => {
  await withStore(async (store) => {
    const dir = path.join(store.root, "projections", "2556", "skycell.2556.080", "r");
    writeV2Group(path.join(store.root, "projections"));
    writeV2Group(path.join(store.root, "projections", "2556"));
    writeV2Group(path.dirname(dir));
    const image = testImage("float32", 200, 200, { seed: 9 }) as Float32Array<ArrayBuffer>;
    writeV2Array(dir, image, [200, 200], [100, 100]);
    const file = path.join(dir, "1.0");
    const good = Deno.readFileSync(file);
    const reader = await openArrayReader(store, "projections/2556/skycell.2556.080/r");
    for (const bad of [good.subarray(0, good.length >> 1), new TextEncoder().encode("garbage")]) {
      Deno.writeFileSync(file, bad);
      await assert.rejects(
        () => reader.readRegion(0, 200),
        (err) => err instanceof StoreError && err.message.includes(file),
      );
    }
  });
});

Deno.test("listStore of 1000 skycells x 12 arrays finds all 12000 arrays reading metadata only", async () => {
  await withStore(async (store) => {
    const names = expectedArrayNames();
    const made = performance.now();
    const group = groupMetadataJson();
    const array = arrayMetadataJson(TINY, { header: "" });
    for (let p = 0; p < 10; p++) {
      const projection = String(2000 + p);
      writeGroup(path.join(store.root, projection));
      // One skycell per task, 25 at a time: the directories and files are made in parallel.
      const cells = Array.from(
        { length: 100 },
        (_, c) => `skycell.${projection}.${String(c).padStart(3, "0")}`,
      );
      for (let i = 0; i < cells.length; i += 25) {
        await Promise.all(
          cells.slice(i, i + 25).map(async (skycell) => {
            const dir = path.join(store.root, projection, skycell);
            await fs.mkdir(dir);
            await fs.writeFile(path.join(dir, "zarr.json"), group);
            await Promise.all(names.map(async (name) => {
              await fs.mkdir(path.join(dir, name));
              await fs.writeFile(path.join(dir, name, "zarr.json"), array);
            }));
          }),
        );
      }
    }
    console.log(`made 1000 skycells x 12 arrays in ${(performance.now() - made).toFixed(0)} ms`);
    const start = performance.now();
    const listing = await listStore(store);
    const ms = performance.now() - start;
    console.log(`listStore: 1000 skycells, 12000 arrays in ${ms.toFixed(0)} ms`);
    assert.equal(listing.skycells.length, 1000);
    assert.equal(listing.skycells.reduce((n, s) => n + s.arrays.length, 0), 12000);
    assert.ok(listing.skycells.every((s) => s.arrays.every((a) => a.info?.kind === "array")));
    assert.deepEqual([listing.temps, listing.unexpected], [[], []]);
  });
});

Deno.test("listStore of a store written through the API finds the arrays with their metadata", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [100, 90], dtype: "uint16", chunks: [64, 64] };
    await writeImage(store, "2556/skycell.2556.080", "r_mask", spec, testImage("uint16", 100, 90));
    const [skycell] = (await listStore(store)).skycells;
    assert.equal(skycell.name, "skycell.2556.080");
    const [array] = skycell.arrays;
    assert.ok(array.info?.kind === "array");
    assert.deepEqual(array.info.kind === "array" && array.info.shape, [100, 90]);
  });
});

Deno.test("a legacy format 2 array in Fortran order reads back row-major, by region and by chunk", async () => {
  await withStore(async (store) => {
    const dir = path.join(store.root, "projections", "2556", "skycell.2556.080", "r");
    writeV2Group(path.join(store.root, "projections"));
    writeV2Group(path.join(store.root, "projections", "2556"));
    writeV2Group(path.dirname(dir));
    const [h, w, ch, cw] = [30, 20, 16, 8];
    const image = new Float32Array(h * w).map((_, i) => i);
    Deno.mkdirSync(dir);
    Deno.writeTextFileSync(
      path.join(dir, ".zarray"),
      JSON.stringify({
        chunks: [ch, cw],
        compressor: { id: "zstd", level: 1 },
        dtype: "<f4",
        fill_value: "NaN",
        filters: null,
        order: "F",
        shape: [h, w],
        zarr_format: 2,
      }),
    );
    for (let r = 0; r * ch < h; r++) {
      for (let c = 0; c * cw < w; c++) {
        const chunk = new Float32Array(ch * cw).fill(NaN);
        for (let x = 0; x < cw; x++) {
          for (let y = 0; y < ch; y++) {
            const [gy, gx] = [r * ch + y, c * cw + x];
            if (gy < h && gx < w) chunk[x * ch + y] = image[gy * w + gx]; // column-major within the chunk
          }
        }
        Deno.writeFileSync(path.join(dir, `${r}.${c}`), zlib.zstdCompressSync(new Uint8Array(chunk.buffer)));
      }
    }
    const reader = await openArrayReader(store, "projections/2556/skycell.2556.080/r");
    assertSameBits(await reader.readRegion(0, h), image);
    const chunk = await reader.readChunk([1, 2]);
    assert.equal(chunk?.[0], image[16 * w + 16]);
    assert.equal(chunk?.[1], image[16 * w + 17]);
    assert.ok(Number.isNaN(chunk![3 * cw + 4])); // (19, 20) is outside the array: padding
  });
});
