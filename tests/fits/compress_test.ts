import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { CompressedFitsWriter, CompressError, compressImage } from "../../lib/fits/compress.ts";
import { formatCard } from "../../lib/fits/card.ts";
import { checksumOf } from "../../lib/fits/checksum.ts";
import { RiceEncoder } from "../../lib/fits/encode/rice.ts";

// Reference files made by tests/fixtures/fits_write/generate.py (astropy sources, cfitsio fpack outputs).
const FIXTURES = new URL("../fixtures/fits_write/", import.meta.url);

/** A minimal independent HDU walker for the tests: cards as text, and where each data unit lies. */
interface TestHdu {
  cards: Map<string, string>;
  cardList: string[];
  headerStart: number;
  dataStart: number;
  dataSize: number;
}

function hdus(bytes: Uint8Array): TestHdu[] {
  const out: TestHdu[] = [];
  let at = 0;
  while (at < bytes.length) {
    const headerStart = at;
    const cards = new Map<string, string>();
    const cardList: string[] = [];
    for (;;) {
      const card = new TextDecoder().decode(bytes.subarray(at, at + 80));
      at += 80;
      if (card.startsWith("END ")) break;
      cardList.push(card);
      const key = card.slice(0, 8).trim();
      if (card.slice(8, 10) === "= " && !cards.has(key)) {
        const raw = card.slice(10);
        const value = raw.trimStart().startsWith("'") ? /'(.*?)\s*'/.exec(raw)![1] : raw.split("/")[0].trim();
        cards.set(key, value);
      }
    }
    at = Math.ceil(at / 2880) * 2880;
    const naxis = Number(cards.get("NAXIS"));
    let size = naxis === 0 ? 0 : Math.abs(Number(cards.get("BITPIX"))) / 8;
    for (let i = 1; i <= naxis; i++) size *= Number(cards.get(`NAXIS${i}`));
    size = (size + Number(cards.get("PCOUNT") ?? 0)) * Number(cards.get("GCOUNT") ?? 1);
    out.push({ cards, cardList, headerStart, dataStart: at, dataSize: size });
    at += Math.ceil(size / 2880) * 2880;
  }
  return out;
}

async function fixture(name: string): Promise<Uint8Array> {
  return await Deno.readFile(new URL(name, FIXTURES));
}

/** Pixels of a plain astropy-written fixture, as the typed array the writer takes. */
async function plainPixels(name: string) {
  const bytes = await fixture(name);
  const [hdu] = hdus(bytes);
  const width = Number(hdu.cards.get("NAXIS1"));
  const height = Number(hdu.cards.get("NAXIS2"));
  const bitpix = Number(hdu.cards.get("BITPIX"));
  const view = new DataView(bytes.buffer, hdu.dataStart);
  const n = width * height;
  const bzero = Number(hdu.cards.get("BZERO") ?? 0);
  let data: Int16Array | Uint16Array | Int32Array | Float32Array | Uint8Array;
  if (bitpix === 16 && bzero === 32768) data = new Uint16Array(n).map((_, i) => view.getInt16(2 * i) + 32768);
  else if (bitpix === 16) data = new Int16Array(n).map((_, i) => view.getInt16(2 * i));
  else if (bitpix === 32) data = new Int32Array(n).map((_, i) => view.getInt32(4 * i));
  else if (bitpix === -32) data = new Float32Array(n).map((_, i) => view.getFloat32(4 * i));
  else data = bytes.slice(hdu.dataStart, hdu.dataStart + n);
  return { width, height, data };
}

interface TableRow {
  cells: (Uint8Array | number)[];
}

/** Rows of a compressed-image table: P descriptors resolved into heap bytes, D columns as numbers. */
function tableRows(bytes: Uint8Array, hdu: TestHdu): TableRow[] {
  const rowLength = Number(hdu.cards.get("NAXIS1"));
  const nRows = Number(hdu.cards.get("NAXIS2"));
  const nFields = Number(hdu.cards.get("TFIELDS"));
  const heap = hdu.dataStart + Number(hdu.cards.get("THEAP") ?? rowLength * nRows);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const rows: TableRow[] = [];
  for (let r = 0; r < nRows; r++) {
    let at = hdu.dataStart + r * rowLength;
    const cells: (Uint8Array | number)[] = [];
    for (let f = 1; f <= nFields; f++) {
      const form = hdu.cards.get(`TFORM${f}`)!;
      if (form.startsWith("1P")) {
        const len = view.getInt32(at), off = view.getInt32(at + 4);
        cells.push(bytes.subarray(heap + off, heap + off + len));
        at += 8;
      } else {
        cells.push(view.getFloat64(at));
        at += 8;
      }
    }
    rows.push({ cells });
  }
  return rows;
}

