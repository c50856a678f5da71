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
    warnings: [],
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

/** A sealed one-HDU file (CHECKSUM and DATASUM written by writeFits). */
function sealedFile(): Uint8Array {
  const pixels = new Float32Array(40 * 30).map((_, i) => Math.cos(i) * 100);
  return writeFits(undefined, pixels, 40, 30, "float32", { checksum: true });
}

/** Replaces the first card with `keyword` (8 characters, padded) by `card`. */
function replaceCard(bytes: Uint8Array, keyword: string, card: string): void {
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, 2880));
  for (let at = 0; at < 2880; at += 80) {
    if (text.slice(at, at + 8) === keyword.padEnd(8)) {
      bytes.set(new TextEncoder().encode(card.padEnd(80)), at);
      return;
    }
  }
  throw new Error(`no ${keyword} card`);
}

Deno.test("verifyChecksums: a sealed file passes with both sums checked and no warning", () => {
  const file = sealedFile();
  assert.deepEqual(verifyChecksums(file, scanHdus(file, "s.fits"), "s.fits"), {
    datasums: 1,
    checksums: 1,
    warnings: [],
  });
});

Deno.test("verifyChecksums: a header edited after its CHECKSUM was written, with a good DATASUM, is accepted with a warning", () => {
  const file = sealedFile();
  const text = new TextDecoder("latin1").decode(file.subarray(0, 2880));
  const end = text.indexOf("END     ");
  // An archive pipeline adds a card after sealing: only the header sum changes.
  file.set(new TextEncoder().encode(formatCard("ORIGIN", "PS1 IPP") + "END".padEnd(80)), end);
  const report = verifyChecksums(file, scanHdus(file, "edited.fits"), "edited.fits");
  assert.equal(report.datasums, 1);
  assert.equal(report.checksums, 0);
  assert.deepEqual(report.warnings, [
    "edited.fits: HDU 0 header does not match its CHECKSUM, but the data match DATASUM (header edited " +
    "after the checksum was written); accepted",
  ]);
});

Deno.test("verifyChecksums: a wrong DATASUM is refused whether or not CHECKSUM matches", () => {
  const changed = sealedFile();
  changed[2880 + 17] ^= 0x01; // data changed: DATASUM and CHECKSUM both wrong
  assert.throws(
    () => verifyChecksums(changed, scanHdus(changed, "c.fits"), "c.fits"),
    (e) => e instanceof FitsError && /^c\.fits: HDU 0 data do not match DATASUM/.test(e.message),
  );
  const noChecksum = sealedFile();
  noChecksum[2880 + 17] ^= 0x01;
  replaceCard(noChecksum, "CHECKSUM", "COMMENT   checksum card removed");
  assert.throws(
    () => verifyChecksums(noChecksum, scanHdus(noChecksum, "n.fits"), "n.fits"),
    (e) => e instanceof FitsError && /^n\.fits: HDU 0 data do not match DATASUM/.test(e.message),
  );
});

Deno.test("verifyChecksums: a wrong CHECKSUM without a DATASUM card is refused (nothing vouches for the data)", () => {
  const file = sealedFile();
  replaceCard(file, "DATASUM", "COMMENT   datasum card removed");
  assert.throws(
    () => verifyChecksums(file, scanHdus(file, "d.fits"), "d.fits"),
    (e) => e instanceof FitsError && e.message === "d.fits: HDU 0 does not match its CHECKSUM",
  );
});

Deno.test("verifyChecksums: a DATASUM that is not a number is reported, not counted", () => {
  const file = sealedFile();
  replaceCard(file, "CHECKSUM", "COMMENT   checksum card removed");
  replaceCard(file, "DATASUM", formatCard("DATASUM", "n/a"));
  const report = verifyChecksums(file, scanHdus(file, "x.fits"), "x.fits");
  assert.deepEqual(report, {
    datasums: 0,
    checksums: 0,
    warnings: ['x.fits: HDU 0 DATASUM "n/a" is not a number, not checked'],
  });
});

Deno.test("verifyChecksums: the sealed PS1-like fixture checks both HDUs without warnings", () => {
  const file = Deno.readFileSync(new URL("../fixtures/fits/ps1_image_checksum.fits", import.meta.url));
  const report = verifyChecksums(file, scanHdus(file, "ps1.fits"), "ps1.fits");
  assert.ok(report.datasums >= 1 && report.checksums >= 1, JSON.stringify(report));
  assert.deepEqual(report.warnings, []);
});
