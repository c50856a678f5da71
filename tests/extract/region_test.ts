/**
 * Cutouts: the pixels equal the same slice of the source image, only the chunks the box touches are
 * read, the header's CRPIX moves so every pixel keeps its sky position (checked with the synthetic
 * archive's own pixel-to-sky function, independent of lib/extract/wcs.ts), and boxes around a sky
 * position land on the pixel that holds it.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { pixelToSky, skycellWcs } from "../../lib/archive/synth.ts";
import { asFloat, formatCard } from "../../lib/fits/card.ts";
import { FitsHeader } from "../../lib/fits/header.ts";
import { openImage } from "../../lib/fits/image.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import {
  extractArray,
  formatRegion,
  parseCenter,
  parseRegion,
  type PixelRegion,
  pixelToWorld,
  readTanWcs,
  RegionError,
  resolveRegion,
  worldToPixel,
} from "../../lib/extract/mod.ts";
import { sameBits, SKYCELL_A, slice2d, standardFixture, treeOf } from "./_store.ts";

const fx = await standardFixture();
const SIZE = 300;

Deno.test("parseRegion reads x0:x1,y0:y1 and names malformed and empty boxes", () => {
  assert.deepEqual(parseRegion("100:300,50:250"), { x0: 100, x1: 300, y0: 50, y1: 250 });
  assert.deepEqual(parseRegion(" 0:1 , 2:3 "), { x0: 0, x1: 1, y0: 2, y1: 3 });
  assert.equal(formatRegion(parseRegion("1:2,3:4")), "1:2,3:4");
  for (const bad of ["", "1:2", "1:2,3", "a:b,c:d", "-1:2,3:4", "1.5:2,3:4", "1:2;3:4", "1:2,3:4,5:6"]) {
    assert.throws(
      () => parseRegion(bad),
      (e) => e instanceof RegionError && /invalid region/.test(e.message),
      bad,
    );
  }
  for (const empty of ["5:5,0:10", "0:10,7:3"]) {
    assert.throws(
      () => parseRegion(empty),
      (e) => e instanceof RegionError && /empty region/.test(e.message),
    );
  }
});

Deno.test("parseCenter reads RA,DEC in degrees and rejects impossible positions", () => {
  assert.deepEqual(parseCenter("227.41,-0.52"), { ra: 227.41, dec: -0.52 });
  assert.deepEqual(parseCenter("0, 90"), { ra: 0, dec: 90 });
  for (const bad of ["", "12", "a,b", "360,0", "10,91", "-1,0", "1,2,3"]) {
    assert.throws(() => parseCenter(bad), RegionError, bad);
  }
});

Deno.test("resolveRegion refuses a box outside the image, naming the image size", () => {
  assert.throws(
    () => resolveRegion({ pixels: { x0: 0, x1: 301, y0: 0, y1: 10 } }, 300, 299, undefined),
    /region 0:301,0:10 is outside the image \(300 x 299/,
  );
  assert.throws(() => resolveRegion({ pixels: { x0: 0, x1: 10, y0: 290, y1: 300 } }, 300, 299, undefined));
  assert.deepEqual(
    resolveRegion({ pixels: { x0: 0, x1: 300, y0: 0, y1: 299 } }, 300, 299, undefined).region,
    { x0: 0, x1: 300, y0: 0, y1: 299 },
  );
});

const REGIONS: PixelRegion[] = [
  { x0: 100, x1: 260, y0: 120, y1: 250 }, // crosses chunk boundaries (128) in both directions
  { x0: 0, x1: 1, y0: 0, y1: 1 },
  { x0: 250, x1: 300, y0: 200, y1: 299 }, // reaches the right and bottom edge (padded edge chunks)
  { x0: 128, x1: 256, y0: 0, y1: 299 }, // exactly one chunk column, every row
];

for (const region of REGIONS) {
  for (const kind of ["image", "mask"] as const) {
    Deno.test(`cutout ${formatRegion(region)} of the ${kind} equals the source slice`, async () => {
      const src = fx.source(SKYCELL_A, "r", kind);
      const store = await ZarrStore.open(fx.store);
      try {
        for (const workers of [0, 2]) {
          const out = path.join(fx.dir, "cut", `${formatRegion(region)}_${kind}_${workers}.fits`);
          const r = await extractArray(store, { skycell: SKYCELL_A, band: "r", kind }, out, {
            region: { pixels: region },
            workers,
            bandRows: 64,
          });
          assert.deepEqual(r.region, region);
          const img = openImage(await Deno.readFile(out));
          assert.deepEqual([img.width, img.height], [region.x1 - region.x0, region.y1 - region.y0]);
          const type = kind === "mask" ? "uint16" : "float32";
          sameBits(
            img.readRows(0, img.height, type),
            slice2d(src.pixels, src.width, region),
            `${workers} workers`,
          );
        }
      } finally {
        store.close();
      }
    });
  }
}

Deno.test("a cutout reads only the chunks it touches", async () => {
  // A copy of the store whose chunk files outside the box are garbage: the cutout still works, the
  // whole array does not.
  const copy = await fx.copyStore("sparse.zarr");
  const arrayDir = path.join(copy, "2556", SKYCELL_A, "r");
  let broken = 0;
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 3; col++) {
      if (row === 1 && col === 1) continue;
      await Deno.writeFile(path.join(arrayDir, "c", String(row), String(col)), new Uint8Array([1, 2, 3]));
      broken++;
    }
  }
  assert.equal(broken, 8);
  const region = { x0: 130, x1: 250, y0: 140, y1: 200 }; // inside chunk (1, 1)
  const store = await ZarrStore.open(copy);
  try {
    const sel = { skycell: SKYCELL_A, band: "r", kind: "image" } as const;
    for (const workers of [0, 1]) {
      const out = path.join(fx.dir, "sparse", `cut_${workers}.fits`);
      await extractArray(store, sel, out, { region: { pixels: region }, workers });
      const img = openImage(await Deno.readFile(out));
      const src = fx.source(SKYCELL_A, "r", "image");
      sameBits(img.readRows(0, img.height, "float32"), slice2d(src.pixels, src.width, region), "cutout");
      const full = path.join(fx.dir, "sparse", `full_${workers}.fits`);
      // Some broken chunk is named (reads of one chunk row run in parallel: any may fail first).
      await assert.rejects(extractArray(store, sel, full, { workers }), /\/r\/c\/\d\/\d: /);
    }
    assert.deepEqual(await treeOf(path.join(fx.dir, "sparse")), ["cut_0.fits", "cut_1.fits"]);
  } finally {
    store.close();
  }
});

Deno.test("a cutout's CRPIX moves with the box, so each pixel keeps its sky position", async () => {
  const src = fx.source(SKYCELL_A, "r", "image");
  const region = { x0: 37, x1: 211, y0: 58, y1: 190 };
  const store = await ZarrStore.open(fx.store);
  const out = path.join(fx.dir, "wcs", "cut.fits");
  try {
    await extractArray(store, { skycell: SKYCELL_A, band: "r", kind: "image" }, out, {
      region: { pixels: region },
    });
  } finally {
    store.close();
  }
  const full = FitsHeader.fromString(src.header);
  const cut = FitsHeader.parse(await Deno.readFile(out)).header;
  assert.equal(cut.get("CRPIX1"), (full.get("CRPIX1") as number) - region.x0);
  assert.equal(cut.get("CRPIX2"), (full.get("CRPIX2") as number) - region.y0);
  assert.equal(cut.get("NAXIS1"), region.x1 - region.x0);
  assert.equal(cut.get("NAXIS2"), region.y1 - region.y0);
  // Every other WCS card is the source's card, text for text (PC001001-style kept).
  for (
    const k of [
      "CTYPE1",
      "CTYPE2",
      "CRVAL1",
      "CRVAL2",
      "CDELT1",
      "CDELT2",
      "PC001001",
      "PC001002",
      "PC002001",
      "PC002002",
    ]
  ) {
    assert.equal(cut.cards[cut.indexOf(k)].text, full.cards[full.indexOf(k)].text, k);
  }
  assert.equal(cut.cards[cut.indexOf("CRPIX1")].comment, full.cards[full.indexOf("CRPIX1")].comment);
  const history = cut.cards.filter((c) => c.keyword === "HISTORY").map((c) => String(c.value));
  assert.ok(
    history.some((h) => h.includes("cutout x 37:211, y 58:190") && h.includes("300 x 299")),
    history.join("|"),
  );
  assert.ok(history.some((h) => h.includes(`${SKYCELL_A}/r`)), "names the source array");
  // Sky positions with the synthetic archive's own TAN implementation.
  const truth = skycellWcs(SKYCELL_A, SIZE);
  const cutWcs = {
    crval1: cut.get("CRVAL1") as number,
    crval2: cut.get("CRVAL2") as number,
    crpix1: cut.get("CRPIX1") as number,
    crpix2: cut.get("CRPIX2") as number,
  };
  const ours = readTanWcs(cut)!;
  for (const [x, y] of [[1, 1], [174, 132], [50.5, 77.25], [-3, 400]]) {
    const want = pixelToSky(truth, x + region.x0, y + region.y0);
    const got = pixelToSky(cutWcs, x, y);
    assert.ok(Math.abs(got.ra - want.ra) < 1e-10 && Math.abs(got.dec - want.dec) < 1e-10, `${x},${y}`);
    const mine = pixelToWorld(ours, x, y);
    assert.ok(Math.abs(mine.ra - want.ra) < 1e-9 && Math.abs(mine.dec - want.dec) < 1e-9, `wcs.ts ${x},${y}`);
  }
});

Deno.test("--center puts the box on the pixel holding the sky position", () => {
  const src = fx.source(SKYCELL_A, "r", "image");
  const truth = skycellWcs(SKYCELL_A, SIZE);
  // 1-based FITS pixel (150, 100) is 0-based (149, 99); a 21-pixel box spans 139..159, 89..109.
  const sky = pixelToSky(truth, 150, 100);
  const r = resolveRegion({ center: sky, size: 21 }, src.width, src.height, src.header);
  assert.deepEqual(r.region, { x0: 139, x1: 160, y0: 89, y1: 110 });
  assert.equal(r.clipped, false);
  assert.ok(Math.abs(r.centerPixel!.x - 150) < 1e-6 && Math.abs(r.centerPixel!.y - 100) < 1e-6);
  // Even size: the box is centred on the pixel corner nearest to the position (149.5, 99.5 here).
  assert.deepEqual(
    resolveRegion({ center: pixelToSky(truth, 150.3, 100.2), size: 4 }, src.width, src.height, src.header)
      .region,
    { x0: 148, x1: 152, y0: 98, y1: 102 },
  );
  assert.deepEqual(
    resolveRegion({ center: pixelToSky(truth, 149.7, 99.6), size: 4 }, src.width, src.height, src.header)
      .region,
    { x0: 147, x1: 151, y0: 97, y1: 101 },
  );
  // Near the edge: cut, and said so.
  const corner = pixelToSky(truth, 3, 296);
  const clipped = resolveRegion({ center: corner, size: 11 }, src.width, src.height, src.header);
  assert.deepEqual(clipped.region, { x0: 0, x1: 8, y0: 290, y1: 299 });
  assert.equal(clipped.clipped, true);
  // Off the image, and without a WCS.
  assert.throws(
    () => resolveRegion({ center: pixelToSky(truth, 900, 100), size: 11 }, src.width, src.height, src.header),
    /outside the image \(300 x 299\)/,
  );
  assert.throws(
    () => resolveRegion({ center: sky, size: 11 }, src.width, src.height, undefined),
    /needs a WCS/,
  );
});

Deno.test("a --center cutout equals the slice around the position", async () => {
  const src = fx.source(SKYCELL_A, "r", "weight");
  const sky = pixelToSky(skycellWcs(SKYCELL_A, SIZE), 150, 100);
  const store = await ZarrStore.open(fx.store);
  const warnings: string[] = [];
  const log = {
    debug() {},
    info() {},
    error() {},
    warn: (m: string) => warnings.push(m),
    enabled: () => true,
  };
  try {
    const out = path.join(fx.dir, "center", "c.fits");
    const r = await extractArray(store, { skycell: SKYCELL_A, band: "r", kind: "weight" }, out, {
      region: { center: sky, size: 21 },
      log,
    });
    assert.deepEqual(r.region, { x0: 139, x1: 160, y0: 89, y1: 110 });
    const img = openImage(await Deno.readFile(out));
    sameBits(img.readRows(0, img.height, "float32"), slice2d(src.pixels, src.width, r.region!), "pixels");
    assert.deepEqual(warnings, []);
    const edge = pixelToSky(skycellWcs(SKYCELL_A, SIZE), 298, 2);
    const r2 = await extractArray(store, { skycell: SKYCELL_A, band: "r", kind: "weight" }, out, {
      region: { center: edge, size: 11 },
      overwrite: true,
      log,
    });
    assert.equal(r2.clipped, true);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /past the image edge.*cut to 8 x 7 pixels/);
  } finally {
    store.close();
  }
});

Deno.test("readTanWcs takes CD matrices, PCi_j and PC00i00j, and worldToPixel inverts pixelToWorld", () => {
  const base = [
    formatCard("CTYPE1", "RA---TAN"),
    formatCard("CTYPE2", "DEC--TAN"),
    formatCard("CRVAL1", asFloat(350.2)),
    formatCard("CRVAL2", asFloat(-62.5)),
    formatCard("CRPIX1", asFloat(3000.5)),
    formatCard("CRPIX2", asFloat(-120.25)),
  ];
  const th = 0.3;
  const s = 6.9444446e-05;
  const variants: Record<string, string[]> = {
    cd: [
      formatCard("CD1_1", -s * Math.cos(th)),
      formatCard("CD1_2", s * Math.sin(th)),
      formatCard("CD2_1", s * Math.sin(th)),
      formatCard("CD2_2", s * Math.cos(th)),
    ],
    pc: [
      formatCard("CDELT1", -s),
      formatCard("CDELT2", s),
      formatCard("PC1_1", Math.cos(th)),
      formatCard("PC1_2", -Math.sin(th)),
      formatCard("PC2_1", Math.sin(th)),
      formatCard("PC2_2", Math.cos(th)),
    ],
    pc00: [
      formatCard("CDELT1", -s),
      formatCard("CDELT2", s),
      formatCard("PC001001", Math.cos(th)),
      formatCard("PC001002", -Math.sin(th)),
      formatCard("PC002001", Math.sin(th)),
      formatCard("PC002002", Math.cos(th)),
    ],
  };
  const results: { ra: number; dec: number }[] = [];
  for (const [name, cards] of Object.entries(variants)) {
    const wcs = readTanWcs(FitsHeader.fromString([...base, ...cards].join("")))!;
    assert.ok(wcs, name);
    for (const [x, y] of [[1, 1], [6300, 6300], [3000.5, -120.25], [-500, 7000]]) {
      const sky = pixelToWorld(wcs, x, y);
      const back = worldToPixel(wcs, sky.ra, sky.dec)!;
      assert.ok(
        Math.abs(back.x - x) < 1e-6 && Math.abs(back.y - y) < 1e-6,
        `${name} ${x},${y}: ${back.x},${back.y}`,
      );
    }
    results.push(pixelToWorld(wcs, 100, 200));
  }
  // The three spellings of the same matrix give the same sky position.
  for (const r of results.slice(1)) {
    assert.ok(Math.abs(r.ra - results[0].ra) < 1e-9 && Math.abs(r.dec - results[0].dec) < 1e-9);
  }
  // Identity PC with CDELT agrees with the synthetic archive's TAN.
  const plain = readTanWcs(
    FitsHeader.fromString([...base, formatCard("CDELT1", -s), formatCard("CDELT2", s)].join("")),
  )!;
  const want = pixelToSky({ crval1: 350.2, crval2: -62.5, crpix1: 3000.5, crpix2: -120.25 }, 10, 20);
  const got = pixelToWorld(plain, 10, 20);
  assert.ok(Math.abs(got.ra - want.ra) < 1e-10 && Math.abs(got.dec - want.dec) < 1e-10);
  // No WCS, and one this module cannot invert.
  assert.equal(readTanWcs(FitsHeader.fromString(formatCard("OBJECT", "x"))), null);
  const sin = [...base, ...variants.pc].map((c) => c.replace("RA---TAN", "RA---SIN"));
  assert.throws(() => readTanWcs(FitsHeader.fromString(sin.join(""))), /only RA---TAN/);
  assert.equal(
    worldToPixel(readTanWcs(FitsHeader.fromString([...base, ...variants.cd].join("")))!, 170.2, 62.5),
    null,
  );
});
