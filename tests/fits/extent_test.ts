/** The byte extent of a file's HDUs, read from headers alone; bytes after them are ignored with a warning. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { FitsError } from "../../lib/fits/errors.ts";
import { readFitsExtent, readFitsExtentSync, trailingBytesWarning } from "../../lib/fits/extent.ts";
import { scanHdus } from "../../lib/fits/hdu.ts";
import { openImage } from "../../lib/fits/image.ts";
import { peekImage } from "../../lib/fits/peek.ts";
import { FIXTURE_DIR } from "./_fixtures.ts";

const dir = await Deno.makeTempDir({ prefix: "fits_extent_" });
const rice = Deno.readFileSync(path.join(FIXTURE_DIR, "ps1_image_rice.fits"));
const TRAILING = 3 * 2 ** 20;

function withTrailing(bytes: Uint8Array, trailing: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + trailing.length);
  out.set(bytes);
  out.set(trailing, bytes.length);
  return out;
}

function garbage(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

async function write(name: string, bytes: Uint8Array): Promise<string> {
  const file = path.join(dir, name);
  await Deno.writeFile(file, bytes);
  return file;
}

Deno.test("a file without trailing bytes: the extent is the whole file, no warning, HDUs as scanHdus", async () => {
  const file = await write("plain.fits", rice);
  for (const extent of [await readFitsExtent(file), readFitsExtentSync(file)]) {
    assert.equal(extent.end, rice.length);
    assert.equal(extent.fileBytes, rice.length);
    assert.equal(extent.trailingBytes, 0);
    assert.equal(extent.warning, null);
    const scanned = scanHdus(rice);
    assert.deepEqual(
      extent.hdus.map(({ header: _, ...rest }) => rest),
      scanned.map(({ header: _, ...rest }) => rest),
    );
    assert.deepEqual(extent.hdus.map((h) => h.header.cards), scanned.map((h) => h.header.cards));
  }
});

Deno.test("3 MB of trailing garbage: the extent ends before it, the warning names it, the prefix reads", async () => {
  const file = await write("trailing.fits", withTrailing(rice, garbage(TRAILING)));
  const expected =
    `x.fits: ${TRAILING} bytes after the last HDU ignored (the FITS data end at byte ${rice.length} ` +
    `of ${rice.length + TRAILING})`;
  for (const extent of [await readFitsExtent(file, "x.fits"), readFitsExtentSync(file, "x.fits")]) {
    assert.equal(extent.end, rice.length);
    assert.equal(extent.trailingBytes, TRAILING);
    assert.equal(extent.warning, expected);
  }
  assert.equal(trailingBytesWarning("x.fits", rice.length, rice.length + TRAILING), expected);
  // A caller reads [0, end) only and gets the same image.
  const handle = await Deno.open(file);
  const prefix = new Uint8Array((await readFitsExtent(file)).end);
  let got = 0;
  while (got < prefix.length) got += (await handle.read(prefix.subarray(got)))!;
  handle.close();
  const a = openImage(prefix).readRows(0, 203, "float32");
  const b = openImage(rice).readRows(0, 203, "float32");
  assert.deepEqual(new Uint8Array(a.buffer), new Uint8Array(b.buffer));
  const peek = await peekImage(file, "x.fits");
  assert.equal(peek.end, rice.length);
  assert.equal(peek.trailingBytes, TRAILING);
  assert.equal(peek.warning, expected);
  assert.equal(peek.width, 257);
});

Deno.test("trailing bytes that are not a multiple of 2880 (an HTML page appended) are ignored too", async () => {
  const page = new TextEncoder().encode("<html><body>502 Bad Gateway</body></html>\n");
  const file = await write("html_tail.fits", withTrailing(rice, page));
  const extent = readFitsExtentSync(file, "y.fits");
  assert.equal(extent.end, rice.length);
  assert.equal(extent.trailingBytes, page.length);
  assert.ok(extent.warning!.startsWith(`y.fits: ${page.length} bytes after the last HDU ignored`));
});

Deno.test("reading the extent costs the headers, not the trailing bytes", async () => {
  const file = await write("big_tail.fits", withTrailing(rice, new Uint8Array(64 * 2 ** 20)));
  const before = Deno.memoryUsage().rss;
  const extent = await readFitsExtent(file);
  assert.equal(extent.trailingBytes, 64 * 2 ** 20);
  assert.ok(Deno.memoryUsage().rss - before < 32 * 2 ** 20, "well under the 64 MB of trailing bytes");
});

Deno.test("damaged files give the same one-line errors as scanHdus", async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ["cut.fits", rice.subarray(0, rice.length - 5000), /^cut\.fits: truncated file: HDU 1 data needs/],
    [
      "cut2.fits",
      rice.subarray(0, 1000),
      /^cut2\.fits: truncated file: header of HDU 0 at byte 0 has no END/,
    ],
    [
      "page.fits",
      new TextEncoder().encode("<!DOCTYPE html><html>404</html>"),
      /^page\.fits: not a FITS file: an HTML/,
    ],
    ["empty.fits", new Uint8Array(0), /^empty\.fits: empty file/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const file = await write(name, bytes);
    await assert.rejects(
      () => readFitsExtent(file, name),
      (e) => e instanceof FitsError && pattern.test(e.message),
    );
    assert.throws(
      () => readFitsExtentSync(file, name),
      (e) => e instanceof FitsError && pattern.test(e.message),
    );
  }
});

Deno.test("peekImage reports the identity cards of the image HDU", async () => {
  const mask = await write("mask.fits", Deno.readFileSync(path.join(FIXTURE_DIR, "ps1_mask_gzip.fits")));
  const m = await peekImage(mask);
  assert.equal(m.identity.bitpix, 16);
  assert.equal(m.identity.bzero, 32768);
  assert.equal(m.identity.quantized, null);
  const weight = await write("w.fits", Deno.readFileSync(path.join(FIXTURE_DIR, "ps1_weight_rice_q.fits")));
  const w = await peekImage(weight);
  assert.equal(w.identity.bitpix, -32);
  assert.equal(w.identity.quantized, "SUBTRACTIVE_DITHER_1");
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
