import assert from "node:assert/strict";
import {
  asFloat,
  CardError,
  cardKeyword,
  formatCard,
  formatFloat,
  headerText,
  removeCards,
  setCard,
  splitCards,
} from "../../lib/fits/card.ts";
import {
  encodeRows,
  fitsHeaderBlock,
  FitsStreamWriter,
  FitsWriteError,
  primaryImageCards,
  writeFits,
} from "../../lib/fits/write.ts";

const FIXTURES = new URL("../fixtures/fits_write/", import.meta.url);

function cardsOf(bytes: Uint8Array): string[] {
  const text = new TextDecoder().decode(bytes);
  const cards = [];
  for (let i = 0; i < text.length; i += 80) cards.push(text.slice(i, i + 80));
  return cards;
}

Deno.test("formats mandatory keywords in fixed format (value ending in column 30)", () => {
  for (const [key, value] of [["SIMPLE", true], ["BITPIX", -32], ["NAXIS", 2], ["NAXIS1", 6300]] as const) {
    const card = formatCard(key, value);
    assert.equal(card.length, 80);
    assert.equal(card.slice(0, 10), key.padEnd(8) + "= ");
    assert.notEqual(card[29], " ", `${key} value ends in column 30`);
    assert.equal(card.slice(10, 29).trim(), String(value === true ? "" : value).slice(0, -1));
  }
  assert.equal(formatCard("SIMPLE", true).slice(29, 30), "T");
  assert.equal(formatCard("XTENSION", "IMAGE").slice(10, 20), "'IMAGE   '");
});

Deno.test("formats strings with '' escapes, padded to 8 characters, and a comment after a slash", () => {
  assert.equal(formatCard("OBJECT", "M31's", "target").trimEnd(), "OBJECT  = 'M31''s  '           / target");
  assert.equal(formatCard("EMPTY", "").trimEnd(), "EMPTY   = ''");
  assert.equal(formatCard("LEAD", "  x").slice(10, 20), "'  x     '");
  assert.equal(formatCard("FLAG", false).slice(29, 30), "F");
  assert.equal(formatCard("NOVAL", null).trimEnd(), "NOVAL   =");
});

Deno.test("formats floats like Python's repr with an upper-case two-digit exponent", () => {
  const cases: [number, string][] = [
    [0.1, "0.1"],
    [1.0, "1.0"],
    [-0, "-0.0"],
    [1234.5, "1234.5"],
    [1e-5, "1E-05"],
    [0.0001, "0.0001"],
    [2.1156e-4, "0.00021156"],
    [-6.9444446e-05, "-6.9444446E-05"],
    [1e16, "1E+16"],
    [1.5e300, "1.5E+300"],
    [9999999999999998, "9999999999999998.0"],
    [123456789.123, "123456789.123"],
    [1 / 3, "0.3333333333333333"],
  ];
  for (const [value, text] of cases) assert.equal(formatFloat(value), text, String(value));
  assert.equal(formatCard("BSCALE", asFloat(1)).slice(10, 30), "                 1.0");
  assert.equal(formatCard("BIG", 12345678901234567890n).slice(10, 30), "12345678901234567890");
  assert.throws(() => formatCard("X", NaN), CardError);
});

Deno.test("commentary cards and long strings span several cards", () => {
  const history = formatCard("HISTORY", "h".repeat(100));
  assert.equal(history.length, 160);
  assert.equal(history.slice(0, 8), "HISTORY ");
  assert.equal(history.slice(80, 88), "HISTORY ");
  const long = formatCard("LONGSTR", "a'b".repeat(40), "note");
  assert.equal(long.length % 80, 0);
  const cards = splitCards(long);
  assert.ok(cards.length >= 2);
  assert.match(cards[0], /^LONGSTR = '.*&'\s*$/);
  assert.equal(cards[1].slice(0, 11), "CONTINUE  '");
  // Rejoining the pieces gives the escaped string back.
  const joined = cards.map((c) => /'(.*)'/.exec(c)![1].replace(/&$/, "")).join("");
  assert.equal(joined.replaceAll("''", "'"), "a'b".repeat(40));
});

Deno.test("card list helpers: split, set, remove", () => {
  const header = headerText([formatCard("A", 1), formatCard("B", 2), formatCard("COMMENT", "c")]);
  assert.equal(header.length, 2880);
  const cards = splitCards(header);
  assert.deepEqual(cards.map(cardKeyword), ["A", "B", "COMMENT"]);
  assert.deepEqual(setCard(cards, formatCard("B", 5)).map((c) => c.slice(0, 30).trim()), [
    "A       =                    1",
    "B       =                    5",
    "COMMENT c",
  ]);
  assert.equal(setCard(cards, formatCard("C", 3)).length, 4);
  assert.deepEqual(removeCards(cards, ["A"]).map(cardKeyword), ["B", "COMMENT"]);
});

