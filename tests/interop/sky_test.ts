/**
 * Sky geometry against the references: our TESS camera/CCD model against tess-point's
 * `tess_stars2px_reverse_function_entry` (within 1 arcsec, every CCD of a spread of northern sectors);
 * coverage of a CCD's computed skycell list checked on pixels that tess-point maps to the sky; and the
 * footprint corners of a TAN-SIP FITS header written by astropy against astropy's `WCS.calc_footprint`.
 * A missing Python package is a failure, never a skip.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { runPython } from "./_python.ts";
import { coveredBy, fitsFootprint, skycellsForTessCcd } from "../../lib/sky/footprint.ts";
import { skycellsAt } from "../../lib/sky/rings.ts";
import { ccdPixelToSky, tessCcd } from "../../lib/sky/tess.ts";
import { TESS_POINT_VERSION } from "../../lib/sky/tess_data.ts";
import { separation, type SkyPoint } from "../../lib/sky/wcs.ts";

/** tess-point's sky positions of CCD pixels: argv[1] is JSON [[sector, camera, ccd, [[x, y], ...]], ...]. */
const TESS_POINT_REVERSE = `
import json, sys, contextlib, io
from importlib.metadata import version
import tess_stars2px as t
jobs = json.loads(sys.argv[1])
out = {"version": version("tess-point"), "results": []}
infos = {}
with contextlib.redirect_stdout(io.StringIO()):
    for sector, camera, ccd, pixels in jobs:
        res = []
        for x, y in pixels:
            ra, dec, info = t.tess_stars2px_reverse_function_entry(
                sector, camera, ccd, x + 45.0, y + 1.0, scInfo=infos.get(sector))
            infos[sector] = info
            res.append([float(ra), float(dec)])
        out["results"].append(res)
print(json.dumps(out))
`;

async function tessPointSky(jobs: [number, number, number, number[][]][]): Promise<SkyPoint[][]> {
  const out = JSON.parse(await runPython(TESS_POINT_REVERSE, [JSON.stringify(jobs)]));
  assert.equal(out.version, TESS_POINT_VERSION, "tess_data.ts was generated from this tess-point version");
  return out.results.map((r: number[][]) => r.map(([ra, dec]) => ({ ra, dec })));
}

const NORTHERN_SECTORS = [14, 17, 20, 23, 26, 40, 47, 53, 56, 60, 75, 82];
const GRID3 = [0, 1023.5, 2047].flatMap((x) => [0, 1023.5, 2047].map((y) => [x, y]));

Deno.test("sky: our TESS model maps pixels where tess-point does, within 1 arcsec (12 northern sectors x 16 CCDs)", async () => {
  const jobs: [number, number, number, number[][]][] = [];
  for (const s of NORTHERN_SECTORS) {
    for (let c = 1; c <= 4; c++) for (let k = 1; k <= 4; k++) jobs.push([s, c, k, GRID3]);
  }
  const ref = await tessPointSky(jobs);
  let worst = 0;
  jobs.forEach(([s, c, k, pixels], i) => {
    const m = tessCcd(s, c, k);
    pixels.forEach(([x, y], j) => {
      const d = separation(ccdPixelToSky(m, x, y), ref[i][j]) * 3600;
      worst = Math.max(worst, d);
      assert.ok(d < 1, `sector ${s} camera ${c} CCD ${k} pixel ${x},${y}: ${d.toFixed(3)} arcsec`);
    });
  });
  console.log(`  ${jobs.length} CCDs x ${GRID3.length} pixels, worst ${worst.toFixed(4)} arcsec`);
});

Deno.test("sky: every tess-point-sampled CCD pixel north of Dec -30 lies in a listed skycell; list <= 1.6x", async () => {
  const step = 2047 / 24;
  const pixels: number[][] = [];
  for (let i = 0; i <= 24; i++) for (let j = 0; j <= 24; j++) pixels.push([i * step, j * step]);
  const ccds: [number, number, number][] = [[20, 3, 3], [14, 1, 1], [26, 4, 2], [47, 2, 4], [56, 1, 3], [
    1,
    1,
    4,
  ]];
  const ref = await tessPointSky(ccds.map(([s, c, k]) => [s, c, k, pixels]));
  ccds.forEach(([s, c, k], i) => {
    const t0 = performance.now();
    const list = skycellsForTessCcd(s, c, k);
    const ms = performance.now() - t0;
    const all = new Set(list.skycells);
    const fallIn = new Set<string>();
    let north = 0;
    for (const p of ref[i]) {
      if (p.dec < -30) continue;
      north++;
      skycellsAt(p.ra, p.dec).forEach((n) => fallIn.add(n));
      assert.ok(coveredBy(all, p.ra, p.dec), `${s}/${c}/${k}: ${p.ra} ${p.dec} not in a listed skycell`);
    }
    assert.ok(north > 0);
    assert.ok(
      list.skycells.length <= 1.6 * fallIn.size,
      `${s}/${c}/${k}: ${list.skycells.length} listed, pixels fall in ${fallIn.size}`,
    );
    console.log(
      `  ${s}/${c}/${k}: ${list.mainCount} main + ${list.paddingCount} padding in ${ms.toFixed(0)} ms; ` +
        `sampled pixels fall in ${fallIn.size} (ratio ${(list.skycells.length / fallIn.size).toFixed(2)})` +
        (list.notes.length ? `; ${list.notes.join("; ")}` : ""),
    );
  });
});