function columnIndex(hdu: TestHdu, name: string): number {
  for (let f = 1; f <= Number(hdu.cards.get("TFIELDS")); f++) {
    if (hdu.cards.get(`TTYPE${f}`) === name) return f - 1;
  }
  return -1;
}

function floatsOf(bigEndian: Uint8Array): number[] {
  const view = new DataView(bigEndian.buffer, bigEndian.byteOffset, bigEndian.byteLength);
  return Array.from({ length: bigEndian.length / 4 }, (_, i) => view.getFloat32(4 * i));
}

const STRUCTURE_KEYS = ["ZIMAGE", "ZCMPTYPE", "ZBITPIX", "ZNAXIS", "ZNAXIS1", "ZNAXIS2", "ZTILE1", "ZTILE2"];

Deno.test("RICE_1 int16 tiles are byte-identical to fpack's", async () => {
  const { width, height, data } = await plainPixels("int16.fits");
  const ours = compressImage([], width, height, data as Int16Array, { compression: "RICE_1", bitpix: 16 });
  const ref = await fixture("int16.rice.fz");
  const [, ourTable] = hdus(ours);
  const [, refTable] = hdus(ref);
  for (
    const key of [
      ...STRUCTURE_KEYS,
      "ZNAME1",
      "ZVAL1",
      "ZNAME2",
      "ZVAL2",
      "TFORM1",
      "PCOUNT",
      "NAXIS1",
      "NAXIS2",
    ]
  ) {
    assert.equal(ourTable.cards.get(key), refTable.cards.get(key), key);
  }
  assert.deepEqual(tableRows(ours, ourTable), tableRows(ref, refTable));
});

Deno.test("RICE_1 int32 tiles are byte-identical to fpack's", async () => {
  const { width, height, data } = await plainPixels("int32.fits");
  const ours = compressImage([], width, height, data as Int32Array, { compression: "RICE_1", bitpix: 32 });
  const ref = await fixture("int32.rice.fz");
  const [, ourTable] = hdus(ours);
  const [, refTable] = hdus(ref);
  assert.equal(ourTable.cards.get("ZVAL2"), "4");
  assert.deepEqual(tableRows(ours, ourTable), tableRows(ref, refTable));
});

Deno.test("RICE_1 8-bit tiles (BYTEPIX 1) are byte-identical to fpack's", async () => {
  const { width, height, data } = await plainPixels("uint8.fits");
  const ref = await fixture("uint8.rice.fz");
  const [, refTable] = hdus(ref);
  const rows = tableRows(ref, refTable);
  const enc = new RiceEncoder();
  for (let y = 0; y < height; y++) {
    const tile = enc.encode((data as Uint8Array).subarray(y * width, (y + 1) * width), 1);
    assert.deepEqual(tile, rows[y].cells[0], `row ${y}`);
  }
});

Deno.test("GZIP_1 uint16 mask tiles hold the same big-endian int16 bytes as fpack's", async () => {
  const { width, height, data } = await plainPixels("mask.fits");
  assert.ok(data instanceof Uint16Array);
  const ours = compressImage([], width, height, data, { compression: "GZIP_1", bitpix: 16 });
  const ref = await fixture("mask.gzip.fz");
  const [, ourTable] = hdus(ours);
  const [, refTable] = hdus(ref);
  for (const key of STRUCTURE_KEYS) assert.equal(ourTable.cards.get(key), refTable.cards.get(key), key);
  assert.equal(ourTable.cards.get("BZERO"), "32768");
  assert.equal(ourTable.cards.get("BSCALE"), "1");
  const ourRows = tableRows(ours, ourTable);
  const refRows = tableRows(ref, refTable);
  for (let y = 0; y < height; y++) {
    assert.deepEqual(
      new Uint8Array(gunzipSync(ourRows[y].cells[0] as Uint8Array)),
      new Uint8Array(gunzipSync(refRows[y].cells[0] as Uint8Array)),
      `row ${y}`,
    );
  }
});

