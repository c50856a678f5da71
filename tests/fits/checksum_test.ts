import assert from "node:assert/strict";
import {
  ChecksumAccumulator,
  checksumOf,
  encodeChecksum,
  onesComplementAdd,
  sealHeader,
} from "../../lib/fits/checksum.ts";
import { formatCard, headerBytes, headerText } from "../../lib/fits/card.ts";
import { writeFits } from "../../lib/fits/write.ts";
import { scanHdus } from "../../lib/fits/hdu.ts";
import { verifyChecksums } from "../../lib/fits/verify.ts";
import { FitsError } from "../../lib/fits/errors.ts";

/** Straightforward reference: add big-endian words one by one with end-around carry. */
function referenceSum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 4) {
    const w = ((bytes[i] ?? 0) * 2 ** 24) + ((bytes[i + 1] ?? 0) << 16) + ((bytes[i + 2] ?? 0) << 8) +
      (bytes[i + 3] ?? 0);
    sum += w;
    if (sum > 0xffffffff) sum -= 0xffffffff;
  }
  return sum;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

Deno.test("encodes the FITS standard's example sum 868229149 as hcHjjc9ghcEghc9g", () => {
  // Appendix J of the FITS standard: the complement of this sum encodes to the given string.
  assert.equal(encodeChecksum(~868229149 >>> 0), "hcHjjc9ghcEghc9g");
});

Deno.test("reproduces the CHECKSUM cfitsio wrote for an empty primary header", () => {
  // Cards exactly as fpack 4.2 wrote them (text copied from its output).
  const cards = [
    "SIMPLE  =                    T / file does conform to FITS standard             ",
    "BITPIX  =                   16 / number of bits per data pixel                  ",
    "NAXIS   =                    0 / number of data axes                            ",
    "EXTEND  =                    T / FITS dataset may contain extensions            ",
    "COMMENT   FITS (Flexible Image Transport System) format is defined in 'Astronomy",
    "COMMENT   and Astrophysics', volume 376, page 359; bibcode: 2001A&A...376..359H ",
    "CHECKSUM= '1dG54Z941dE41Z94'   / HDU checksum updated 2026-11-24T23:26:19       ",
    "DATASUM = '         0'         / data unit checksum updated 2026-11-24T23:26:19 ",
  ];
  const block = headerBytes(headerText(cards));
  assert.equal(checksumOf(block), 0xffffffff, "a sealed HDU sums to negative zero");
  const zeroed = headerBytes(headerText(cards.map((c) => c.replace("1dG54Z941dE41Z94", "0000000000000000"))));
  assert.equal(encodeChecksum(~checksumOf(zeroed) >>> 0), "1dG54Z941dE41Z94");
});

Deno.test("accumulates the same sum in pieces of any length and alignment", () => {
  const data = randomBytes(10_007, 7);
  const expected = referenceSum(data);
  assert.equal(checksumOf(data), expected);
  for (const piece of [1, 3, 5, 64, 1000, 4099]) {
    const acc = new ChecksumAccumulator();
    for (let i = 0; i < data.length; i += piece) acc.add(data.subarray(i, i + piece));
    assert.equal(acc.value, expected, `pieces of ${piece}`);
  }
  // Unaligned view into a larger buffer.
  const big = new Uint8Array(data.length + 1);
  big.set(data, 1);
  assert.equal(checksumOf(big.subarray(1)), expected);
});

Deno.test("handles sums with many carries (all bytes 0xff)", () => {
  const data = new Uint8Array(4 * 100_000).fill(0xff);
  assert.equal(checksumOf(data), referenceSum(data));
  assert.equal(onesComplementAdd(0xffffffff, 1), 1);
  assert.equal(onesComplementAdd(0x80000000, 0x80000000), 1);
});

Deno.test("sealHeader makes the whole HDU sum to negative zero and DATASUM hold the data sum", () => {
  const data = randomBytes(2880 * 2, 3);
  const header = headerBytes(headerText([
    formatCard("SIMPLE", true),
    formatCard("BITPIX", 8),
    formatCard("NAXIS", 1),
    formatCard("NAXIS1", data.length),
    formatCard("CHECKSUM", "0000000000000000"),
    formatCard("DATASUM", "0"),
  ]));
  const dataSum = referenceSum(data);
  sealHeader(header, dataSum);
  const text = new TextDecoder().decode(header);
  assert.match(text, new RegExp(`DATASUM = '${dataSum}'`));
  assert.equal(onesComplementAdd(referenceSum(header), dataSum), 0xffffffff);
});

Deno.test("writeFits with checksum: CHECKSUM/DATASUM verify over the written file", () => {
  const pixels = new Float32Array(33 * 17).map((_, i) => Math.sin(i) * 1e3);
  pixels[5] = NaN;
  const file = writeFits(undefined, pixels, 33, 17, "float32", { checksum: true });
  assert.equal(referenceSum(file), 0xffffffff);
  const text = new TextDecoder().decode(file.subarray(0, 2880));
  const datasum = Number(/DATASUM = '(\d+)'/.exec(text)![1]);
  assert.equal(datasum, referenceSum(file.subarray(2880)));
});

Deno.test("verifyChecksums refuses data that do not match DATASUM even without a CHECKSUM card", () => {
  const data = randomBytes(2880, 11);
  const file = (datasum: string) => {
    const header = headerBytes(headerText([
      formatCard("SIMPLE", true),
      formatCard("BITPIX", 8),
      formatCard("NAXIS", 1),
      formatCard("NAXIS1", data.length),
      formatCard("DATASUM", datasum),
    ]));
    const out = new Uint8Array(header.length + data.length);
    out.set(header);
    out.set(data, header.length);
    return out;
  };
  const right = String(referenceSum(data));
  const good = file(right);
  assert.deepEqual(verifyChecksums(good, scanHdus(good, "good.fits"), "good.fits"), {
    datasums: 1,
    checksums: 0,
  });
  // A wrong DATASUM, and a right DATASUM over a changed byte: both refused, no CHECKSUM needed.
  const wrongSum = file(String((referenceSum(data) + 1) % 0xffffffff));
  const changed = file(right);
  changed[changed.length - 100] ^= 0x10;
  for (const [name, bytes] of [["wrong-sum.fits", wrongSum], ["changed.fits", changed]] as const) {
    assert.throws(
      () => verifyChecksums(bytes, scanHdus(bytes, name), name),
      (err) => err instanceof FitsError && /HDU 0 data do not match DATASUM/.test(err.message),
      name,
    );
  }
});
