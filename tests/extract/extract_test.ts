/**
 * Round trips archive file -> store -> FITS: the extracted file holds the archive file's pixels (decoded
 * from the source with openImage, encoded here independently as big-endian FITS data) and the header
 * cards astropy gives for the source (the store header), whichever thread decodes the bands.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { scanHdus } from "../../lib/fits/hdu.ts";
import { FitsHeader } from "../../lib/fits/header.ts";
import { openImage } from "../../lib/fits/image.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { BandPool, extractArray, extractArrayToBytes } from "../../lib/extract/mod.ts";
import { tableColumn } from "../interop/_fits_table.ts";
import {
  expectedCards,
  fitsDataBytes,
  sameBits,
  SKYCELL_A,
  type SourceArray,
  standardFixture,
  treeOf,
} from "./_store.ts";

const fx = await standardFixture();
const KINDS = ["image", "mask", "weight"] as const;

function cardTexts(h: FitsHeader): string[] {
  return h.cards.map((c) => c.text);
}

/** Checks a plain extracted file against its source: header cards, data bytes, padding. */
function checkPlainFile(bytes: Uint8Array, src: SourceArray): void {
  assert.equal(bytes.length % 2880, 0, "file length is whole blocks");
  const { header, end } = FitsHeader.parse(bytes);
  const cards = cardTexts(header);
  const bitpix = src.kind === "mask" ? 16 : -32;
  assert.deepEqual(cards.slice(0, 5).map((c) => c.slice(0, 30)), [
    "SIMPLE  =                    T",
    `BITPIX  = ${String(bitpix).padStart(20)}`,
    "NAXIS   =                    2",
    `NAXIS1  = ${String(src.width).padStart(20)}`,
    `NAXIS2  = ${String(src.height).padStart(20)}`,
  ]);
  assert.deepEqual(cards.slice(5), expectedCards(src.header), `${src.kind}: cards after the mandatory ones`);
  if (src.kind === "mask") {
    assert.equal(header.get("BZERO"), 32768);
    assert.equal(header.get("BSCALE"), 1);
  } else {
    assert.equal(header.has("BZERO") || header.has("BSCALE") || header.has("BLANK"), false);
  }
  const expected = fitsDataBytes(src.pixels);
  const data = bytes.subarray(end, end + expected.length);
  assert.equal(Buffer.compare(data, expected), 0, `${src.kind}: data bytes equal the source pixels`);
  assert.ok(bytes.subarray(end + expected.length).every((b) => b === 0), "data padding is zeros");
}

Deno.test("the fixture's sources have blank (NaN) pixels, mask bits and header cards to check", () => {
  const image = fx.source(SKYCELL_A, "r", "image");
  assert.ok(image.pixels.some((v) => Number.isNaN(v)), "image has NaN pixels");
  assert.ok(
    fx.source(SKYCELL_A, "r", "mask").pixels.some((v) => (v & 0x100) !== 0),
    "mask has the CR bit (0x100) set",
  );
  assert.ok(expectedCards(image.header).length > 30, "the header has the synthetic PS1 cards");
});

for (const kind of KINDS) {
  for (const workers of [0, 2]) {
    Deno.test(`extracts the r ${kind} with the source's pixels and header cards (${workers} workers)`, async () => {
      const src = fx.source(SKYCELL_A, "r", kind);
      const store = await ZarrStore.open(fx.store);
      const out = path.join(fx.dir, `rt_${kind}_${workers}`, "out.fits");
      try {
        const result = await extractArray(store, { skycell: SKYCELL_A, band: "r", kind }, out, {
          workers,
          bandRows: 128,
        });
        assert.equal(result.headerSource, "array");
        assert.equal(result.region, null);
        assert.deepEqual([result.width, result.height], [src.width, src.height]);
        checkPlainFile(await Deno.readFile(out), src);
        assert.deepEqual(await treeOf(path.dirname(out)), ["out.fits"], "no temp file left");
      } finally {
        store.close();
      }
    });
  }
}

Deno.test("extractArrayToBytes gives the same file as extractArray", async () => {
  const store = await ZarrStore.open(fx.store);
  try {
    for (const kind of KINDS) {
      const sel = { skycell: SKYCELL_A, band: "i", kind };
      const out = path.join(fx.dir, "bytes", `${kind}.fits`);
      await extractArray(store, sel, out);
      const { bytes, result } = await extractArrayToBytes(store, sel);
      assert.equal(result.output, null);
      assert.deepEqual(bytes, await Deno.readFile(out));
      checkPlainFile(bytes, fx.source(SKYCELL_A, "i", kind));
    }
  } finally {
    store.close();
  }
});

Deno.test("a shared pool serves several extractions and decodes the same bytes", async () => {
  const store = await ZarrStore.open(fx.store);
  const pool = new BandPool(2);
  try {
    for (const band of ["z", "y"]) {
      for (const kind of KINDS) {
        const out = path.join(fx.dir, "pool", `${band}_${kind}.fits`);
        await extractArray(store, { skycell: SKYCELL_A, band, kind }, out, { pool, bandRows: 100 });
        checkPlainFile(await Deno.readFile(out), fx.source(SKYCELL_A, band, kind));
      }
    }
  } finally {
    pool.close();
    store.close();
  }
});

