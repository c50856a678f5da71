import assert from "node:assert/strict";
import { ccdPixelToSky, knownSectors, sectorPointing, skyToCcdPixel, tessCcd } from "../../lib/sky/tess.ts";
import { TESS_POINT_VERSION } from "../../lib/sky/tess_data.ts";
import { separation } from "../../lib/sky/wcs.ts";

Deno.test("tess: pointing table from tess-point, sector 20", () => {
  assert.ok(TESS_POINT_VERSION.length > 0);
  assert.deepEqual(sectorPointing(20), { sector: 20, ra: 129.3867, dec: 75.252, roll: 334.5689 });
  assert.ok(knownSectors().includes(1) && knownSectors().length > 100);
  assert.throws(() => sectorPointing(9999), RangeError);
  assert.throws(() => tessCcd(20, 5, 1), RangeError);
});

Deno.test("tess: pixel (0, 0) of sector 20 camera 3 CCD 3 as tess-point 0.9.5 reverses it", () => {
  // tess_stars2px_reverse_function_entry(20, 3, 3, 45, 1) = (225.2285388, 69.2572382)
  const p = ccdPixelToSky(tessCcd(20, 3, 3), 0, 0);
  assert.ok(separation(p, { ra: 225.2285388, dec: 69.2572382 }) < 0.01 / 3600, JSON.stringify(p));
});

Deno.test("tess: pixel to sky and back agree to 1e-6 pixel", () => {
  for (const [s, c, k] of [[20, 3, 3], [14, 1, 2], [26, 4, 4], [1, 2, 1]]) {
    const m = tessCcd(s, c, k);
    for (const [x, y] of [[0, 0], [2047, 0], [1000, 1500], [2047, 2047]]) {
      const sky = ccdPixelToSky(m, x, y);
      const back = skyToCcdPixel(m, sky.ra, sky.dec)!;
      assert.ok(Math.abs(back.x - x) < 1e-6 && Math.abs(back.y - y) < 1e-6, `${s} ${c} ${k} ${x} ${y}`);
    }
  }
});

Deno.test("tess: a CCD spans about 12 degrees, 21 arcsec pixels", () => {
  const m = tessCcd(20, 3, 3);
  const side = separation(ccdPixelToSky(m, 0, 1024), ccdPixelToSky(m, 2047, 1024));
  assert.ok(side > 11 && side < 12.5, `side ${side}`);
  const pix = separation(ccdPixelToSky(m, 1024, 1024), ccdPixelToSky(m, 1025, 1024)) * 3600;
  assert.ok(pix > 19 && pix < 22, `pixel ${pix}"`);
});
