/**
 * Arrays written through {@link ArrayBuild} (worker pool and this thread) read back bit-exact through
 * {@link ArrayReader.readRegion}: whole, row ranges and windows crossing chunk edges; edge chunks on disk
 * hold the full chunk shape padded with the fill value; all-fill chunks are not written and read back as
 * the fill value. Chunk files are checked by decompressing them with node:zlib's libzstd directly.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import zlib from "node:zlib";
import type { StoreTypedArray } from "../../lib/zarr/chunks.ts";
import { StoreError } from "../../lib/zarr/errors.ts";
import type { ArraySpec, StoreDtype } from "../../lib/zarr/metadata.ts";
import { listChunkFiles, openArrayReader } from "../../lib/zarr/read.ts";
import { MARKER_KEY } from "../../lib/zarr/verify.ts";
import { assertSameBits, rng, testImage, window, withStore, writeImage } from "./_helpers.ts";

const GROUP = "2556/skycell.2556.080";

/** The content size recorded in a zstd frame header, or null when the frame has none. */
function frameContentSize(frame: Uint8Array): number | null {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  assert.equal(view.getUint32(0, true), 0xfd2fb528, "zstd magic number");
  const descriptor = frame[4];
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][descriptor & 3];
  if (fcsFlag === 0 && !singleSegment) return null;
  const at = 5 + (singleSegment ? 0 : 1) + dictBytes;
  if (fcsFlag === 0) return view.getUint8(at);
  if (fcsFlag === 1) return view.getUint16(at, true) + 256;
  if (fcsFlag === 2) return view.getUint32(at, true);
  return Number(view.getBigUint64(at, true));
}

async function readChunkFile(dir: string, key: string, dtype: StoreDtype): Promise<StoreTypedArray> {
  const compressed = await Deno.readFile(path.join(dir, key));
  const raw = zlib.zstdDecompressSync(compressed);
  const buf = new Uint8Array(raw).buffer;
  assert.equal(frameContentSize(compressed), raw.byteLength, `${key}: frame records its content size`);
  return dtype === "float32" ? new Float32Array(buf) : new Uint16Array(buf);
}

for (const dtype of ["float32", "uint16"] as const) {
  {
    Deno.test(`${dtype} array reads back bit-exact whole, by rows and in windows`, async () => {
      await withStore(async (store) => {
        const spec: ArraySpec = { shape: [700, 530], dtype, chunks: [256, 200] };
        const image = testImage(dtype, 700, 530, { seed: 7, border: 30 });
        const result = await writeImage(store, GROUP, "r", spec, image);
        assert.equal(result.path, `${GROUP}/r`);
        assert.equal(result.replaced, false);
        const reader = await openArrayReader(store, `${GROUP}/r`);
        assert.deepEqual([reader.height, reader.width], [700, 530]);
        assertSameBits(await reader.readRegion(0, 700), image, "whole array");
        for (const [y0, y1] of [[0, 1], [255, 257], [256, 512], [500, 700], [699, 700]]) {
          assertSameBits(
            await reader.readRegion(y0, y1),
            window(image, 530, y0, y1, 0, 530),
            `rows ${y0}:${y1}`,
          );
        }
        const next = rng(99);
        const windows = [[250, 260, 195, 205], [0, 700, 399, 401], [511, 700, 0, 530], [600, 700, 400, 530]];
        for (let k = 0; k < 20; k++) {
          const y0 = Math.floor(next() * 699), x0 = Math.floor(next() * 529);
          const y1 = y0 + 1 + Math.floor(next() * (700 - y0)), x1 = x0 + 1 + Math.floor(next() * (530 - x0));
          windows.push([y0, y1, x0, x1]);
        }
        for (const [y0, y1, x0, x1] of windows) {
          const expected = window(image, 530, y0, y1, x0, x1);
          assertSameBits(
            await reader.readRegion(y0, y1, x0, x1),
            expected,
            `window ${y0}:${y1}, ${x0}:${x1}`,
          );
        }
      });
    });
  }
}

