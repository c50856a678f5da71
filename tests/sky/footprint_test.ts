import assert from "node:assert/strict";
import * as path from "node:path";
import {
  coneFootprint,
  coveredBy,
  fitsFootprint,
  skycellsForCone,
  skycellsForFits,
  skycellsForFootprint,
  skycellsForTessCcd,
  tessCcdFootprint,
} from "../../lib/sky/footprint.ts";
import { skycellCorners, skycellsAt } from "../../lib/sky/rings.ts";
import { ccdPixelToSky, tessCcd } from "../../lib/sky/tess.ts";
import { gnomonicInverse, separation } from "../../lib/sky/wcs.ts";
import { card, writeFits } from "./_fits.ts";

function checkShape(list: ReturnType<typeof skycellsForCone>): void {
  assert.equal(list.source, "footprint");
  assert.deepEqual(list.skycells, [...new Set([...list.main, ...list.padding])].sort());
  assert.equal(list.mainCount, list.main.length);
  assert.equal(list.paddingCount, list.padding.length);
  assert.ok(list.padding.every((p) => !list.main.includes(p)));
  assert.deepEqual(list.main, [...list.main].sort());
}

Deno.test("footprint: a tiny cone at skycell.2556.080's centre gives the skycells containing it, plus the ring", () => {
  const list = skycellsForCone(202.115764, 71.339009, 0.001);
  checkShape(list);
  assert.deepEqual(list.main, skycellsAt(202.115764, 71.339009));
  for (const n of ["skycell.2556.070", "skycell.2556.081", "skycell.2556.090", "skycell.2556.091"]) {
    assert.ok(list.padding.includes(n), n);
  }
  // Column 0's left neighbours lie in projection cell 2557.
  assert.ok(list.padding.some((p) => p.startsWith("skycell.2557.")));
});

Deno.test("footprint: every point of a cone lies in a main skycell", () => {
  for (const [ra, dec, r] of [[10, 20, 1.5], [359.8, 1.9, 0.8], [45, 86.5, 2], [0, 89.5, 1]]) {
    const list = skycellsForCone(ra, dec, r);
    checkShape(list);
    const main = new Set(list.main);
    for (let i = 0; i <= 40; i++) {
      for (let j = 0; j <= 40; j++) {
        const xi = ((i - 20) / 20) * r;
        const eta = ((j - 20) / 20) * r;
        const p = gnomonicInverse(xi, eta, ra, dec);
        if (separation(p, { ra, dec }) > r) continue;
        assert.ok(coveredBy(main, p.ra, p.dec), `${ra} ${dec} ${r}: ${p.ra} ${p.dec}`);
      }
    }
  }
});

Deno.test("footprint: south of Dec -30 is dropped with a note", () => {
  const south = skycellsForCone(40, -50, 1);
  assert.equal(south.skycells.length, 0);
  assert.match(south.notes.join(), /south of Dec -30/);
  const edge = skycellsForCone(40, -30, 1);
  assert.ok(edge.main.length > 0);
  assert.match(edge.notes.join(), /south of Dec -30/);
  assert.ok(coveredBy(edge.main, 40, -29.9));
  for (const name of edge.skycells) {
    assert.ok(skycellCorners(name).some((c) => c.dec > -30.5), `${name} lies wholly south`);
  }
  assert.ok(edge.main.every((n) => skycellCorners(n).some((c) => c.dec >= -30)), "main skycells reach -30");
});

Deno.test("footprint: a TESS CCD's list covers its sampled pixels", () => {
  // How fast it is belongs to benchmarks (README: 12-80 ms here); a test asserts no time.
  const list = skycellsForTessCcd(20, 3, 3);
  checkShape(list);
  const all = new Set(list.skycells);
  const m = tessCcd(20, 3, 3);
  const touched = new Set<string>();
  for (let x = 0; x < 2048; x += 31) {
    for (let y = 0; y < 2048; y += 31) {
      const p = ccdPixelToSky(m, x, y);
      const at = skycellsAt(p.ra, p.dec);
      at.forEach((s) => touched.add(s));
      assert.ok(at.some((s) => all.has(s)), `pixel ${x} ${y}`);
    }
  }
  assert.ok(list.skycells.length <= 1.6 * touched.size, `${list.skycells.length} vs ${touched.size}`);
  assert.ok(list.mainCount > 800 && list.skycells.length < 1400, `${list.mainCount} ${list.skycells.length}`);
  assert.equal(tessCcdFootprint(20, 3, 3).corners.length, 4);
});

Deno.test("footprint: a FITS image's TAN-SIP WCS, and a TESS FFI's science area", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sky_fits_" });
  try {
    const file = path.join(dir, "img.fits");
    const wcs = [
      card("CTYPE1", "RA---TAN-SIP"),
      card("CTYPE2", "DEC--TAN-SIP"),
      card("CRVAL1", 202.1),
      card("CRVAL2", 71.3),
      card("CRPIX1", 50.5),
      card("CRPIX2", 40.5),
      card("CD1_1", -0.01),
      card("CD1_2", 0.0),
      card("CD2_1", 0.0),
      card("CD2_2", 0.01),
      card("A_ORDER", 2),
      card("B_ORDER", 2),
      card("A_2_0", 1e-5),
      card("B_0_2", -1e-5),
    ];
    await writeFits(file, 100, 80, wcs);
    const fp = await fitsFootprint(file);
    assert.equal(fp.corners.length, 4);
    const list = await skycellsForFits(file);
    checkShape(list);
    assert.ok(list.main.includes("skycell.2556.080"));
    for (const c of fp.corners) assert.ok(coveredBy(list.main, c.ra, c.dec));

    const ffi = path.join(dir, "ffi.fits");
    await writeFits(ffi, 2136, 2078, [card("TELESCOP", "TESS"), ...wcs.slice(0, 10)]);
    const sci = await fitsFootprint(ffi);
    assert.match(sci.notes.join(), /science area/);
    const whole = await fitsFootprint(ffi, { tessScienceArea: false });
    assert.ok(sci.boundary[0].ra !== whole.boundary[0].ra);
    await writeFits(path.join(dir, "none.fits"), 10, 10, []);
    await assert.rejects(() => fitsFootprint(path.join(dir, "none.fits")), /no HDU with a celestial/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("footprint: bad input is refused", () => {
  assert.throws(() => coneFootprint(10, 20, 0), RangeError);
  assert.throws(() => coneFootprint(10, 20, 31), RangeError);
  assert.throws(() => skycellsForTessCcd(9999, 1, 1), RangeError);
  assert.throws(
    () => skycellsForFootprint({ description: "x", boundary: [], corners: [], notes: [] }),
    RangeError,
  );
});
