import { assertEquals, assertThrows } from "./_assert.ts";
import { CsvError, formatCsv, parseCsv, parseCsvRecords } from "../../lib/ps1/csv.ts";

Deno.test("quoted fields keep commas, doubled quotes and line breaks", () => {
  const text = 'a,b,c\n1,"x, y","say ""hi"""\n2,"two\nlines",z\n';
  const records = parseCsvRecords(text);
  assertEquals(records.map((r) => r.fields), [["a", "b", "c"], ["1", "x, y", 'say "hi"'], [
    "2",
    "two\nlines",
    "z",
  ]]);
  assertEquals(records.map((r) => r.line), [1, 2, 3]);
});

Deno.test("CRLF line ends, a BOM and an unnamed leading index column", () => {
  const t = parseCsv('\ufeff,NAME,pad\r\n0,skycell.2556.080,None\r\n1,"skycell.2556.081",\r\n');
  assertEquals(t.header, ["", "NAME", "pad"]);
  assertEquals(t.records.map((r) => r.fields), [["0", "skycell.2556.080", "None"], [
    "1",
    "skycell.2556.081",
    "",
  ]]);
});

Deno.test("line numbers count breaks inside quoted fields; blank lines are skipped", () => {
  const t = parseCsv('h1,h2\n"a\r\nb\nc",x\n\n\nlast,"q"\n');
  assertEquals(t.records.map((r) => [r.line, r.fields]), [[2, ["a\r\nb\nc", "x"]], [7, ["last", "q"]]]);
});

Deno.test("no final newline, empty trailing field, empty quoted field, lone CR", () => {
  assertEquals(parseCsvRecords("a,b\r1,").map((r) => r.fields), [["a", "b"], ["1", ""]]);
  assertEquals(parseCsvRecords('""').map((r) => r.fields), [[""]]);
  assertEquals(parseCsvRecords(",,").map((r) => r.fields), [["", "", ""]]);
});

Deno.test("a very long quoted pixel_indices column with commas", () => {
  const long = "[" + Array.from({ length: 20000 }, (_, i) => `(${i}, ${i + 1})`).join(", ") + "]";
  const t = parseCsv(`NAME,pixel_indices,x\nskycell.0001.000,"${long}",7\n`);
  assertEquals(t.records[0].fields[1], long);
  assertEquals(t.records[0].fields[2], "7");
});

Deno.test("an unterminated quoted field is an error naming the source and line", () => {
  const err = assertThrows(() => parseCsv('a,b\n1,"oops\n2,3\n', "list.csv"), CsvError) as CsvError;
  assertEquals(err.message, "list.csv: unterminated quoted field starting on line 2");
});

Deno.test("formatCsv output parses back to the same fields", () => {
  const rows = [["", "NAME", "pixel_indices"], ["0", "skycell.2556.080", '[1, 2] "q"\nnext']];
  assertEquals(parseCsvRecords(formatCsv(rows)).map((r) => r.fields), rows);
});
