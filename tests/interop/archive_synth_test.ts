/**
 * The synthetic PS1-like archive files checked against the references: fitsverify (cfitsio) accepts every
 * file; astropy decodes every file to the pixels the generator made (stored integers scaled by BSCALE/BZERO,
 * BLANK as NaN, masks as uint16), verifies CHECKSUM/DATASUM, and its WCS puts the corners where ours does.
 * @module
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { pixelToSky, SkycellSynth, writeDemoArchive } from "../../lib/archive/synth.ts";
import { localPath } from "../../lib/ps1/urls.ts";
import { runPython, runTool } from "./_python.ts";

const SIZE = 200;
const BANDS = ["r", "y"];

const CHECK = `
import json, sys, warnings
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
# A bad CHECKSUM/DATASUM is only a warning in astropy: make it fail. The WCS fix-up note about the old
# PC001001 keywords (which PS1 files use) is expected.
warnings.simplefilter("error")
warnings.simplefilter("ignore", FITSFixedWarning)
with open(sys.argv[1]) as f:
    cases = json.load(f)
out = []
for c in cases:
    with fits.open(c["path"], checksum=True) as hdul:
        hdu = hdul[1]
        data = hdu.data
        raw = np.fromfile(c["raw"], dtype="<u2" if c["kind"] == "mask" else "<i2").reshape(c["height"], c["width"])
        if c["kind"] == "mask":
            ok = data.dtype == np.uint16 and np.array_equal(data, raw)
        else:
            # astropy scales in float32, so a large BZERO costs a few float32 steps; the stored integers are
            # checked exactly below.
            expected = np.where(raw == -32768, np.nan, c["bzero"] + c["bscale"] * raw.astype(np.float64))
            ok = (data.dtype == np.float32 and np.array_equal(np.isnan(data), np.isnan(expected))
                  and np.allclose(data, expected, rtol=4e-7, atol=c["bscale"] / 2, equal_nan=True))
    with fits.open(c["path"], do_not_scale_image_data=True) as hdul:
        ok = ok and np.array_equal(hdul[1].data.astype(np.int32), (raw.astype(np.int32) - 32768) if c["kind"] == "mask" else raw)
    with fits.open(c["path"]) as hdul:
        hdu = hdul[1]
        data = hdu.data
        h = hdu.header
        w = WCS(h)
        corners = [list(map(float, w.all_pix2world([[x - 1, y - 1]], 0)[0])) for x, y in c["corners"]]
        out.append({
            "path": c["path"], "pixels": bool(ok), "shape": list(data.shape),
            "ctype": list(w.wcs.ctype), "corners": corners, "radesys_card": "RADESYS" in h,
            "exptime": h.get("EXPTIME"), "bsoften": h.get("BSOFTEN"), "zcmptype": getattr(hdu, "compression_type", None),
            "nan": int(np.isnan(data).sum()) if c["kind"] != "mask" else 0,
        })
print(json.dumps(out))
`;

Deno.test("synthetic archive files pass fitsverify and decode with astropy to the generated pixels", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_synth_interop_" });
  try {
    const demo = await writeDemoArchive(dir, { size: SIZE, bands: BANDS, seed: 3 });
    assert.equal(demo.files, demo.skycells.length * BANDS.length * 3);
    const cases = [];
    const expectations = new Map<string, { kind: string; synth: SkycellSynth; blank: number }>();
    for (const skycell of demo.skycells) {
      for (const band of BANDS) {
        const synth = new SkycellSynth(skycell, band, { size: SIZE, seed: 3 });
        const rows = synth.rows(0, synth.height);
        const blank = rows.image.filter((v) => v === -32768).length;
        for (const kind of ["image", "weight", "mask"] as const) {
          const file = localPath(demo.archiveDir, skycell, band, kind);
          const raw = path.join(dir, `${skycell}.${band}.${kind}.raw`);
          const values = kind === "mask" ? rows.mask : kind === "image" ? rows.image : rows.weight;
          await Deno.writeFile(raw, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
          const s = synth.scaling;
          cases.push({
            path: file,
            raw,
            kind,
            width: synth.width,
            height: synth.height,
            bscale: kind === "image" ? s.bscale : s.weightScale,
            bzero: kind === "image" ? s.bzero : s.weightZero,
            corners: [[1, 1], [synth.width, synth.height]],
          });
          expectations.set(file, { kind, synth, blank });
        }
      }
    }
    const casesPath = path.join(dir, "cases.json");
    await Deno.writeTextFile(casesPath, JSON.stringify(cases));
    const results = JSON.parse(await runPython(CHECK, [casesPath]));
    assert.equal(results.length, cases.length);
    for (const r of results) {
      const e = expectations.get(r.path)!;
      assert.equal(r.pixels, true, `pixels of ${r.path}`);
      assert.deepEqual(r.shape, [e.synth.height, e.synth.width]);
      assert.deepEqual(r.ctype, ["RA---TAN", "DEC--TAN"]);
      assert.equal(r.radesys_card, false);
      assert.equal(r.exptime, e.synth.scaling.exptime);
      assert.equal(r.zcmptype, e.kind === "mask" ? "GZIP_1" : "RICE_1");
      if (e.kind === "image") assert.equal(r.bsoften, e.synth.scaling.bsoften);
      if (e.kind !== "mask") assert.equal(r.nan, e.blank);
      const ours = [pixelToSky(e.synth.wcs, 1, 1), pixelToSky(e.synth.wcs, e.synth.width, e.synth.height)];
      r.corners.forEach(([ra, dec]: number[], k: number) => {
        assert.ok(
          Math.abs(ra - ours[k].ra) < 1e-7 && Math.abs(dec - ours[k].dec) < 1e-7,
          `corner ${k} of ${r.path}`,
        );
      });
    }
    for (const c of cases) {
      const v = await runTool("fitsverify", ["-q", "-e", c.path], { allowFailure: true });
      assert.equal(v.code, 0, `fitsverify ${c.path}: ${v.stdout}${v.stderr}`);
      assert.match(v.stdout, /verification OK/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
