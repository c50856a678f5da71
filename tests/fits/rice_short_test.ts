import assert from "node:assert/strict";
import { RiceEncoder } from "../../lib/fits/encode/rice.ts";
import { riceDecode } from "../../lib/fits/tiles/rice.ts";
import { FitsError } from "../../lib/fits/errors.ts";
import { seededRandom } from "../../lib/archive/faults.ts";

/** Values that exercise every path: constant blocks, raw blocks, small noise and rare huge jumps. */
function awkward(n: number, seed: number): Int16Array {
  const random = seededRandom(seed);
  const out = new Int16Array(n);
  let v = 0;
  for (let i = 0; i < n; i++) {
    const block = Math.floor(i / 32) % 5;
    // block 0 keeps v: a constant block, the zero-entropy code
    if (block === 1) v = Math.floor(random() * 65536) - 32768; // raw block
    else if (block === 2 && i % 32 === 7) v += random() < 0.5 ? 30000 : -30000; // a long zero run
    else v += Math.round((random() - 0.5) * 6);
    out[i] = v;
  }
  return out;
}

Deno.test("BYTEPIX 2 decoding (Int16 output) equals the general 32-bit loop for every block kind", () => {
  const enc = new RiceEncoder();
  for (const [n, seed] of [[1, 1], [31, 2], [32, 3], [1000, 4], [6300, 5], [6301, 6]]) {
    const values = awkward(n, seed);
    const stream = enc.encode(values, 2).slice();
    const short = new Int16Array(n);
    const general = new Int32Array(n);
    riceDecode(stream, n, 32, 2, short);
    riceDecode(stream, n, 32, 2, general);
    assert.deepEqual(short, values, `n=${n}`);
    assert.deepEqual(Int16Array.from(general), values, `n=${n} (general loop)`);
  }
});

Deno.test("a truncated BYTEPIX 2 stream is an overrun error, not garbage", () => {
  const enc = new RiceEncoder();
  const values = awkward(2000, 7);
  const stream = enc.encode(values, 2).slice();
  for (const cut of [3, Math.floor(stream.length / 2), stream.length - 40]) {
    assert.throws(
      () =>
        riceDecode(stream.subarray(0, cut), values.length, 32, 2, new Int16Array(values.length), "tile 1"),
      (err: unknown) => err instanceof FitsError && /tile 1: Rice stream overrun/.test(err.message),
      `cut at ${cut}`,
    );
  }
});