Deno.test("array with the default 1024 x 1024 chunks of a skycell-like shape reads back bit-exact", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [1100, 2050], dtype: "float32", chunks: [1024, 1024] };
    const image = testImage("float32", 1100, 2050, { seed: 3, border: 5 });
    const result = await writeImage(store, GROUP, "i_wt", spec, image);
    assert.equal(result.storedChunks, 4); // the third chunk column (x 2048..2049) is all NaN border
    const reader = await openArrayReader(store, `${GROUP}/i_wt`);
    assertSameBits(await reader.readRegion(0, 1100), image);
    assertSameBits(
      await reader.readRegion(1000, 1050, 1000, 2049),
      window(image, 2050, 1000, 1050, 1000, 2049),
    );
  });
});

for (const dtype of ["float32", "uint16"] as const) {
  Deno.test(`${dtype} edge chunks are stored at the full chunk shape, padded with the fill value`, async () => {
    await withStore(async (store) => {
      const spec: ArraySpec = { shape: [300, 250], dtype, chunks: [128, 100] };
      const image = testImage(dtype, 300, 250, { seed: 11 });
      if (dtype === "uint16") image.fill(7); // no zeros in the data, so padding zeros are told apart
      await writeImage(store, GROUP, "z_mask", spec, image);
      const dir = store.fsPath(`${GROUP}/z_mask`);
      const files = await listChunkFiles(store.root, dir, await store.readArray(`${GROUP}/z_mask`));
      assert.deepEqual(files.map((f) => f.key), [
        "c/0/0",
        "c/0/1",
        "c/0/2",
        "c/1/0",
        "c/1/1",
        "c/1/2",
        "c/2/0",
        "c/2/1",
        "c/2/2",
      ]);
      for (const [row, col] of [[0, 2], [2, 0], [2, 2], [1, 1]]) {
        const chunk = await readChunkFile(dir, `c/${row}/${col}`, dtype);
        assert.equal(chunk.length, 128 * 100, `c/${row}/${col} holds a full chunk`);
        const rows = Math.min(128, 300 - row * 128), cols = Math.min(100, 250 - col * 100);
        for (let y = 0; y < 128; y++) {
          for (let x = 0; x < 100; x++) {
            const v = chunk[y * 100 + x];
            if (y < rows && x < cols) {
              const expected = image[(row * 128 + y) * 250 + col * 100 + x];
              assert.ok(Object.is(v, expected), `c/${row}/${col} [${y}, ${x}] = ${v}, expected ${expected}`);
            } else if (dtype === "float32") {
              assert.ok(Number.isNaN(v), `c/${row}/${col} padding [${y}, ${x}] = ${v}, expected NaN`);
            } else {
              assert.equal(v, 0, `c/${row}/${col} padding [${y}, ${x}]`);
            }
          }
        }
      }
    });
  });
}

for (const dtype of ["float32", "uint16"] as const) {
  Deno.test(`${dtype} chunks that hold only the fill value are not written and read back as ${dtype === "float32" ? "NaN" : "0"}`, async () => {
    await withStore(async (store) => {
      const spec: ArraySpec = { shape: [600, 600], dtype, chunks: [128, 128] };
      // A 200-pixel fill border: the chunks of the first and last rows and columns hold no data.
      const image = testImage(dtype, 600, 600, { seed: 5, border: 200 });
      if (dtype === "uint16") {
        for (let y = 200; y < 400; y++) image.fill(3, y * 600 + 200, y * 600 + 400);
      }
      const result = await writeImage(store, GROUP, "y", spec, image);
      const info = await store.readArray(`${GROUP}/y`);
      const files = await listChunkFiles(store.root, store.fsPath(`${GROUP}/y`), info);
      // Data rows/columns 200..399 touch chunks 1..3 of 0..4.
      const expected = [];
      for (let r = 1; r <= 3; r++) for (let c = 1; c <= 3; c++) expected.push(`c/${r}/${c}`);
      assert.deepEqual(files.map((f) => f.key), expected);
      assert.equal(result.storedChunks, 9);
      assert.equal((info.attributes[MARKER_KEY] as { stored_chunks: number }).stored_chunks, 9);
      assert.equal(result.bytes, files.reduce((s, f) => s + f.bytes, 0));
      const reader = await openArrayReader(store, `${GROUP}/y`);
      assert.equal(await reader.readChunk([0, 0]), null);
      const whole = await reader.readRegion(0, 600);
      assertSameBits(whole, image);
      const corner = await reader.readRegion(0, 128, 0, 128);
      if (dtype === "float32") assert.ok(corner.every(Number.isNaN));
      else assert.ok(corner.every((v) => v === 0));
    });
  });
}

