/**
 * checkIdentity: SKYCELL and FILTERID/FILTER must match the request, masks must be unscaled integers, and
 * images and weights must not be stored as masks are. Checked on PS1-like headers, on every FITS fixture
 * and on the synthetic archive's files.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { writeSkycellFiles } from "../../lib/archive/synth.ts";
import { formatCard, headerText } from "../../lib/fits/card.ts";
import { scanHdus } from "../../lib/fits/hdu.ts";
import { FitsHeader } from "../../lib/fits/header.ts";
import { identityCards } from "../../lib/fits/identity_cards.ts";
import { openImage } from "../../lib/fits/image.ts";
import { peekImage } from "../../lib/fits/peek.ts";
import { checkIdentity, type ExpectedIdentity } from "../../lib/ps1/identity.ts";
import type { FileKind } from "../../lib/ps1/urls.ts";
import { FIXTURE_DIR, readManifest } from "../fits/_fixtures.ts";

const SKYCELL = "skycell.2556.080";
type CardList = [string, string | number | boolean][];

function header(cards: CardList): FitsHeader {
  return FitsHeader.fromString(headerText(cards.map(([k, v]) => formatCard(k, v))));
}

const want = (kind: FileKind, band = "r", skycell = SKYCELL): ExpectedIdentity => ({ skycell, band, kind });

/** The compression table header of a PS1 stack file, as fpack leaves it (image cards carried over). */
function stackTable(kind: FileKind, extra: CardList = []): FitsHeader {
  const table: CardList = [
    ["XTENSION", "BINTABLE"],
    ["BITPIX", 8],
    ["NAXIS", 2],
    ["NAXIS1", 8],
    ["NAXIS2", 6243],
    ["PCOUNT", 51234567],
    ["GCOUNT", 1],
    ["TFIELDS", 1],
    ["TTYPE1", "COMPRESSED_DATA"],
    ["TFORM1", "1PB(8990)"],
    ["ZIMAGE", true],
    ["ZTILE1", 6240],
    ["ZTILE2", 1],
    ["ZNAXIS", 2],
    ["ZNAXIS1", 6240],
    ["ZNAXIS2", 6243],
  ];
  const storage: Record<FileKind, CardList> = {
    image: [
      ["ZBITPIX", 16],
      ["ZCMPTYPE", "RICE_1"],
      ["BSCALE", 2.1156e-4],
      ["BZERO", 7.17],
      ["BLANK", -32768],
      ["BSOFTEN", 221.9],
      ["BOFFSET", 7.17],
    ],
    weight: [["ZBITPIX", 16], ["ZCMPTYPE", "RICE_1"], ["BSCALE", 0.0625], ["BZERO", 2048], ["BLANK", -32768]],
    mask: [["ZBITPIX", 16], ["ZCMPTYPE", "GZIP_1"], ["BSCALE", 1], ["BZERO", 32768]],
  };
  return header([
    ...table,
    ...storage[kind],
    ["INHERIT", true],
    ["SKYCELL", SKYCELL],
    ["FILTERID", "r.00000"],
    ["HIERARCH FPA.FILTER", "r.00000"],
    ["EXPTIME", 1234.5],
    ...extra,
  ]);
}

Deno.test("PS1 stack headers are accepted as their own kind", () => {
  for (const kind of ["image", "mask", "weight"] as const) {
    assert.equal(checkIdentity(stackTable(kind), want(kind)), null, kind);
  }
  // Images and weights cannot be told apart by storage: either is accepted as the other.
  assert.equal(checkIdentity(stackTable("image"), want("weight")), null);
  assert.equal(checkIdentity(stackTable("weight"), want("image")), null);
});