/** The image HDU of a compressed file: layout checks, then the decoded pixels and header. */
function openCompressed(bytes: Uint8Array, cmptype: string) {
  const hdus = scanHdus(bytes);
  assert.equal(hdus.length, 2, "primary HDU and one extension");
  assert.equal(hdus[0].header.get("NAXIS"), 0, "empty primary HDU");
  assert.equal(hdus[1].header.get("ZIMAGE"), true);
  assert.equal(hdus[1].header.get("ZCMPTYPE"), cmptype);
  return openImage(bytes);
}

for (const [compress, cmptype] of [["gzip", "GZIP_1"], ["rice", "RICE_1"]] as const) {
  Deno.test(`--compress ${compress} writes the archive layout (${cmptype} in extension 1)`, async () => {
    const store = await ZarrStore.open(fx.store);
    try {
      for (const kind of KINDS) {
        const src = fx.source(SKYCELL_A, "z", kind);
        const out = path.join(fx.dir, `c_${compress}`, `${kind}.fits`);
        const result = await extractArray(store, { skycell: SKYCELL_A, band: "z", kind }, out, {
          compress,
          workers: kind === "weight" ? 2 : 0,
          bandRows: 128,
        });
        assert.equal(result.compression, compress);
        const bytes = await Deno.readFile(out);
        const img = openCompressed(bytes, cmptype);
        const hdus = scanHdus(bytes);
        const type = kind === "mask" ? "uint16" : "float32";
        const pixels = img.readRows(0, img.height, type);
        // The image header: the source cards, as astropy would rebuild them from the table header.
        const imageCards = img.imageHeader.cards.map((c) => c.text)
          .filter((c) => !/^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT) /.test(c));
        for (const card of expectedCards(src.header)) {
          if (card.trim() === "") continue;
          assert.ok(imageCards.includes(card), `${kind}: card kept: ${card.trimEnd()}`);
        }
        if (compress === "gzip" || kind === "mask") {
          sameBits(pixels, src.pixels, `${compress} ${kind} decodes losslessly`);
          continue;
        }
        // RICE_1 on floats is quantized: NaN kept, every value within half of its tile's step (the tile's
        // ZSCALE, read from the compressed table; a tile stored losslessly has ZSCALE 0 and must be exact),
        // plus the float32 rounding of the decoded value (half an ulp, at most |a| * 2^-24).
        const zscale = tableColumn(bytes, "ZSCALE");
        const [tileWidth, tileRows] = [hdus[1].header.get("ZTILE1"), Number(hdus[1].header.get("ZTILE2"))];
        assert.equal(tileWidth, src.width, "tiles are whole rows");
        assert.equal(zscale.length, Math.ceil(src.height / tileRows), "one ZSCALE per tile");
        assert.ok(zscale.some((s) => s > 0), "some tiles are quantized");
        const w = src.width;
        for (let y = 0; y < src.height; y++) {
          const half = zscale[Math.floor(y / tileRows)] / 2;
          for (let x = 0; x < w; x++) {
            const a = pixels[y * w + x];
            const b = src.pixels[y * w + x];
            if (Number.isNaN(b)) assert.ok(Number.isNaN(a), `${kind} (${x}, ${y}) stays NaN`);
            else {
              assert.ok(
                Math.abs(a - b) <= half + Math.abs(a) * 2 ** -24,
                `${kind} (${x}, ${y}): ${a} vs ${b}, more than half a step (${half})`,
              );
            }
          }
        }
      }
    } finally {
      store.close();
    }
  });
}

Deno.test("the store's own 1024 x 1024 chunks with padded edge chunks stream to the same bytes on any thread", async () => {
  // Wider and taller than one chunk, neither a multiple of 1024; one chunk left all-NaN (not written).
  const [h, w] = [1300, 2100];
  const pixels = new Float32Array(h * w);
  let seed = 7;
  for (let i = 0; i < pixels.length; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    pixels[i] = (seed >>> 8) / 65536 - 128;
  }
  for (let y = 1024; y < h; y++) pixels.fill(NaN, y * w + 1024, y * w + 2048);
  pixels[5] = -0;
  const storePath = path.join(fx.dir, "big.zarr");
  const store = await ZarrStore.open(storePath, { create: true });
  try {
    const build = await store.beginArray(`2556/${SKYCELL_A}`, "r", {
      shape: [h, w],
      dtype: "float32",
      chunks: [1024, 1024],
    });
    for (let row = 0; row < build.chunkRows; row++) {
      const [y0, y1] = build.rowsOf(row);
      build.writeChunkRow(row, pixels.slice(y0 * w, y1 * w));
    }
    await build.commit({});
    assert.deepEqual(await treeOf(path.join(storePath, "2556", SKYCELL_A, "r", "c")), [
      "0/0",
      "0/1",
      "0/2",
      "1/0",
      "1/2",
    ]);
    const expected = fitsDataBytes(pixels);
    for (const workers of [0, 1, 2]) {
      const out = path.join(fx.dir, "big", `${workers}.fits`);
      await extractArray(store, { skycell: SKYCELL_A, band: "r", kind: "image" }, out, { workers });
      const bytes = await Deno.readFile(out);
      const { end } = FitsHeader.parse(bytes);
      assert.equal(
        Buffer.compare(bytes.subarray(end, end + expected.length), expected),
        0,
        `${workers} workers`,
      );
    }
  } finally {
    store.close();
  }
});
