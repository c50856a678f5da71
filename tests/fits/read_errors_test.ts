/** Damaged and non-FITS inputs give a FitsError naming the file and the problem, never garbage. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { FitsError } from "../../lib/fits/errors.ts";
import { scanHdus } from "../../lib/fits/hdu.ts";
import { openImage } from "../../lib/fits/image.ts";
import { FIXTURE_DIR } from "./_fixtures.ts";

const rice = () => Deno.readFileSync(path.join(FIXTURE_DIR, "ps1_image_rice.fits"));

function readAll(bytes: Uint8Array, source: string): void {
  const r = openImage(bytes, { source });
  r.readRows(0, r.height, "float32");
}

function throwsFits(fn: () => void, pattern: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof FitsError, `not a FitsError: ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

/** Byte offset of tile `t`'s COMPRESSED_DATA descriptor (column 1) in the compressed table. */
function descriptorAt(bytes: Uint8Array, t: number): number {
  const hdu = scanHdus(bytes)[1];
  return hdu.dataStart + t * hdu.header.getNumber("NAXIS1")!;
}

Deno.test("truncated file", () => {
  const b = rice();
  throwsFits(() => readAll(b.subarray(0, b.length - 5000), "cut.fits"), /^cut\.fits: truncated file/);
  throwsFits(() => readAll(b.subarray(0, 4000), "cut2.fits"), /^cut2\.fits: truncated file/);
  throwsFits(() => readAll(b.subarray(0, 1000), "cut3.fits"), /^cut3\.fits: truncated file: header of HDU 0/);
});

Deno.test("bad block size: data complete but the file is not whole 2880-byte blocks", () => {
  const b = Deno.readFileSync(path.join(FIXTURE_DIR, "plain_float32.fits"));
  const hdu = scanHdus(b)[0];
  throwsFits(
    () => readAll(b.subarray(0, hdu.dataStart + hdu.dataLength), "short.fits"),
    /^short\.fits: bad block size/,
  );
});

Deno.test("an HTML error page saved as .fits", () => {
  const html = new TextEncoder().encode("<!DOCTYPE html><html><body>404 Not Found</body></html>\n");
  throwsFits(() => readAll(html, "page.fits"), /^page\.fits: not a FITS file: an HTML/);
  throwsFits(() => readAll(new Uint8Array(0), "empty.fits"), /^empty\.fits: empty file/);
});

Deno.test("descriptor pointing outside the heap", () => {
  const b = rice();
  const at = descriptorAt(b, 7);
  new DataView(b.buffer).setInt32(at + 4, 0x7ffffff0);
  throwsFits(
    () => readAll(b, "desc.fits"),
    /^desc\.fits: tile 8: COMPRESSED_DATA descriptor .* outside the heap/,
  );
});

Deno.test("Rice stream that overruns its bytes", () => {
  const b = rice();
  const at = descriptorAt(b, 3);
  const v = new DataView(b.buffer);
  v.setInt32(at, Math.floor(v.getInt32(at) / 3));
  throwsFits(() => readAll(b, "rice.fits"), /^rice\.fits: RICE_1 tile 4: Rice stream overrun/);
});

Deno.test("corrupt gzip tile and unsupported compression", () => {
  const b = Deno.readFileSync(path.join(FIXTURE_DIR, "ps1_mask_gzip.fits"));
  const hdu = scanHdus(b)[1];
  const v = new DataView(b.buffer);
  const at = descriptorAt(b, 2);
  const heap = hdu.dataStart +
    hdu.header.getNumber("THEAP", hdu.header.getNumber("NAXIS1")! * hdu.header.getNumber("NAXIS2")!)!;
  b.fill(0x55, heap + v.getInt32(at + 4) + 10, heap + v.getInt32(at + 4) + 30);
  throwsFits(() => {
    const r = openImage(b, { source: "gz.fits" });
    r.readRows(0, r.height, "uint16");
  }, /^gz\.fits: GZIP_1 tile 3: corrupt gzip data/);
  const smooth = Deno.readFileSync(path.join(FIXTURE_DIR, "int16_hcompress_smooth.fits"));
  throwsFits(
    () => readAll(smooth, "s.fits"),
    /^s\.fits: HCOMPRESS_1 tile 1: unsupported HCOMPRESS_1 smoothing/,
  );
  const other = rice();
  const text = new TextDecoder("latin1").decode(other);
  const cardAt = text.indexOf("ZCMPTYPE= 'RICE_1  '");
  other.set(new TextEncoder().encode("ZCMPTYPE= 'LZW_9   '"), cardAt);
  throwsFits(() => openImage(other, { source: "lzw.fits" }), /^lzw\.fits: unsupported compression LZW_9$/);
});