Deno.test("quantized float32 RICE_1 tiles equal fpack's: ZSCALE, ZZERO, ZBLANK, lossless fallback", async () => {
  const { width, height, data } = await plainPixels("float32.fits");
  const ref = await fixture("float32.rice.fz");
  const [, refTable] = hdus(ref);
  const ditherSeed = Number(refTable.cards.get("ZDITHER0"));
  const ours = compressImage([], width, height, data as Float32Array, {
    compression: "RICE_1",
    bitpix: -32,
    ditherSeed,
  });
  const [, ourTable] = hdus(ours);
  for (const key of [...STRUCTURE_KEYS, "ZQUANTIZ", "ZDITHER0", "ZBLANK", "ZVAL2"]) {
    assert.equal(ourTable.cards.get(key), refTable.cards.get(key), key);
  }
  const ourRows = tableRows(ours, ourTable);
  const refRows = tableRows(ref, refTable);
  const cols = ["COMPRESSED_DATA", "ZSCALE", "ZZERO"];
  const ourCols = cols.map((c) => columnIndex(ourTable, c));
  const refCols = cols.map((c) => columnIndex(refTable, c));
  const ourGzip = columnIndex(ourTable, "GZIP_COMPRESSED_DATA");
  const refGzip = columnIndex(refTable, "GZIP_COMPRESSED_DATA");
  assert.ok(ourGzip >= 0 && refGzip >= 0, "the constant row needs the lossless column");
  for (let y = 0; y < height; y++) {
    for (let c = 0; c < cols.length; c++) {
      assert.deepEqual(ourRows[y].cells[ourCols[c]], refRows[y].cells[refCols[c]], `row ${y} ${cols[c]}`);
    }
    const ourFallback = ourRows[y].cells[ourGzip] as Uint8Array;
    const refFallback = refRows[y].cells[refGzip] as Uint8Array;
    assert.equal(ourFallback.length > 0, refFallback.length > 0, `row ${y} fallback`);
    if (ourFallback.length) {
      // Same floats; NaN bit patterns may differ (cfitsio writes its own NaN, we keep the source's).
      const a = floatsOf(gunzipSync(ourFallback));
      const b = floatsOf(gunzipSync(refFallback));
      assert.equal(a.length, b.length);
      for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `row ${y} pixel ${i}`);
    }
  }
});

Deno.test("layout: empty primary HDU, table header order, PCOUNT = heap, descriptors contiguous", () => {
  const width = 40, height = 9;
  const data = new Int16Array(width * height).map((_, i) => (i * 37) % 500 - 250);
  const cards = [
    formatCard("BSCALE", 0.5),
    formatCard("BZERO", 100.25),
    formatCard("BLANK", -32768),
    formatCard("CRPIX1", 3.5),
  ];
  const file = compressImage(cards, width, height, data, { compression: "RICE_1", bitpix: 16, tileRows: 4 });
  assert.equal(file.length % 2880, 0);
  const [primary, table] = hdus(file);
  assert.deepEqual(primary.cardList.map((c) => c.slice(0, 30)), [
    "SIMPLE  =                    T",
    "BITPIX  =                    8",
    "NAXIS   =                    0",
    "EXTEND  =                    T",
  ]);
  assert.deepEqual(table.cardList.slice(0, 8).map((c) => c.slice(0, 8).trim()), [
    "XTENSION",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "PCOUNT",
    "GCOUNT",
    "TFIELDS",
  ]);
  assert.equal(table.cards.get("XTENSION"), "BINTABLE");
  assert.equal(table.cards.get("NAXIS2"), "3", "three tiles of 4, 4 and 1 rows");
  assert.equal(table.cards.get("ZTILE2"), "4");
  assert.equal(table.cards.get("ZTENSION"), "IMAGE");
  assert.equal(table.cards.get("EXTNAME"), "COMPRESSED_IMAGE");
  // Image cards are carried verbatim after the compression keywords.
  assert.deepEqual(table.cardList.slice(-4), cards);
  const rows = tableRows(file, table);
  const total = rows.reduce((s, r) => s + (r.cells[0] as Uint8Array).length, 0);
  assert.equal(Number(table.cards.get("PCOUNT")), total);
  assert.equal(table.dataSize, 8 * 3 + total);
  const max = Math.max(...rows.map((r) => (r.cells[0] as Uint8Array).length));
  assert.equal(table.cards.get("TFORM1"), `1PB(${max})`);
  assert.ok(file.subarray(table.dataStart + table.dataSize).every((b) => b === 0), "zero padding");
});

Deno.test("checksum cards verify for both HDUs of a compressed file", () => {
  const data = new Float32Array(64 * 10).map((_, i) => Math.cos(i) * 10);
  const file = compressImage([], 64, 10, data, { compression: "GZIP_1", bitpix: -32, checksum: true });
  for (const hdu of hdus(file)) {
    const end = hdu.dataStart + Math.ceil(hdu.dataSize / 2880) * 2880;
    assert.equal(checksumOf(file.subarray(hdu.headerStart, end)), 0xffffffff);
  }
  const [, table] = hdus(file);
  assert.equal(table.cards.get("ZQUANTIZ"), "NONE");
});

