import assert from "node:assert/strict";
import zlib from "node:zlib";
import { checkHeader } from "../../lib/store/header_check.ts";
import { checkZstdFrames } from "../../lib/inventory/zstd_frame.ts";
import { encodeChunk } from "../../lib/zarr/chunks.ts";
import { headersOf } from "./_store.ts";

Deno.test("zstd frame check: whole frames pass with their content size, any cut or trailing garbage fails", () => {
  const values = new Float32Array(64 * 64);
  for (let i = 0; i < values.length; i++) values[i] = i % 7 === 0 ? NaN : Math.sin(i);
  const frame = encodeChunk(values);
  assert.deepEqual(checkZstdFrames(frame), { contentSize: values.byteLength, frames: 1 });
  for (let cut = 1; cut < frame.length; cut += Math.max(1, Math.floor(frame.length / 40))) {
    assert.ok(checkZstdFrames(frame.subarray(0, frame.length - cut)).error, `cut by ${cut}`);
  }
  assert.ok(checkZstdFrames(frame.subarray(0, frame.length - 1)).error);
  const trailing = new Uint8Array([...frame, 1, 2, 3, 4, 5]);
  assert.match(checkZstdFrames(trailing).error!, /garbage after frame 1/);
  assert.match(checkZstdFrames(new TextEncoder().encode("not zstd")).error!, /bad magic number/);
  assert.match(checkZstdFrames(new Uint8Array(0)).error!, /empty/);
  // Two frames back to back, a frame with a checksum, one without content size, an all-zero chunk.
  assert.equal(checkZstdFrames(new Uint8Array([...frame, ...frame])).contentSize, 2 * values.byteLength);
  const checked = zlib.zstdCompressSync(new Uint8Array(5000).fill(3), {
    params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 },
  });
  assert.equal(checkZstdFrames(checked).error, undefined);
  assert.ok(checkZstdFrames(checked.subarray(0, checked.length - 2)).error);
  const zeros = encodeChunk(new Uint16Array(1024 * 1024));
  assert.deepEqual(checkZstdFrames(zeros), { contentSize: 2 * 1024 * 1024, frames: 1 });
});

Deno.test("header check: an astropy header gives its NAXIS; damage and departures from the form are told apart", async () => {
  const h = await headersOf(200);
  assert.deepEqual(checkHeader(h.image), {
    naxis1: 200,
    naxis2: 199,
    cards: checkHeader(h.image).cards,
    length: h.image.length,
    notes: [],
  });
  assert.ok(checkHeader(h.image).cards > 20);
  assert.equal(checkHeader(42).errorKind, "invalid");
  assert.equal(checkHeader(null).errorKind, "invalid");
  assert.equal(checkHeader(h.image.replace("NAXIS1  =", "NAXIS1  \u00e9")).errorKind, "invalid");
  assert.equal(checkHeader("SIMPLE  =                    T".padEnd(2880)).errorKind, "no_naxis");
  assert.equal(
    checkHeader(h.image.replace(/NAXIS2 {2}=\s+199/, "NAXIS2  =                 -199")).errorKind,
    "no_naxis",
  );
  // Newline-separated cards and a header without END still read (astropy's fromstring reads both).
  const lines = h.image.match(/.{80}/g)!.filter((c) => c.trim() !== "").join("\n");
  const sep = checkHeader(lines);
  assert.equal(sep.error, undefined);
  assert.equal(sep.naxis1, 200);
  assert.ok(sep.notes.some((n) => /newlines/.test(n)));
  const noEnd = checkHeader(h.image.slice(0, h.image.indexOf("END     ")));
  assert.equal(noEnd.error, undefined);
  assert.ok(noEnd.notes.some((n) => /no END card/.test(n)));
});
