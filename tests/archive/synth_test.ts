import { assertEquals } from "../ps1/_assert.ts";
import * as path from "node:path";
import {
  ASINH_A,
  configSkycells,
  demoConfig,
  mappingCsvText,
  MASK_BITS,
  pixelToSky,
  skycellGeometry,
  SkycellSynth,
  skycellWcs,
  writeDemoArchive,
} from "../../lib/archive/synth.ts";
import { readSkycellList } from "../../lib/ps1/mapping.ts";
import { parseCsv } from "../../lib/ps1/csv.ts";
import { localPath } from "../../lib/ps1/urls.ts";
import { startLocalArchive } from "../../lib/archive/server.ts";
import { ArchiveClient } from "../../lib/ps1/archive_client.ts";

const SIZE = 256;

function linear(synth: SkycellSynth, stored: number): number {
  const s = synth.scaling;
  return s.boffset + 2 * s.bsoften * Math.sinh((s.bzero + s.bscale * stored) / ASINH_A);
}

Deno.test("skycells of a projection cell share CRVAL and step CRPIX by size minus overlap", () => {
  const { width, height, overlap } = skycellGeometry(SIZE);
  assertEquals([width, height, overlap], [256, 255, 20]);
  assertEquals(skycellGeometry(6300), { width: 6300, height: 6284, overlap: 480 });
  const a = skycellWcs("skycell.2556.080", SIZE);
  const b = skycellWcs("skycell.2556.081", SIZE);
  const c = skycellWcs("skycell.2556.090", SIZE);
  assertEquals([a.crval1, a.crval2], [b.crval1, b.crval2]);
  assertEquals(a.crpix1 - b.crpix1, width - overlap);
  assertEquals(a.crpix2 - c.crpix2, height - overlap);
  // The same sky position from two neighbours' WCS at the same projection-cell pixel.
  const p = pixelToSky(a, width - overlap + 5, 7);
  const q = pixelToSky(b, 5, 7);
  assertEquals(Math.abs(p.ra - q.ra) < 1e-9 && Math.abs(p.dec - q.dec) < 1e-9, true);
  const other = skycellWcs("skycell.2557.000", SIZE);
  assertEquals(other.crval1 !== a.crval1 || other.crval2 !== a.crval2, true);
});

Deno.test("neighbouring skycells agree on the sky in their overlap", () => {
  const a = new SkycellSynth("skycell.2556.050", "r", { size: SIZE });
  const b = new SkycellSynth("skycell.2556.051", "r", { size: SIZE });
  const { overlap } = skycellGeometry(SIZE);
  const step = SIZE - overlap;
  const ra = a.rows(0, a.height).image;
  const rb = b.rows(0, b.height).image;
  let compared = 0;
  for (let y = 2; y < a.height - 2; y++) {
    for (let x = step + 2; x < SIZE - 2; x++) {
      const fa = linear(a, ra[y * SIZE + x]);
      const fb = linear(b, rb[y * SIZE + x - step]);
      if (Math.abs(fa - fb) > 1e-3 * Math.abs(fa) + 0.3) {
        throw new Error(`overlap differs at ${x},${y}: ${fa} ${fb}`);
      }
      compared++;
    }
  }
  assertEquals(compared, (overlap - 4) * (a.height - 4));
});

Deno.test("rows do not depend on the band partition; blank pixels agree across the three files", () => {
  const s = new SkycellSynth("skycell.2556.090", "i", { size: SIZE });
  const whole = s.rows(0, s.height);
  const parts = [s.rows(0, 17), s.rows(17, 100), s.rows(100, s.height)];
  const joined = new Int16Array(whole.image.length);
  let at = 0;
  for (const p of parts) {
    joined.set(p.image, at);
    at += p.image.length;
  }
  assertEquals(joined, whole.image);
  let blank = 0;
  let flagged = 0;
  for (let i = 0; i < whole.image.length; i++) {
    const isBlank = whole.image[i] === -32768;
    assertEquals(isBlank, whole.weight[i] === -32768);
    assertEquals(isBlank, (whole.mask[i] & MASK_BITS.BLANK) !== 0);
    if (isBlank) blank++;
    else if (whole.mask[i] !== 0) flagged++;
  }
  // 090 sits at a corner of its projection cell: a blank corner besides the 2-pixel frame.
  const frame = 2 * 2 * (SIZE + s.height) - 16;
  assertEquals(blank > frame + 1000, true);
  assertEquals(flagged > 0, true);
  const inner = new SkycellSynth("skycell.2556.055", "i", { size: SIZE });
  const innerBlank = inner.rows(0, inner.height).image.filter((v) => v === -32768).length;
  assertEquals(innerBlank, frame);
});

