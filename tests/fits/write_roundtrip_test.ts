/**
 * Round trips of the writers through the FITS reader (openImage): what we write reads back as the
 * source pixels and cards. The references for the bytes themselves (astropy, fitsverify, funpack) are in
 * tests/interop/fits_write_test.ts; this suite needs no Python.
 */
import assert from "node:assert/strict";
import { openImage } from "../../lib/fits/image.ts";
import { formatCard, splitCards } from "../../lib/fits/card.ts";
import { FitsStreamWriter, writeFits } from "../../lib/fits/write.ts";
import { CompressedFitsWriter, compressImage } from "../../lib/fits/compress.ts";

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function sky(width: number, height: number, seed: number): Float32Array {
  const rand = lcg(seed);
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    out[i] = 100 + (rand() + rand() + rand() - 1.5) * 8 + (i % width) * 0.01;
  }
  out.fill(NaN, 0, width); // an all-NaN first row
  for (let y = 0; y < height; y++) out.fill(NaN, y * width, y * width + 3); // a blank left border
  return out;
}

function sameFloats(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}: pixel ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

const STORED = [
  formatCard("OBJECT", "round trip"),
  formatCard("EXPTIME", 1234.5, "seconds"),
  formatCard("BSOFTEN", 221.9),
  formatCard("HISTORY", "kept in order"),
].join("");

Deno.test("plain float32 and uint16 files read back as the source pixels and stored cards", () => {
  const width = 57, height = 23;
  const f = sky(width, height, 1);
  f[100] = Infinity;
  f[101] = -0;
  const u = new Uint16Array(width * height).map((_, i) => (i * 2654435761) >>> 16);
  const fr = openImage(writeFits(STORED, f, width, height, "float32"), { source: "f32" });
  assert.equal(fr.width, width);
  assert.equal(fr.height, height);
  assert.equal(fr.compression, null);
  sameFloats(fr.readRows(0, height, "float32"), f, "float32");
  for (const card of splitCards(STORED)) assert.ok(fr.imageHeader.cards.some((c) => c.text === card), card);
  const ur = openImage(writeFits(STORED, u, width, height, "uint16", { checksum: true }), { source: "u16" });
  assert.deepEqual(ur.readRows(0, height, "uint16"), u);
  assert.deepEqual(ur.readRows(5, 9, "uint16"), u.subarray(5 * width, 9 * width));
});

Deno.test("a streamed plain file reads back band by band", async () => {
  const width = 130, height = 77;
  const f = sky(width, height, 2);
  const path = await Deno.makeTempFile({ suffix: ".fits" });
  try {
    const w = await FitsStreamWriter.create(path, STORED, width, height, "float32", { checksum: true });
    for (let y = 0; y < height; y += 16) {
      await w.writeRows(f.subarray(y * width, Math.min(height, y + 16) * width));
    }
    await w.close();
    const r = openImage(await Deno.readFile(path), { source: path });
    sameFloats(r.readRows(0, height, "float32"), f, "streamed");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("RICE_1 int16 and GZIP_1 uint16 compressed files read back exactly", () => {
  const width = 90, height = 31;
  const rand = lcg(3);
  const ints = new Int16Array(width * height).map(() => Math.round((rand() - 0.5) * 60000));
  const asFloat = Float32Array.from(ints);
  const rice = openImage(compressImage([], width, height, ints, { compression: "RICE_1", bitpix: 16 }), {
    source: "rice",
  });
  assert.equal(rice.compression, "RICE_1");
  sameFloats(rice.readRows(0, height, "float32"), asFloat, "int16 RICE_1");
  const mask = new Uint16Array(width * height).map(() =>
    (rand() < 0.1 ? 0x20 : 0) | (rand() < 0.01 ? 0x8000 : 0)
  );
  const gz = openImage(
    compressImage([formatCard("MASKINFO", "bits")], width, height, mask, {
      compression: "GZIP_1",
      bitpix: 16,
      tileRows: 4,
    }),
    { source: "gzip" },
  );
  assert.equal(gz.compression, "GZIP_1");
  assert.deepEqual(gz.readRows(0, height, "uint16"), mask);
});

Deno.test("quantized float32 RICE_1 reads back near the source (NaN kept, constant row exact), streamed = in memory", async () => {
  const width = 120, height = 20;
  const f = sky(width, height, 4);
  f.fill(42.25, 5 * width, 6 * width); // constant row: stored losslessly
  const whole = openImage(
    compressImage([], width, height, f, { compression: "RICE_1", bitpix: -32, ditherSeed: 9 }),
  );
  const path = await Deno.makeTempFile({ suffix: ".fits" });
  try {
    const w = await CompressedFitsWriter.create(path, [], width, height, {
      compression: "RICE_1",
      bitpix: -32,
      ditherSeed: 9,
    });
    for (let y = 0; y < height; y += 7) {
      await w.writeRows(f.subarray(y * width, Math.min(height, y + 7) * width));
    }
    await w.close();
    const streamed = openImage(await Deno.readFile(path), { source: path });
    const a = whole.readRows(0, height, "float32");
    const b = streamed.readRows(0, height, "float32");
    sameFloats(b, a, "streamed equals in-memory");
    for (let y = 0; y < height; y++) {
      const row = f.subarray(y * width, (y + 1) * width);
      // The quantization step is about the row's noise / 4; bound the error by the row's spread.
      let lo = Infinity, hi = -Infinity;
      for (const v of row) if (v === v) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      for (let x = 0; x < width; x++) {
        const src = row[x], got = a[y * width + x];
        if (src !== src) assert.ok(got !== got, `NaN at ${x},${y}`);
        else if (y === 5) assert.equal(got, src);
        else assert.ok(Math.abs(got - src) <= (hi - lo) / 4, `pixel ${x},${y}: ${got} vs ${src}`);
      }
    }
  } finally {
    await Deno.remove(path);
  }
});