Deno.test("rejects arrays that do not match bitpix, lossless RICE floats and bad tiles", () => {
  const f = new Float32Array(20);
  assert.throws(() => compressImage([], 5, 4, f, { compression: "RICE_1", bitpix: 16 }), CompressError);
  assert.throws(
    () => compressImage([], 5, 4, f, { compression: "RICE_1", bitpix: -32, quantizeLevel: 0 }),
    CompressError,
  );
  assert.throws(
    () => compressImage([], 5, 4, new Int16Array(20), { compression: "RICE_1", bitpix: 16, tileRows: 0 }),
    CompressError,
  );
  assert.throws(
    () => compressImage([], 5, 5, new Int16Array(20), { compression: "GZIP_1", bitpix: 16 }),
    CompressError,
  );
});

async function streamed(
  width: number,
  height: number,
  pixels: Int16Array | Uint16Array | Int32Array | Float32Array | Uint8Array,
  opts: Parameters<typeof compressImage>[4],
  bandRows: number,
  cards: string[] = [],
): Promise<Uint8Array> {
  const data = pixels as Int16Array | Uint16Array | Int32Array | Float32Array;
  const path = await Deno.makeTempFile({ suffix: ".fits" });
  try {
    const w = await CompressedFitsWriter.create(path, cards, width, height, {
      ...opts,
      unsigned: data instanceof Uint16Array,
    });
    for (let y = 0; y < height; y += bandRows) {
      await w.writeRows(data.subarray(y * width, Math.min(height, y + bandRows) * width));
    }
    await w.close();
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("CompressedFitsWriter: integer output identical to compressImage for any band and tile size", async () => {
  const { width, height, data } = await plainPixels("int16.fits");
  const cards = [formatCard("BSCALE", 0.5), formatCard("BZERO", 3.0), formatCard("BLANK", -32768)];
  for (const [tileRows, band] of [[1, 5], [3, 5], [4, 24], [7, 2]]) {
    const opts = { compression: "RICE_1", bitpix: 16, tileRows, checksum: true } as const;
    const whole = compressImage(cards, width, height, data as Int16Array, opts);
    assert.deepEqual(await streamed(width, height, data, opts, band, cards), whole, `tileRows ${tileRows}`);
  }
  const mask = await plainPixels("mask.fits");
  const opts = { compression: "GZIP_1", bitpix: 16 } as const;
  assert.deepEqual(
    await streamed(mask.width, mask.height, mask.data, opts, 10),
    compressImage([], mask.width, mask.height, mask.data as Uint16Array, opts),
  );
});

Deno.test("CompressedFitsWriter: quantized floats equal fpack's tiles, with a fixed table layout", async () => {
  const { width, height, data } = await plainPixels("float32.fits");
  const ref = await fixture("float32.rice.fz");
  const [, refTable] = hdus(ref);
  const ditherSeed = Number(refTable.cards.get("ZDITHER0"));
  const file = await streamed(width, height, data, {
    compression: "RICE_1",
    bitpix: -32,
    ditherSeed,
    checksum: true,
  }, 5);
  const all = hdus(file);
  const table = all[1];
  assert.equal(table.cards.get("ZBLANK"), "-2147483647");
  assert.equal(columnIndex(table, "GZIP_COMPRESSED_DATA"), 3);
  const ourRows = tableRows(file, table);
  const refRows = tableRows(ref, refTable);
  for (let y = 0; y < height; y++) {
    for (const col of ["COMPRESSED_DATA", "ZSCALE", "ZZERO"]) {
      assert.deepEqual(
        ourRows[y].cells[columnIndex(table, col)],
        refRows[y].cells[columnIndex(refTable, col)],
        `row ${y} ${col}`,
      );
    }
  }
  for (const hdu of all) {
    const end = hdu.dataStart + Math.ceil(hdu.dataSize / 2880) * 2880;
    assert.equal(checksumOf(file.subarray(hdu.headerStart, end)), 0xffffffff);
  }
  assert.equal(file.length, all[1].dataStart + Math.ceil(all[1].dataSize / 2880) * 2880);
});

Deno.test("CompressedFitsWriter refuses partial rows, extra rows and an early close", async () => {
  const path = await Deno.makeTempFile({ suffix: ".fits" });
  try {
    const w = await CompressedFitsWriter.create(path, [], 4, 3, { compression: "GZIP_1", bitpix: 32 });
    await assert.rejects(() => w.writeRows(new Int32Array(3)), CompressError);
    await assert.rejects(() => w.writeRows(new Int32Array(16)), CompressError);
    await w.writeRows(new Int32Array(8));
    await assert.rejects(() => w.close(), CompressError);
  } finally {
    await Deno.remove(path);
  }
});
