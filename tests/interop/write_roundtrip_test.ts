/**
 * The files of tests/fits/write_roundtrip_test.ts (built by _roundtrip_files.ts), checked against the
 * references instead of our own reader: astropy reads every pixel bit-exact (plain float32 with Inf and
 * -0, uint16 through BZERO, RICE_1 int16, GZIP_1 uint16); for quantized RICE_1 floats astropy's decode is
 * bit-exact our reader's, keeps NaN, is exact on the losslessly stored row and within half of each tile's
 * ZSCALE of the source; astropy finds the stored cards and valid checksums; fitsverify reports 0 errors
 * and 0 warnings for every file.
 * A missing Python interpreter or fitsverify fails these tests; nothing is skipped.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { splitCards } from "../../lib/fits/card.ts";
import { openImage } from "../../lib/fits/image.ts";
import { roundtripFiles } from "./_roundtrip_files.ts";
import { runPython, runTool } from "./_python.ts";

const CHECK = String.raw`
import json, os, sys, warnings
import numpy as np
from astropy.io import fits
warnings.simplefilter("error")  # any astropy warning (a bad checksum, a malformed card) fails
d, spec = sys.argv[1], json.loads(sys.argv[2])
res = {}
for s in spec:
    shape = (s["height"], s["width"])
    src = np.fromfile(os.path.join(d, s["name"] + ".src"), dtype=s["dtype"]).reshape(shape)
    r = {"problems": []}
    bad = r["problems"].append
    with fits.open(os.path.join(d, s["name"] + ".fits"), checksum=True) as h:
        hdu = h[1] if s["compression"] else h[0]
        if s["compression"] and not isinstance(hdu, fits.CompImageHDU):
            bad("extension 1 is not a compressed image")
        if s["compression"] and hdu.compression_type != s["compression"]:
            bad(f"compressed with {hdu.compression_type}")
        data = hdu.data
        text = [str(c) for c in hdu.header.cards]
        missing = [c for c in s["cards"] if c not in text]
        if missing:
            bad(f"cards missing: {missing}")
    if data.shape != shape:
        bad(f"shape {data.shape}")
    elif s["quantized"]:
        ours = np.fromfile(os.path.join(d, s["name"] + ".ours"), dtype="<f4").reshape(shape)
        if data.dtype != np.float32:
            bad(f"dtype {data.dtype}")
        if not np.array_equal(data.astype("<f4").view("<u4"), ours.view("<u4")):
            bad(f"astropy and our reader differ on {int((data.astype('<f4').view('<u4') != ours.view('<u4')).sum())} pixels")
        if not np.array_equal(np.isnan(data), np.isnan(src)):
            bad("NaN pixels moved")
        with fits.open(os.path.join(d, s["name"] + ".fits"), disable_image_compression=True) as t:
            zscale = np.repeat(np.asarray(t[1].data["ZSCALE"], dtype=np.float64), t[1].header["ZTILE2"])
        zscale = zscale[: shape[0]]
        err = np.abs(data.astype(np.float64) - src.astype(np.float64))
        tol = zscale[:, None] / 2 + np.abs(data.astype(np.float64)) * 2.0 ** -24
        over = np.nan_to_num(err, nan=0.0) > tol
        if over.any():
            bad(f"{int(over.sum())} pixels beyond half a quantization step")
        for y in s["exactRows"]:
            if zscale[y] != 0 or not np.array_equal(data[y], src[y]):
                bad(f"row {y} not stored exactly")
        r["max_steps"] = float(np.nanmax(err / np.where(zscale > 0, zscale, 1)[:, None]))
    else:
        if data.dtype.kind != src.dtype.kind or data.dtype.itemsize != src.dtype.itemsize:
            bad(f"dtype {data.dtype} for a {src.dtype} source")
        else:
            bits = {1: np.uint8, 2: np.uint16, 4: np.uint32}[src.dtype.itemsize]
            same = data.astype(src.dtype).view(bits) == src.view(bits)
            if not same.all():
                bad(f"{int((~same).sum())} pixels differ bit for bit, first at {np.argwhere(~same)[0].tolist()}")
    res[s["name"]] = r
print(json.dumps(res))
`;

async function fitsverify(file: string): Promise<{ warnings: number; errors: number; text: string }> {
  const res = await runTool("fitsverify", [file], { allowFailure: true });
  const text = res.stdout + res.stderr;
  const m = /Verification found (\d+) warning\(s\) and (\d+) error\(s\)/.exec(text);
  if (!m) throw new Error(`fitsverify gave no summary for ${file}:\n${text}`);
  return { warnings: Number(m[1]), errors: Number(m[2]), text };
}

Deno.test("the round-trip files: astropy reads them bit-exact, fitsverify finds 0 errors and 0 warnings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "write_roundtrip_interop_" });
  try {
    const files = await roundtripFiles();
    const spec = [];
    for (const f of files) {
      await Deno.writeFile(path.join(dir, `${f.name}.fits`), f.bytes);
      const src = f.source;
      await Deno.writeFile(
        path.join(dir, `${f.name}.src`),
        new Uint8Array(src.buffer, src.byteOffset, src.byteLength),
      );
      if (f.quantized) {
        const ours = openImage(f.bytes, { source: f.name }).readRows(0, f.height, "float32");
        await Deno.writeFile(
          path.join(dir, `${f.name}.ours`),
          new Uint8Array(ours.buffer, 0, ours.byteLength),
        );
      }
      spec.push({
        name: f.name,
        width: f.width,
        height: f.height,
        dtype: src instanceof Float32Array ? "<f4" : src instanceof Uint16Array ? "<u2" : "<i2",
        compression: f.compression,
        quantized: f.quantized,
        exactRows: f.exactRows,
        cards: splitCards(f.cards),
      });
    }
    const res = JSON.parse(await runPython(CHECK, [dir, JSON.stringify(spec)]));
    assert.deepEqual(Object.keys(res), files.map((f) => f.name), "astropy checked every file");
    for (const f of files) assert.deepEqual(res[f.name].problems, [], `astropy on ${f.name}`);
    for (const f of files.filter((f) => f.quantized)) {
      const steps = res[f.name].max_steps;
      assert.ok(steps > 0.1 && steps <= 0.5 + 1e-6, `${f.name}: largest error ${steps} steps`);
    }
    for (const f of files) {
      const v = await fitsverify(path.join(dir, `${f.name}.fits`));
      assert.deepEqual([v.errors, v.warnings], [0, 0], `fitsverify ${f.name}:\n${v.text}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
