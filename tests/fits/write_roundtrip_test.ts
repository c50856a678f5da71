/**
 * Round trips of the writers through the FITS reader (openImage): what we write reads back as the
 * source pixels and cards. The same files (tests/interop/_roundtrip_files.ts) are checked against astropy
 * and fitsverify in tests/interop/write_roundtrip_test.ts, and the writers' bytes against astropy,
 * fitsverify and funpack in tests/interop/fits_write_test.ts; this suite needs no Python.
 */
import assert from "node:assert/strict";
import { openImage } from "../../lib/fits/image.ts";
import { splitCards } from "../../lib/fits/card.ts";
import { scanHdus } from "../../lib/fits/hdu.ts";
import { type RoundtripFile, roundtripFiles } from "../interop/_roundtrip_files.ts";
import { tableColumn } from "../interop/_fits_table.ts";

const FILES = await roundtripFiles();

function file(name: string): RoundtripFile {
  const f = FILES.find((f) => f.name === name);
  if (!f) throw new Error(`no round-trip file ${name}`);
  return f;
}

function sameFloats(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}: pixel ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

Deno.test("plain float32 and uint16 files read back as the source pixels and stored cards", () => {
  const f = file("f32");
  const fr = openImage(f.bytes, { source: f.name });
  assert.equal(fr.width, f.width);
  assert.equal(fr.height, f.height);
  assert.equal(fr.compression, null);
  assert.ok(Object.is((f.source as Float32Array)[101], -0) && (f.source as Float32Array)[100] === Infinity);
  sameFloats(fr.readRows(0, f.height, "float32"), f.source as Float32Array, "float32");
  for (const card of splitCards(f.cards)) assert.ok(fr.imageHeader.cards.some((c) => c.text === card), card);
  const u = file("u16_ck");
  const ur = openImage(u.bytes, { source: u.name });
  assert.deepEqual(ur.readRows(0, u.height, "uint16"), u.source);
  assert.deepEqual(ur.readRows(5, 9, "uint16"), u.source.subarray(5 * u.width, 9 * u.width));
});

Deno.test("a streamed plain file reads back band by band", () => {
  const f = file("f32_streamed");
  const r = openImage(f.bytes, { source: f.name });
  sameFloats(r.readRows(0, f.height, "float32"), f.source as Float32Array, "streamed");
});

Deno.test("RICE_1 int16 and GZIP_1 uint16 compressed files read back exactly", () => {
  const i16 = file("i16_rice");
  const rice = openImage(i16.bytes, { source: i16.name });
  assert.equal(rice.compression, "RICE_1");
  sameFloats(rice.readRows(0, i16.height, "float32"), Float32Array.from(i16.source), "int16 RICE_1");
  const mask = file("u16_gzip");
  const gz = openImage(mask.bytes, { source: mask.name });
  assert.equal(gz.compression, "GZIP_1");
  assert.deepEqual(gz.readRows(0, mask.height, "uint16"), mask.source);
});

Deno.test("quantized float32 RICE_1 reads back within half a tile's step (NaN kept, constant row exact), streamed = in memory", () => {
  const whole = file("f32_rice_q");
  const streamed = file("f32_rice_q_streamed");
  const { width, height } = whole;
  const a = openImage(whole.bytes).readRows(0, height, "float32");
  const b = openImage(streamed.bytes, { source: streamed.name }).readRows(0, height, "float32");
  sameFloats(b, a, "streamed equals in-memory");
  const f = whole.source as Float32Array;
  const zscale = tableColumn(whole.bytes, "ZSCALE");
  const tileRows = Number(scanHdus(whole.bytes)[1].header.get("ZTILE2"));
  assert.equal(zscale.length, Math.ceil(height / tileRows));
  for (let y = 0; y < height; y++) {
    const half = zscale[Math.floor(y / tileRows)] / 2;
    for (let x = 0; x < width; x++) {
      const src = f[y * width + x], got = a[y * width + x];
      if (src !== src) assert.ok(got !== got, `NaN at ${x},${y}`);
      else if (whole.exactRows.includes(y)) assert.equal(got, src);
      else {
        // Half the tile's step, plus the float32 rounding of the decoded value.
        assert.ok(
          Math.abs(got - src) <= half + Math.abs(got) * 2 ** -24,
          `pixel ${x},${y}: ${got} vs ${src}`,
        );
      }
    }
  }
});