Deno.test("float32 header: mandatory cards first, stored cards verbatim, scaling and extension keywords dropped", async () => {
  const stored = await Deno.readTextFile(new URL("header.txt", FIXTURES));
  const storedCards = splitCards(stored);
  const withExt = [
    formatCard("XTENSION", "IMAGE"),
    formatCard("BITPIX", 16),
    formatCard("NAXIS", 2),
    formatCard("NAXIS1", 10),
    formatCard("NAXIS2", 10),
    formatCard("PCOUNT", 0),
    formatCard("GCOUNT", 1),
    ...storedCards,
    formatCard("CHECKSUM", "stale"),
  ].join("") + "END".padEnd(80);
  const block = fitsHeaderBlock(withExt, 640, 480, "float32");
  assert.equal(block.length % 2880, 0);
  const cards = cardsOf(block);
  assert.deepEqual(cards.slice(0, 5).map((c) => c.slice(0, 30)), [
    "SIMPLE  =                    T",
    "BITPIX  =                  -32",
    "NAXIS   =                    2",
    "NAXIS1  =                  640",
    "NAXIS2  =                  480",
  ]);
  const expected = storedCards.filter((c) => !["BSCALE", "BZERO", "BLANK"].includes(cardKeyword(c)));
  assert.deepEqual(cards.slice(5, 5 + expected.length), expected);
  assert.equal(cards[5 + expected.length].trimEnd(), "END");
  for (const rest of cards.slice(6 + expected.length)) assert.equal(rest, " ".repeat(80));
});

Deno.test("uint16 header: BITPIX 16 with BZERO 32768 and BSCALE 1, BLANK dropped", () => {
  const stored = [formatCard("BSCALE", 2.5), formatCard("BLANK", 7), formatCard("OBJECT", "mask")].join("");
  const cards = primaryImageCards(stored, 5, 4, "uint16");
  assert.equal(cards[1].slice(0, 30), "BITPIX  =                   16");
  assert.equal(cards[5].slice(0, 30), "BZERO   =                32768");
  assert.equal(cards[6].slice(0, 30), "BSCALE  =                    1");
  assert.deepEqual(cards.map(cardKeyword), [
    "SIMPLE",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "BZERO",
    "BSCALE",
    "OBJECT",
  ]);
  // Stored cards that already say BZERO = 32768 / BSCALE = 1 stay verbatim, in place.
  const storedMask = [
    formatCard("OBJECT", "m"),
    formatCard("BSCALE", 1, "keep"),
    formatCard("BZERO", 32768, "me"),
  ];
  const kept = primaryImageCards(storedMask.join(""), 5, 4, "uint16");
  assert.deepEqual(kept.slice(5), storedMask);
});

Deno.test("a store without a header string still gives a complete header", () => {
  const cards = cardsOf(fitsHeaderBlock(undefined, 3, 2, "float32"));
  assert.deepEqual(cards.slice(0, 6).map(cardKeyword), [
    "SIMPLE",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "END",
  ]);
});

Deno.test("encodes rows big endian: float32 bit patterns kept, uint16 minus 32768", () => {
  const f = new Float32Array([1.5, -0, NaN, Infinity, -3.25e-30]);
  const nanBits = new Uint32Array(f.buffer);
  nanBits[2] = 0x7fc00123; // a NaN payload survives
  const bytes = encodeRows(f, "float32");
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < f.length; i++) assert.equal(view.getUint32(4 * i), nanBits[i]);
  const u = new Uint16Array([0, 1, 32767, 32768, 65535]);
  const ub = encodeRows(u, "uint16");
  const uv = new DataView(ub.buffer);
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => uv.getInt16(2 * i)), [-32768, -32767, -1, 0, 32767]);
  // Into a caller's buffer at an odd offset (falls back to byte writes).
  const big = new Uint8Array(21);
  const sub = encodeRows(f, "float32", big.subarray(1));
  assert.deepEqual(Array.from(sub), Array.from(bytes));
  assert.throws(() => encodeRows(u as unknown as Float32Array, "float32"), FitsWriteError);
});

Deno.test("writeFits: header block, data, zero padding to 2880", () => {
  const pixels = new Uint16Array(7 * 5).map((_, i) => i * 1000);
  const file = writeFits(undefined, pixels, 7, 5, "uint16");
  assert.equal(file.length, 5760);
  const view = new DataView(file.buffer, 2880);
  for (let i = 0; i < pixels.length; i++) assert.equal(view.getInt16(2 * i) + 32768, pixels[i]);
  assert.ok(file.subarray(2880 + 70).every((b) => b === 0));
  assert.throws(() => writeFits(undefined, pixels, 7, 4, "uint16"), FitsWriteError);
  assert.throws(() => writeFits(undefined, pixels, 0, 5, "uint16"), FitsWriteError);
});

Deno.test("FitsStreamWriter writes the same bytes as writeFits, band by band, with checksum", async () => {
  const width = 301, height = 97;
  const pixels = new Float32Array(width * height).map((_, i) => (i % 13) - Math.sqrt(i));
  const stored = [formatCard("OBJECT", "stream"), formatCard("HISTORY", "band test")].join("");
  const whole = writeFits(stored, pixels, width, height, "float32", {
    checksum: true,
    extraCards: [formatCard("HISTORY", "x")],
  });
  const path = await Deno.makeTempFile({ suffix: ".fits" });
  try {
    const w = await FitsStreamWriter.create(path, stored, width, height, "float32", {
      checksum: true,
      extraCards: [formatCard("HISTORY", "x")],
    });
    for (let y = 0; y < height; y += 10) {
      await w.writeRows(pixels.subarray(y * width, Math.min(height, y + 10) * width));
    }
    await w.close();
    assert.deepEqual(await Deno.readFile(path), whole);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("FitsStreamWriter refuses partial rows and too few rows", async () => {
  const path = await Deno.makeTempFile({ suffix: ".fits" });
  try {
    const w = await FitsStreamWriter.create(path, undefined, 4, 3, "uint16");
    await assert.rejects(() => w.writeRows(new Uint16Array(3)), FitsWriteError);
    await w.writeRows(new Uint16Array(4));
    await assert.rejects(() => w.close(), FitsWriteError);
  } finally {
    await Deno.remove(path);
  }
});
