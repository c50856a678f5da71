/** cfitsio's dither table and the dequantization formulas. */
import assert from "node:assert/strict";
import {
  ditherRandoms,
  ditherRow,
  ditherSeedIndex,
  N_RANDOM,
  NULL_VALUE,
  unquantizeTile,
  ZERO_VALUE,
} from "../../lib/fits/quantize.ts";

Deno.test("dither table: Park-Miller from seed 1, stored as float32", () => {
  const r = ditherRandoms();
  assert.equal(r.length, N_RANDOM);
  assert.equal(r[0], Math.fround(16807 / 2147483647));
  assert.equal(r[1], Math.fround(282475249 / 2147483647));
  assert.ok(r.every((v) => v > 0 && v < 1));
  assert.equal(ditherRandoms(), r);
});

Deno.test("dither rows: tile number plus ZDITHER0 - 1, ZDITHER0 defaulting to 1", () => {
  assert.equal(ditherRow(0), 1);
  assert.equal(ditherRow(0, 6462), 6462);
  assert.equal(ditherSeedIndex(ditherRow(9999, 1)), 9999);
  assert.equal(ditherSeedIndex(ditherRow(10000, 1)), 0);
});

Deno.test("unquantize: dithered, SUBTRACTIVE_DITHER_2 zeros, NO_DITHER, blanks", () => {
  const r = ditherRandoms();
  const ints = new Int32Array([10, NULL_VALUE, ZERO_VALUE, -5]);
  const out = new Float32Array(4);
  const scaling = { zscale: 0.25, zzero: 3, zblank: NULL_VALUE };
  unquantizeTile(ints, 4, out, "SUBTRACTIVE_DITHER_2", 1, scaling);
  let next = Math.trunc(r[0] * 500);
  assert.equal(out[0], Math.fround((10 - r[next] + 0.5) * 0.25 + 3));
  assert.ok(Number.isNaN(out[1]));
  assert.equal(out[2], 0);
  next += 3; // the position advances on blank and zero pixels too
  assert.equal(out[3], Math.fround((-5 - r[next] + 0.5) * 0.25 + 3));
  unquantizeTile(ints, 4, out, "SUBTRACTIVE_DITHER_1", 1, scaling);
  assert.notEqual(out[2], 0);
  unquantizeTile(ints, 4, out, "NO_DITHER", 1, scaling);
  assert.equal(out[0], 10 * 0.25 + 3);
  assert.ok(Number.isNaN(out[1]));
});
