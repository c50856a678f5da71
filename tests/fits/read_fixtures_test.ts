/**
 * Decodes every committed FITS fixture (tests/fixtures/fits, made by generate_fits_fixtures.py with astropy
 * and fpack) and compares the pixels with the reference digest and the store header with astropy's string.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { openImage } from "../../lib/fits/image.ts";
import { decodeFixture, FIXTURE_DIR, pixelDigest, readManifest } from "./_fixtures.ts";

const cases = readManifest();

Deno.test("fixture manifest covers the PS1 layouts and the generic variants", () => {
  const names = new Set(cases.map((c) => c.name));
  for (
    const n of [
      "ps1_image_rice",
      "ps1_image_zblank",
      "ps1_mask_gzip",
      "ps1_weight_rice_q",
      "float_dither2_rice",
      "float_nodither_rice",
      "float_no_zdither0",
      "int16_gzip2",
      "int16_plio",
      "int16_nocompress",
      "int16_tiles2d_rice",
      "int16_hcompress",
      "int16_hcompress_lossy",
      "int16_hcompress_tiles",
      "float_hcompress_q",
      "ps1_image_checksum",
      "int16_blank_only_rice",
      "ps1_image_trailing_blanks",
      "mask_trailing_blanks_gzip",
      "image_ext_int16_scaled",
      "header_edge_rice",
    ]
  ) assert.ok(names.has(n), n);
});

for (const c of cases) {
  Deno.test(`decodes ${c.name} (${c.type}) like the reference`, () => {
    const { pixels, header } = decodeFixture(FIXTURE_DIR, c);
    assert.equal(pixelDigest(pixels), c.sha256, `${c.name} pixels ${c.note}`);
    assert.equal(header, Deno.readTextFileSync(path.join(FIXTURE_DIR, c.header)), `${c.name} header`);
  });
}

Deno.test("band size does not change the pixels (2-D tiles cut by bands, one-row bands, whole image)", () => {
  for (const name of ["float_tiles2d_rice_q", "int16_tiles2d_rice", "ps1_image_rice"]) {
    const c = cases.find((x) => x.name === name)!;
    for (const band of [1, 48, 50, c.height]) {
      assert.equal(pixelDigest(decodeFixture(FIXTURE_DIR, c, band).pixels), c.sha256, `${name} band ${band}`);
    }
  }
});

Deno.test("reader reports size, compression and reuses the output buffer", () => {
  const c = cases.find((x) => x.name === "ps1_image_rice")!;
  const r = openImage(Deno.readFileSync(path.join(FIXTURE_DIR, c.file)), { source: c.file });
  assert.equal(r.width, c.width);
  assert.equal(r.height, c.height);
  assert.equal(r.compression, "RICE_1");
  assert.equal(r.imageHeader.get("BITPIX"), 16);
  const buf = new Float32Array(10 * c.width);
  assert.equal(r.readRows(5, 15, "float32", buf), buf);
  assert.throws(() => r.readRows(0, c.height + 1, "float32"), RangeError);
  assert.throws(() => r.readRows(0, 20, "float32", buf), RangeError);
  const plain = openImage(Deno.readFileSync(path.join(FIXTURE_DIR, "plain_float32.fits")));
  assert.equal(plain.compression, null);
});

Deno.test("PS1 image: blank border, hole and all-blank row are NaN; constant row is one value", () => {
  const c = cases.find((x) => x.name === "ps1_image_rice")!;
  const r = openImage(Deno.readFileSync(path.join(FIXTURE_DIR, c.file)));
  const px = r.readRows(0, r.height, "float32");
  const w = r.width;
  assert.ok(Number.isNaN(px[0]) && Number.isNaN(px[8]) && !Number.isNaN(px[9]));
  assert.ok(Number.isNaN(px[55 * w + 110]));
  assert.ok(px.subarray(21 * w + 9, 22 * w).every(Number.isNaN));
  // stored 1234 -> float32(float32(1234 * BSCALE) + BZERO), as astropy computes it
  const want = Math.fround(Math.fround(1234 * Math.fround(2.1156e-4)) + Math.fround(7.17));
  assert.ok(px.subarray(20 * w + 9, 21 * w).every((v) => v === want));
  const mask = openImage(Deno.readFileSync(path.join(FIXTURE_DIR, "ps1_mask_gzip.fits")));
  const m = mask.readRows(100, 101, "uint16");
  assert.ok(m.every((v) => (v & 0x8020) === 0x8020));
});
