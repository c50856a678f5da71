/**
 * Tile decoders write at most their tile: a gzip "tile bomb" of a few MB that would inflate to gigabytes
 * fails fast with bounded memory (measured in a child process), and Rice, PLIO and HCOMPRESS streams that
 * describe more pixels than the tile has never write past it.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { FitsError } from "../../lib/fits/errors.ts";
import { openImage } from "../../lib/fits/image.ts";
import { gzip2, inflateTile } from "../../lib/fits/tiles/gzip.ts";
import { hdecompress } from "../../lib/fits/tiles/hcompress.ts";
import { plioDecode } from "../../lib/fits/tiles/plio.ts";
import { riceDecode } from "../../lib/fits/tiles/rice.ts";
import { craftCompressed, gzipBomb } from "./_craft.ts";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "_bomb_child.ts");
const GB = 2 ** 30;

function fitsError(pattern: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof FitsError && pattern.test(e.message);
}

Deno.test("a 2 MB gzip tile bomb (2 GB inflated) fails fast in a child process whose peak memory stays under 1 GB", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fits_bomb_" });
  try {
    const bomb = gzipBomb(2 * 2 ** 20); // inflates to about 2.1 GB of zeros
    const bytes = craftCompressed({ width: 1000, height: 1000, tileHeight: 1000, firstTile: bomb });
    assert.ok(bytes.length < 3 * 2 ** 20);
    const file = path.join(dir, "bomb.fits");
    await Deno.writeFile(file, bytes);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", `--allow-read=${file},/proc/self/status`, CHILD, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const report = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(
      report.error,
      "bomb.fits: GZIP_1 tile 1: gzip data inflate to more than the tile's 2000000 bytes",
    );
    assert.ok(report.peakBytes < GB, `peak ${(report.peakBytes / 2 ** 20).toFixed(0)} MB`);
    // The time it took is a benchmark's business; here the count of bytes it may make is the bound.
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GZIP_2 and inflateTile with a cap (also used for GZIP_COMPRESSED_DATA tiles) stop at the tile size", () => {
  const bomb = gzipBomb(16 * 2 ** 10); // about 17 MB inflated
  const info = { source: "b.fits", tile: 4, pixels: 100, nx: 100, ny: 1, bytepix: 2, params: new Map() };
  assert.throws(
    () => gzip2.decode(bomb, info, 2),
    fitsError(/^b\.fits: GZIP_2 tile 5: gzip data inflate to more than the tile's 200 bytes$/),
  );
  assert.throws(() => inflateTile(bomb, "here", 4096), fitsError(/^here: gzip data inflate to more than/));
  // Exactly the tile size is fine; without a cap the old behaviour (inflate everything) stays available.
  const small = gzipSync(new Uint8Array(5000).fill(3));
  assert.equal(inflateTile(small, "here").length, 5000);
  assert.equal(inflateTile(small, "here", 5000).length, 5000);
  assert.throws(() => inflateTile(small, "here", 4999), fitsError(/more than the tile's 4999 bytes/));
});

Deno.test("a GZIP_1 file whose tile inflates past its size is refused by openImage's reader", () => {
  const bytes = craftCompressed({ width: 50, height: 4, tileHeight: 4, firstTile: gzipBomb(1024) });
  const image = openImage(bytes, { source: "g.fits" });
  assert.throws(
    () => image.readRows(0, 4, "float32"),
    fitsError(/^g\.fits: GZIP_1 tile 1: gzip data inflate to more than the tile's 400 bytes$/),
  );
});

Deno.test("a PLIO line list with runs longer than the tile writes only the tile's pixels", () => {
  // Old-style header (word 2 = list length 4), then one instruction: a run of 4000 pixels of value 1.
  const words = [0, 0, 4, (4 << 12) | 4000];
  const bytes = new Uint8Array(words.length * 2);
  words.forEach((w, i) => new DataView(bytes.buffer).setUint16(2 * i, w));
  const out = new Int32Array(20).fill(7);
  plioDecode(bytes, 10, out, "p");
  assert.deepEqual([...out], [...new Array(10).fill(1), ...new Array(10).fill(7)]);
});

Deno.test("a Rice stream longer than the tile writes only the tile's pixels", () => {
  // BYTEPIX 4: first value 5, then zero-entropy blocks (FS code 0) repeating it, for far more pixels.
  const stream = new Uint8Array(64);
  stream[3] = 5;
  for (const out of [new Int32Array(40).fill(-1), new Int16Array(40).fill(-1)]) {
    const bytepix = out instanceof Int32Array ? 4 : 2;
    const s = stream.slice(4 - bytepix);
    riceDecode(s, 10, 32, bytepix, out, "r");
    assert.deepEqual([...out], [...new Array(10).fill(5), ...new Array(30).fill(-1)]);
  }
});

Deno.test("an HCOMPRESS stream claiming a larger tile is refused before anything is allocated", () => {
  const bytes = new Uint8Array(64);
  bytes.set([0xdd, 0x99]);
  const v = new DataView(bytes.buffer);
  v.setInt32(2, 100_000);
  v.setInt32(6, 100_000);
  assert.throws(
    () => hdecompress(bytes, 10, new Int32Array(10), "h"),
    fitsError(/^h: HCOMPRESS tile is 100000 x 100000, expected 10 pixels$/),
  );
});
