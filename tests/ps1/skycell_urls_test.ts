import { assertEquals, assertThrows } from "./_assert.ts";
import * as path from "node:path";
import { parseSkycell, skycellGridPosition, skycellName, SkycellNameError } from "../../lib/ps1/skycell.ts";
import {
  ARCHIVE_URL_ENV,
  archiveBaseUrl,
  archiveUrl,
  ArchiveUrlError,
  BandError,
  DEFAULT_ARCHIVE_URL,
  fileName,
  localPath,
} from "../../lib/ps1/urls.ts";

Deno.test("parseSkycell splits a valid name into projection cell and cell", () => {
  assertEquals(parseSkycell("skycell.2556.080"), {
    name: "skycell.2556.080",
    projection: "2556",
    cell: "080",
  });
  assertEquals(skycellGridPosition("skycell.0001.093"), { row: 9, column: 3 });
  assertEquals(skycellName(635, 8, 1), "skycell.0635.081");
});

Deno.test("parseSkycell rejects names with path separators, short parts or extra text, naming the value", () => {
  for (
    const bad of [
      "skycell.2556.80",
      "skycell.2556.080/..",
      "../skycell.2556.080",
      "skycell.2556.080 ",
      "skycell.25a6.080",
      "",
    ]
  ) {
    const err = assertThrows(() => parseSkycell(bad)) as SkycellNameError;
    assertEquals(err instanceof SkycellNameError, true);
    assertEquals(err.value, bad);
    assertEquals(err.message.includes(JSON.stringify(bad)), true);
  }
});

Deno.test("file names, archive URLs and mirror paths follow the archive layout", () => {
  assertEquals(fileName("skycell.2556.080", "r", "image"), "rings.v3.skycell.2556.080.stk.r.unconv.fits");
  assertEquals(fileName("skycell.2556.080", "i", "mask"), "rings.v3.skycell.2556.080.stk.i.unconv.mask.fits");
  assertEquals(fileName("skycell.2556.080", "y", "weight"), "rings.v3.skycell.2556.080.stk.y.unconv.wt.fits");
  assertEquals(
    archiveUrl(DEFAULT_ARCHIVE_URL + "/", "skycell.2556.080", "z", "weight"),
    "http://ps1images.stsci.edu/rings.v3.skycell/2556/080/rings.v3.skycell.2556.080.stk.z.unconv.wt.fits",
  );
  assertEquals(
    localPath("data/ps1_skycells", "skycell.0635.001", "g", "image"),
    path.join("data/ps1_skycells", "0635", "001", "rings.v3.skycell.0635.001.stk.g.unconv.fits"),
  );
  assertThrows(() => fileName("skycell.2556.080", "u", "image"), BandError);
  assertThrows(() => archiveUrl(DEFAULT_ARCHIVE_URL, "skycell.2556.08", "r", "image"), SkycellNameError);
});

Deno.test("archiveBaseUrl: flag, then environment variable, then the default", () => {
  const saved = Deno.env.get(ARCHIVE_URL_ENV);
  try {
    Deno.env.delete(ARCHIVE_URL_ENV);
    assertEquals(archiveBaseUrl(), DEFAULT_ARCHIVE_URL);
    Deno.env.set(ARCHIVE_URL_ENV, "http://127.0.0.1:8123/rings.v3.skycell/");
    assertEquals(archiveBaseUrl(), "http://127.0.0.1:8123/rings.v3.skycell");
    assertEquals(archiveBaseUrl("https://mirror.example/x"), "https://mirror.example/x");
    assertThrows(() => archiveBaseUrl("ftp://host/x"), ArchiveUrlError);
    assertThrows(() => archiveBaseUrl("not a url"), ArchiveUrlError);
  } finally {
    if (saved === undefined) Deno.env.delete(ARCHIVE_URL_ENV);
    else Deno.env.set(ARCHIVE_URL_ENV, saved);
  }
});