Deno.test("the mapping CSV writes the projection as an integer and quotes pixel_indices", () => {
  const text = mappingCsvText({
    sector: 1,
    camera: 1,
    ccd: 1,
    rows: [{ name: "skycell.0635.001", padding: {} }],
  }, SIZE);
  const t = parseCsv(text);
  const row = t.records[0].fields;
  assertEquals(t.header[0], "");
  assertEquals(row[t.header.indexOf("projection")], "635");
  assertEquals(row[t.header.indexOf("NAXIS1")], "256");
  assertEquals(row[t.header.indexOf("pixel_indices")].split(", ").length, 800);
  assertEquals(text.includes('"[('), true);
});

Deno.test("headers carry the PS1 keywords: scaling, asinh, EXPTIME, WCS in PC001001 form, no RADESYS", () => {
  const s = new SkycellSynth("skycell.2556.080", "z", { size: SIZE });
  const keys = s.cards("image").map((c) => c.slice(0, 8).trim());
  for (
    const k of ["BSCALE", "BZERO", "BLANK", "BSOFTEN", "BOFFSET", "EXPTIME", "CRVAL1", "CRPIX2", "CDELT1"]
  ) {
    assertEquals(keys.includes(k), true, k);
  }
  assertEquals(keys.includes("PC001001") && !keys.includes("RADESYS"), true);
  assertEquals(s.cards("mask").some((c) => c.startsWith("BSOFTEN")), false);
  assertEquals(s.cards("image").every((c) => c.length === 80), true);
});

Deno.test("the demo archive: CSV with padding read back, files served by the local archive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_synth_" });
  try {
    const demo = await writeDemoArchive(dir, { size: 64, bands: ["r", "y"] });
    assertEquals(demo.skycells, configSkycells(demoConfig));
    assertEquals(demo.skycells.length, 6);
    assertEquals(new Set(demo.skycells.map((s) => s.slice(8, 12))).size, 2);
    assertEquals(demo.files, 6 * 2 * 3);
    const list = await readSkycellList({ dataRoot: dir, sector: 20, camera: 3, ccd: 3 });
    assertEquals([list.skycells, list.mainCount, list.paddingCount, list.source], [
      demo.skycells,
      3,
      3,
      "newer",
    ]);
    const csv = await Deno.readTextFile(list.csvPath);
    assertEquals(csv.split("\n")[0].startsWith(",NAME,projection"), true);
    assertEquals(csv.includes(",skycell.2556.080,2556,080,"), true);
    const file = localPath(demo.archiveDir, "skycell.2557.001", "y", "mask");
    const bytes = await Deno.readFile(file);
    assertEquals(new TextDecoder().decode(bytes.subarray(0, 30)), "SIMPLE  =                    T");
    const archive = await startLocalArchive({ root: demo.archiveDir });
    try {
      const client = new ArchiveClient();
      const rel = path.relative(demo.archiveDir, file);
      assertEquals(await client.fetchFile(`${archive.url}/${rel}`), bytes);
    } finally {
      await archive.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeDemoArchive reuses files of the same recipe and rewrites them for another", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_synth_reuse_" });
  try {
    const opts = { size: 48, bands: ["g"], seed: 5, reuse: true };
    const first = await writeDemoArchive(dir, opts);
    const file = localPath(first.archiveDir, "skycell.2556.080", "g", "image");
    const before = await Deno.readFile(file);
    await Deno.writeFile(file, before.subarray(0, 2880)); // a marker: reuse keeps what is there
    const again = await writeDemoArchive(dir, opts);
    assertEquals((await Deno.stat(file)).size, 2880);
    assertEquals(again.bytes, first.bytes - (before.length - 2880));
    await writeDemoArchive(dir, { ...opts, seed: 6 });
    const other = await Deno.readFile(file);
    assertEquals(other.length > 2880 && other.some((b, i) => b !== before[i]), true);
    const leftovers = [];
    for await (const e of Deno.readDir(path.dirname(file))) {
      if (e.name.includes(".tmp-")) leftovers.push(e.name);
    }
    assertEquals(leftovers, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