Deno.test("a mask given as an image or weight is refused, and an image or weight given as a mask", () => {
  assert.equal(
    checkIdentity(stackTable("mask"), want("image")),
    "an image must not be stored as a mask is (unscaled unsigned integers): BITPIX 16, BSCALE 1, BZERO 32768",
  );
  assert.match(
    checkIdentity(stackTable("mask"), want("weight"))!,
    /^a weight must not be stored as a mask is/,
  );
  assert.equal(
    checkIdentity(stackTable("image"), want("mask")),
    "a mask must have integer pixels, but the file has scaled pixels (BSCALE is not 1): BITPIX 16, " +
      "BSCALE 0.00021156, BZERO 7.17",
  );
  assert.match(checkIdentity(stackTable("weight"), want("mask"))!, /^a mask must have integer pixels/);
});

Deno.test("quantized float weights (ZQUANTIZ, or only a ZSCALE column) are not masks", () => {
  const quantized = header([
    ["XTENSION", "BINTABLE"],
    ["BITPIX", 8],
    ["TFIELDS", 3],
    ["TTYPE1", "COMPRESSED_DATA"],
    ["TTYPE2", "ZSCALE"],
    ["TTYPE3", "ZZERO"],
    ["ZIMAGE", true],
    ["ZBITPIX", -32],
    ["ZCMPTYPE", "RICE_1"],
    ["ZQUANTIZ", "SUBTRACTIVE_DITHER_1"],
    ["SKYCELL", SKYCELL],
    ["FILTERID", "r.00000"],
  ]);
  assert.equal(checkIdentity(quantized, want("weight")), null);
  assert.match(checkIdentity(quantized, want("mask"))!, /floating-point pixels: BITPIX -32, quantized/);
  // An integer image claiming quantization (ZSCALE column, no ZQUANTIZ) is not a mask either.
  const zscaleOnly = header([
    ["XTENSION", "BINTABLE"],
    ["TFIELDS", 2],
    ["TTYPE1", "COMPRESSED_DATA"],
    ["TTYPE2", "ZSCALE"],
    ["ZIMAGE", true],
    ["ZBITPIX", 32],
  ]);
  assert.equal(
    checkIdentity(zscaleOnly, want("mask")),
    "a mask must have integer pixels, but the file has quantized floating-point pixels: BITPIX 32, " +
      "quantized (ZSCALE)",
  );
  // ZQUANTIZ = 'NONE' is lossless: a GZIP_2 float image, still not a mask.
  const lossless = header([["XTENSION", "BINTABLE"], ["ZIMAGE", true], ["ZBITPIX", -32], [
    "ZQUANTIZ",
    "NONE",
  ]]);
  assert.equal(identityCards(lossless).quantized, null);
  assert.match(checkIdentity(lossless, want("mask"))!, /floating-point pixels: BITPIX -32$/);
});

Deno.test("SKYCELL must be the requested skycell", () => {
  assert.equal(
    checkIdentity(stackTable("image"), want("image", "r", "skycell.2556.081")),
    "SKYCELL is 'skycell.2556.080', expected skycell.2556.081",
  );
  const upper = header([["SKYCELL", "SKYCELL.2556.080 "]]);
  assert.equal(checkIdentity(upper, want("image")), null, "trimmed, case-insensitive");
});

Deno.test("the first letter of FILTERID, else FILTER, must be the requested band", () => {
  assert.equal(
    checkIdentity(stackTable("mask"), want("mask", "g")),
    "FILTERID is 'r.00000' (band r), expected band g",
  );
  assert.equal(checkIdentity(stackTable("mask"), want("mask", "R")), null, "case-insensitive");
  const filter = header([["BITPIX", -32], ["FILTER", "i"]]);
  assert.equal(checkIdentity(filter, want("image", "i")), null);
  assert.equal(checkIdentity(filter, want("image", "z")), "FILTER is 'i' (band i), expected band z");
  const both = header([["FILTERID", "y.00000"], ["FILTER", "z"]]);
  assert.match(checkIdentity(both, want("image", "z"))!, /^FILTERID is 'y\.00000'/, "FILTERID wins");
});

