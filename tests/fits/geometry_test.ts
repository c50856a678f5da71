/** Implausible image sizes are refused from the header, with one line, before any pixel buffer exists. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { formatCard, headerBytes, headerText } from "../../lib/fits/card.ts";
import { FitsError } from "../../lib/fits/errors.ts";
import { imageGeometry, MAX_IMAGE_AXIS } from "../../lib/fits/geometry.ts";
import { FitsHeader } from "../../lib/fits/header.ts";
import { openImage } from "../../lib/fits/image.ts";
import { peekImage } from "../../lib/fits/peek.ts";
import { craftCompressed } from "./_craft.ts";

const IMPLAUSIBLE = /^big\.fits: implausible image size 1000000 x 1000000 pixels .*limit is 16384 a side/;

function header(cards: [string, string | number | boolean][]): FitsHeader {
  return FitsHeader.fromString(headerText(cards.map(([k, v]) => formatCard(k, v))));
}

function isFitsError(pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof FitsError, `not a FitsError: ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  };
}

async function withFile(bytes: Uint8Array, fn: (file: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fits_geometry_" });
  try {
    const file = path.join(dir, "big.fits");
    await Deno.writeFile(file, bytes);
    await fn(file);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function rssMB(): number {
  return Deno.memoryUsage().rss / 2 ** 20;
}

Deno.test("MAX_IMAGE_AXIS leaves room for every PS1 skycell (6240-6501 a side) and refuses beyond", () => {
  assert.equal(MAX_IMAGE_AXIS, 16384);
  const ok = header([["SIMPLE", true], ["BITPIX", 16], ["NAXIS", 2], ["NAXIS1", 6501], ["NAXIS2", 16384]]);
  assert.deepEqual(imageGeometry(ok, "x.fits"), { width: 6501, height: 16384, compressed: false });
  const wide = header([["SIMPLE", true], ["BITPIX", 16], ["NAXIS", 2], ["NAXIS1", 16385], ["NAXIS2", 10]]);
  assert.throws(() => imageGeometry(wide, "x.fits"), isFitsError(/implausible image size 16385 x 10/));
});

Deno.test("a tiny file claiming 1,000,000 x 1,000,000 pixels in one tile is refused by openImage and peekImage", async () => {
  const bytes = craftCompressed({ width: 1_000_000, height: 1_000_000, tileHeight: 1_000_000 });
  assert.ok(bytes.length < 10_000);
  assert.throws(() => openImage(bytes, { source: "big.fits" }), isFitsError(IMPLAUSIBLE));
  await withFile(bytes, async (file) => {
    await assert.rejects(() => peekImage(file, "big.fits"), isFitsError(IMPLAUSIBLE));
  });
});

Deno.test("an 8 MB file of tile descriptors claiming 1,000,000 x 1,000,000 pixels is refused quickly without allocating", async () => {
  const bytes = craftCompressed({ width: 1_000_000, height: 1_000_000 });
  assert.ok(bytes.length > 8_000_000 && bytes.length < 8_100_000, `${bytes.length} bytes`);
  const before = rssMB();
  assert.throws(() => openImage(bytes, { source: "big.fits" }), isFitsError(IMPLAUSIBLE));
  await withFile(bytes, async (file) => {
    await assert.rejects(() => peekImage(file, "big.fits"), isFitsError(IMPLAUSIBLE));
  });
  // One row band of this image would be 4 GB; a few MB of header parsing and file I/O is all it costs.
  assert.ok(rssMB() - before < 200, `RSS grew by ${(rssMB() - before).toFixed(0)} MB`);
});

Deno.test("a plain image claiming 1,000,000 x 1,000,000 pixels is refused in one line (its missing data first)", () => {
  const cards = [
    formatCard("SIMPLE", true),
    formatCard("BITPIX", -32),
    formatCard("NAXIS", 2),
    formatCard("NAXIS1", 1_000_000),
    formatCard("NAXIS2", 1_000_000),
  ];
  const bytes = headerBytes(headerText(cards));
  // scanHdus reports the missing 4 TB of data first; either way it is one line and nothing is allocated.
  assert.throws(() => openImage(bytes, { source: "big.fits" }), isFitsError(/^big\.fits: truncated file/));
  assert.throws(() => imageGeometry(FitsHeader.parse(bytes).header, "big.fits"), isFitsError(IMPLAUSIBLE));
});

Deno.test("images that are not 2-D are refused", () => {
  const oneD = header([["SIMPLE", true], ["BITPIX", 16], ["NAXIS", 1], ["NAXIS1", 100]]);
  assert.throws(() => imageGeometry(oneD, "a.fits"), isFitsError(/^a\.fits: no 2-D image \(NAXIS = 1\)/));
  const none = header([["SIMPLE", true], ["BITPIX", 16], ["NAXIS", 0]]);
  assert.throws(() => imageGeometry(none, "a.fits"), isFitsError(/no 2-D image \(NAXIS = 0\)/));
  const cube = header([
    ["SIMPLE", true],
    ["BITPIX", 16],
    ["NAXIS", 3],
    ["NAXIS1", 10],
    ["NAXIS2", 10],
    ["NAXIS3", 4],
  ]);
  assert.throws(() => imageGeometry(cube, "a.fits"), isFitsError(/3-dimensional image \(NAXIS3 > 1\)/));
  const flatCube = header([
    ["SIMPLE", true],
    ["BITPIX", 16],
    ["NAXIS", 3],
    ["NAXIS1", 10],
    ["NAXIS2", 10],
    ["NAXIS3", 1],
  ]);
  assert.deepEqual(imageGeometry(flatCube, "a.fits"), { width: 10, height: 10, compressed: false });
  const zeroWide = header([["SIMPLE", true], ["BITPIX", 16], ["NAXIS", 2], ["NAXIS1", 0], ["NAXIS2", 5]]);
  assert.throws(() => imageGeometry(zeroWide, "a.fits"), isFitsError(/invalid NAXIS1 0/));
  const compressed = craftCompressed({ width: 20, height: 1 });
  const oneRow = openImage(compressed, { source: "c.fits" });
  assert.equal(oneRow.height, 1, "a 2-D image one row high is fine");
});
