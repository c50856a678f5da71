/** Header parsing: exact card text and typed values for the FITS edge cases. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { FitsError } from "../../lib/fits/errors.ts";
import { FitsHeader, parseCard } from "../../lib/fits/header.ts";
import { scanHdus } from "../../lib/fits/hdu.ts";
import { FIXTURE_DIR } from "./_fixtures.ts";

const pad = (s: string) => s.padEnd(80);

Deno.test("parses strings with '' escapes, keeps leading spaces and drops trailing ones", () => {
  assert.equal(parseCard(pad("STRQ    = 'it''s  quoted''' / escaped quotes")).value, "it's  quoted'");
  const lead = parseCard(pad("LEAD    = '   leading   ' / significant"));
  assert.equal(lead.value, "   leading");
  assert.equal(lead.comment, "significant");
  assert.equal(parseCard(pad("EMPTY   = ''")).value, "");
  assert.equal(parseCard(pad("SLASH   = 'a/b' / c")).value, "a/b");
});

Deno.test("parses logicals, integers beyond 2^53, D exponents, complex values and missing values", () => {
  assert.equal(parseCard(pad("SIMPLE  =                    T")).value, true);
  assert.equal(parseCard(pad("LOGIC   =                    F / x")).value, false);
  assert.equal(parseCard(pad("BIGINT  =  12345678901234567890 / big")).value, 12345678901234567890n);
  assert.equal(parseCard(pad("NEG     =                  -42")).value, -42);
  assert.equal(parseCard(pad("DEXP    =             1.5D+03")).value, 1500);
  assert.equal(parseCard(pad("EXP     =           2.1156E-04")).value, 2.1156e-4);
  assert.deepEqual(parseCard(pad("CPLX    = (1.5, -2.0) / complex")).value, { re: 1.5, im: -2 });
  assert.equal(parseCard(pad("UNDEF   =                      / undefined")).value, null);
  const nov = parseCard(pad("NOVALUE  this card has no value indicator"));
  assert.equal(nov.keyword, "NOVALUE");
  assert.equal(nov.value, undefined);
});

Deno.test("HIERARCH keywords, CONTINUE strings, duplicates and commentary cards", () => {
  const text = [
    "HIERARCH ESO DET CHIP NAME = 'ccd42' / hierarch card",
    "LONGSTR = 'first part &'",
    "CONTINUE  'second &'",
    "CONTINUE  'end.' / the comment",
    "DUPKEY  =                    1 / first",
    "DUPKEY  =                    2 / second",
    "COMMENT one",
    "HISTORY h1",
    "",
    "COMMENT two",
    "END",
  ].map(pad).join("");
  const h = FitsHeader.fromString(text);
  assert.equal(h.get("ESO DET CHIP NAME"), "ccd42");
  assert.equal(h.get("HIERARCH ESO DET CHIP NAME"), "ccd42");
  assert.equal(h.getString("LONGSTR"), "first part second end.");
  assert.equal(h.get("DUPKEY"), 1);
  assert.equal(h.cards.filter((c) => c.keyword === "DUPKEY").length, 2);
  assert.deepEqual(
    h.cards.filter((c) => ["COMMENT", "HISTORY", ""].includes(c.keyword)).map((c) => c.value),
    ["one", "h1", "", "two"],
  );
  assert.equal(h.toString().slice(0, text.length), text);
  assert.equal(h.toString().length, 2880);
});

Deno.test("keeps every card of a header with thousands of cards, byte for byte", () => {
  const bytes = Deno.readFileSync(path.join(FIXTURE_DIR, "header_edge_plain.fits"));
  const [hdu] = scanHdus(bytes, "header_edge_plain.fits");
  assert.ok(hdu.header.cards.length > 2500);
  const text = new TextDecoder().decode(bytes.subarray(0, hdu.dataStart));
  assert.equal(hdu.header.toString(), text);
  assert.equal(hdu.header.get("BIGINT"), 12345678901234567890n);
  assert.equal(hdu.header.getNumber("DEXP"), 1500);
});

Deno.test("a header without END or with non-text bytes is a FitsError naming the file", () => {
  const h = new TextEncoder().encode(pad("SIMPLE  =                    T").repeat(36));
  assert.throws(
    () => FitsHeader.parse(h, 0, "x.fits"),
    (e) => e instanceof FitsError && /x\.fits: truncated file: header at byte 0 has no END/.test(e.message),
  );
  const bad = new Uint8Array(2880).fill(0x20);
  bad[5] = 0;
  assert.throws(
    () => FitsHeader.parse(bad, 0, "y.fits"),
    (e) => e instanceof FitsError && /y\.fits: invalid header/.test(e.message),
  );
});