/** Writes a TAN-SIP header (order 3, TESS FFI-like) with astropy; prints calc_footprint. */
const ASTROPY_TAN_SIP = `
import json, sys
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, Sip
w = WCS(naxis=2)
w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
w.wcs.crval = [129.3867, 75.252]
w.wcs.crpix = [1045.0, 1001.0]
w.wcs.cd = np.array([[-0.0055, 0.0011], [0.0012, 0.0056]])
a = np.zeros((4, 4)); b = np.zeros((4, 4))
a[2, 0] = 2.1e-6; a[1, 1] = -1.3e-6; a[0, 2] = 0.9e-6; a[3, 0] = 1.5e-9; a[1, 2] = -7e-10
b[2, 0] = -0.8e-6; b[1, 1] = 1.7e-6; b[0, 2] = 2.4e-6; b[0, 3] = 1.1e-9; b[2, 1] = 6e-10
w.sip = Sip(a, b, None, None, w.wcs.crpix)
h = w.to_header(relax=True)
data = np.zeros((2078, 2136), dtype=np.int16)
fits.PrimaryHDU(data=data, header=h).writeto(sys.argv[1], overwrite=True)
w2 = WCS(fits.getheader(sys.argv[1]))
print(json.dumps({"corners": w2.calc_footprint().tolist()}))
`;

Deno.test("sky: a TAN-SIP FITS footprint's corners match astropy's calc_footprint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sky_interop_" });
  try {
    const file = path.join(dir, "tan_sip.fits");
    const ref = JSON.parse(await runPython(ASTROPY_TAN_SIP, [file]));
    const fp = await fitsFootprint(file);
    assert.equal(fp.corners.length, 4);
    let worst = 0;
    fp.corners.forEach((c, i) => {
      const d = separation(c, { ra: ref.corners[i][0], dec: ref.corners[i][1] }) * 3600;
      worst = Math.max(worst, d);
      assert.ok(d < 0.01, `corner ${i + 1}: ${d} arcsec`);
    });
    console.log(`  corners agree with calc_footprint to ${worst.toExponential(2)} arcsec`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** tesswcs's sky positions (WCS fitted to real full-frame images): argv[1] as for tess-point. */
const TESSWCS_SKY = `
import json, sys, warnings
warnings.simplefilter("ignore")
from importlib.metadata import version
from tesswcs import WCS
jobs = json.loads(sys.argv[1])
out = {"version": version("tesswcs"), "results": []}
for sector, camera, ccd, pixels in jobs:
    wcs = WCS.from_sector(sector, camera, ccd)
    res = []
    for x, y in pixels:
        # Science pixel (x, y) is 0-based column 44 + x, row y of the full-frame image.
        p = wcs.pixel_to_world(44 + x, y)
        res.append([float(p.ra.deg), float(p.dec.deg)])
    out["results"].append(res)
print(json.dumps(out))
`;

Deno.test("sky: our TESS model agrees with tesswcs (WCS fitted to real images) within 1 arcminute", async () => {
  const sectors = [14, 20, 26, 40, 47, 56];
  const jobs: [number, number, number, number[][]][] = [];
  for (const s of sectors) {
    for (let c = 1; c <= 4; c++) for (let k = 1; k <= 4; k++) jobs.push([s, c, k, GRID3]);
  }
  const out = JSON.parse(await runPython(TESSWCS_SKY, [JSON.stringify(jobs)]));
  let worst = 0;
  jobs.forEach(([s, c, k, pixels], i) => {
    const m = tessCcd(s, c, k);
    pixels.forEach(([x, y], j) => {
      const [ra, dec] = out.results[i][j];
      const d = separation(ccdPixelToSky(m, x, y), { ra, dec }) * 3600;
      worst = Math.max(worst, d);
      assert.ok(
        d < 60,
        `sector ${s} camera ${c} CCD ${k} pixel ${x},${y}: ${d.toFixed(1)} arcsec from tesswcs`,
      );
    });
  });
  console.log(
    `  tesswcs ${out.version}: ${jobs.length} CCDs x ${GRID3.length} pixels, worst ${
      worst.toFixed(1)
    } arcsec`,
  );
});