Deno.test("an array of nothing but fill values has no chunk files and reads back as fill", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [300, 300], dtype: "float32", chunks: [128, 128] };
    const result = await writeImage(store, GROUP, "g", spec, new Float32Array(300 * 300).fill(NaN));
    assert.equal(result.storedChunks, 0);
    const dir = store.fsPath(`${GROUP}/g`);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["zarr.json"]);
    const reader = await openArrayReader(store, `${GROUP}/g`);
    assert.ok((await reader.readRegion(0, 300)).every(Number.isNaN));
  });
});

Deno.test("readRegion reuses the output buffer it is given and rejects windows outside the array", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [200, 150], dtype: "uint16", chunks: [64, 64] };
    const image = testImage("uint16", 200, 150, { seed: 2 });
    await writeImage(store, GROUP, "r_mask", spec, image);
    const reader = await openArrayReader(store, `${GROUP}/r_mask`);
    const out = new Uint16Array(10_000);
    const got = await reader.readRegion(10, 60, 20, 120, out);
    assert.equal(got.buffer, out.buffer);
    assertSameBits(got, window(image, 150, 10, 60, 20, 120));
    for (
      const [y0, y1, x0, x1] of [[-1, 5, 0, 5], [0, 201, 0, 5], [5, 5, 0, 5], [0, 5, 3, 2], [0, 5, 0, 151]]
    ) {
      await assert.rejects(
        () => reader.readRegion(y0, y1, x0, x1),
        (err) => err instanceof StoreError && /outside the array \(200 x 150\)/.test(err.message),
      );
    }
  });
});

Deno.test("a band of the wrong length is refused and nothing is left", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [200, 150], dtype: "float32", chunks: [64, 64] };
    const build = await store.beginArray(GROUP, "r", spec);
    assert.throws(
      () => build.writeChunkRow(0, new Float32Array(10)),
      /band 0 has 10 values, expected 64 x 150/,
    );
    assert.throws(
      () => build.writeChunkRow(3, new Float32Array(64 * 150)),
      /band 3 has 9600 values, expected 8 x 150/,
    );
    assert.throws(
      () => build.writeChunkRow(4, new Float32Array(0)),
      /band 4 has 0 values, expected 0 x 150/,
    );
    await build.abort();
    assert.equal(await store.readNode(`${GROUP}/r`), null);
    assert.deepEqual((await store.listChildren(GROUP)).map((c) => c.name), []);
  });
});

Deno.test("bands from takeBand are reused from row to row, and a caller's own band is left alone", async () => {
  await withStore(async (store) => {
    const spec: ArraySpec = { shape: [300, 100], dtype: "uint16", chunks: [64, 64] };
    const image = testImage("uint16", 300, 100, { seed: 4 });
    const build = await store.beginArray(GROUP, "r_mask", spec);
    const first = build.takeBand(0);
    first.set(image.subarray(0, 64 * 100));
    await build.writeChunkRow(0, first);
    const second = build.takeBand(1);
    assert.equal(second, first, "the written band came back");
    second.set(image.subarray(64 * 100, 128 * 100));
    build.writeChunkRow(1, second);
    build.takeBand(2); // the recycled band is taken: none is free now
    // A band the caller owns (a view of its image) is never handed out again.
    await build.writeChunkRow(2, image.subarray(128 * 100, 192 * 100) as Uint16Array<ArrayBuffer>);
    const fresh = build.takeBand(3);
    assert.notEqual(fresh.buffer, image.buffer);
    fresh.set(image.subarray(192 * 100, 256 * 100));
    await build.writeChunkRow(3, fresh);
    await build.writeChunkRow(4, image.subarray(256 * 100) as Uint16Array<ArrayBuffer>);
    await build.commit({ header: "" });
    const reader = await openArrayReader(store, `${GROUP}/r_mask`);
    assertSameBits(await reader.readRegion(0, 300), image);
  });
});