Deno.test("headers without the identity keywords are accepted", () => {
  assert.equal(checkIdentity(header([]), want("mask")), null);
  assert.equal(checkIdentity(header([["SKYCELL", ""], ["FILTERID", "  "]]), want("image")), null);
  const plainFloat = header([["SIMPLE", true], ["BITPIX", -32], ["NAXIS", 2], ["NAXIS1", 10], [
    "NAXIS2",
    10,
  ]]);
  assert.equal(checkIdentity(plainFloat, want("image")), null);
  const signed = header([["SIMPLE", true], ["BITPIX", 16], ["NAXIS", 2], ["NAXIS1", 10], ["NAXIS2", 10]]);
  assert.equal(checkIdentity(signed, want("image")), null, "unscaled signed integers: a plain image");
  assert.equal(checkIdentity(signed, want("mask")), null, "and integer flags too");
});

Deno.test("identity keywords in the primary header count (INHERIT = T), the extension's first", () => {
  const primary = header([["SIMPLE", true], ["SKYCELL", "skycell.2556.081"], ["FILTERID", "g.00000"]]);
  const ext = header([["XTENSION", "BINTABLE"], ["ZIMAGE", true], ["ZBITPIX", 16], ["BZERO", 32768]]);
  const cards = identityCards(ext, primary);
  assert.equal(
    checkIdentity(cards, want("mask")),
    "SKYCELL is 'skycell.2556.081', expected skycell.2556.080",
  );
  assert.equal(checkIdentity(cards, want("mask", "g", "skycell.2556.081")), null);
  const own = identityCards(stackTable("mask"), primary);
  assert.equal(own.skycell, SKYCELL);
  assert.equal(own.filter, "r.00000");
});

Deno.test("every FITS fixture passes as its kind (float32 as image and weight, uint16 as mask)", () => {
  const fixtures = readManifest();
  assert.ok(fixtures.length > 20);
  for (const c of fixtures) {
    const bytes = Deno.readFileSync(path.join(FIXTURE_DIR, c.file));
    const hdus = scanHdus(bytes, c.file);
    const cards = identityCards(hdus[hdus.length > 1 ? 1 : 0].header, hdus[0].header);
    const rebuilt = openImage(bytes, { source: c.file }).imageHeader;
    const kinds: FileKind[] = c.type === "uint16" ? ["mask"] : ["image", "weight"];
    for (const kind of kinds) {
      for (const h of [cards, rebuilt]) {
        assert.equal(checkIdentity(h, { skycell: SKYCELL, band: "r", kind }), null, `${c.file} as ${kind}`);
      }
    }
    // A mask fixture is refused as an image; a scaled or float one as a mask.
    const other: FileKind = c.type === "uint16" ? "image" : "mask";
    const verdict = checkIdentity(cards, { skycell: SKYCELL, band: "r", kind: other });
    const scaled = cards.bitpix < 0 || (cards.bscale !== null && cards.bscale !== 1);
    if (c.type === "uint16" || scaled) assert.notEqual(verdict, null, `${c.file} as ${other}`);
  }
});

Deno.test("the synthetic archive's files pass as themselves and are refused as each other's kind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_identity_" });
  try {
    const { paths } = await writeSkycellFiles(dir, SKYCELL, "i", { size: 64 });
    for (const kind of ["image", "mask", "weight"] as const) {
      const info = await peekImage(paths[kind]);
      assert.equal(info.identity.skycell, SKYCELL);
      assert.equal(info.identity.filter, "i.00000");
      assert.equal(checkIdentity(info.identity, want(kind, "i")), null, kind);
      assert.match(checkIdentity(info.identity, want(kind, "r"))!, /FILTERID is 'i\.00000'/);
      assert.match(checkIdentity(info.identity, want(kind, "i", "skycell.2556.081"))!, /^SKYCELL is/);
      const swapped: FileKind = kind === "mask" ? "image" : "mask";
      assert.notEqual(checkIdentity(info.identity, want(swapped, "i")), null, `${kind} as ${swapped}`);
      // The image header an ImageReader rebuilds gives the same verdicts.
      const reader = openImage(await Deno.readFile(paths[kind]));
      assert.equal(checkIdentity(reader.imageHeader, want(kind, "i")), null);
      assert.notEqual(checkIdentity(reader.imageHeader, want(swapped, "i")), null);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
