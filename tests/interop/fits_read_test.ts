/**
 * FITS reading against the references: regenerates the fixtures (astropy + fpack) into a temporary
 * directory, including one full PS1-size 6300 x 6300 int16 RICE_1 image, and compares our decode with
 * astropy's and funpack's pixels and our store header with astropy's `hdu.header.tostring()`.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { decodeFixture, pixelDigest, readManifest } from "../fits/_fixtures.ts";

// tests/interop/_python.ts imports `fromFileUrl` from node:url, which does not exist, so the few helpers
// needed here are local.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const python = Deno.env.get("PS1_PYTHON") ?? path.join(repoRoot, ".cache", "venv", "bin", "python");

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; text: string; stdout: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  return { ok: out.success, stdout, text: stdout + new TextDecoder().decode(out.stderr) };
}

async function runPython(source: string, args: string[]): Promise<string> {
  const r = await run(python, ["-c", source, ...args]);
  if (!r.ok) throw new Error(`python failed: ${r.text}`);
  return r.stdout;
}

// funpack each compressed case and take its pixels through astropy (a plain image: no decompression code).
const FUNPACK_DIGESTS = `
import hashlib, json, os, subprocess, sys
import numpy as np
from astropy.io import fits
d = sys.argv[1]
out = {}
for c in json.load(open(os.path.join(d, "manifest.json"))):
    src = os.path.join(d, c["file"])
    with fits.open(src) as h:
        if len(h) < 2:
            continue
    dst = os.path.join(d, "_fp_" + c["file"])
    subprocess.run(["funpack", "-O", dst, src], check=True)
    zblank = fits.getheader(src, 1, disable_image_compression=True).get("ZBLANK")
    if zblank is not None and fits.getheader(dst).get("BITPIX", 0) > 0:
        # funpack does not carry a ZBLANK keyword over to BLANK; the stored integers are what is compared.
        fits.setval(dst, "BLANK", value=zblank)
    a = fits.getdata(dst).astype(np.float32 if c["type"] == "float32" else np.uint16)
    os.remove(dst)
    if a.dtype == np.float32:
        a = a.copy(); a[np.isnan(a)] = np.float32("nan"); a = a.astype("<f4")
    else:
        a = a.astype("<u2")
    out[c["name"]] = hashlib.sha256(a.tobytes()).hexdigest()
print(json.dumps(out))
`;

Deno.test({
  name: "decode and store header match astropy and funpack on regenerated fixtures (incl. 6300 x 6300)",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "fits_read_" });
    try {
      await runPython(
        Deno.readTextFileSync(path.join(repoRoot, "tests/fixtures/generate_fits_fixtures.py")),
        [
          dir,
          "--full",
        ],
      );
      const funpack: Record<string, string> = JSON.parse(await runPython(FUNPACK_DIGESTS, [dir]));
      const cases = readManifest(dir);
      assert.ok(cases.some((c) => c.name === "full_ps1_image_rice"));
      let compared = 0;
      for (const c of cases) {
        const band = c.name.startsWith("full_") ? 1024 : 37;
        const t0 = performance.now();
        const { pixels, header } = decodeFixture(dir, c, band);
        const ms = performance.now() - t0;
        if (c.name.startsWith("full_")) {
          console.log(`  ${c.name}: decoded ${c.width}x${c.height} in ${ms.toFixed(0)} ms`);
        }
        const digest = pixelDigest(pixels);
        assert.equal(digest, c.sha256, `${c.name}: pixels differ from the reference (${c.note})`);
        assert.equal(
          header,
          Deno.readTextFileSync(path.join(dir, c.header)),
          `${c.name}: header differs from astropy`,
        );
        if (c.type === "float32" && c.name.includes("tiles2d") && c.name.startsWith("float")) {
          // cfitsio mishandles NaN in 2-D-tiled float files (funpack moves the NaN pixels), so this case is
          // checked against the original image: same NaN pixels (fpack stores infinities as NaN), and
          // values within the quantization error.
          const orig = decodeFixture(dir, { ...c, file: "plain_float32.fits" }).pixels as Float32Array;
          const ours = pixels as Float32Array;
          let maxErr = 0;
          for (let i = 0; i < orig.length; i++) {
            assert.equal(Number.isNaN(ours[i]), !Number.isFinite(orig[i]), `${c.name}: NaN at pixel ${i}`);
            if (Number.isFinite(orig[i])) maxErr = Math.max(maxErr, Math.abs(ours[i] - orig[i]));
          }
          assert.ok(maxErr < 0.5, `${c.name}: max error ${maxErr} against the original`);
          assert.notEqual(funpack[c.name], undefined);
        } else if (funpack[c.name]) {
          assert.equal(digest, funpack[c.name], `${c.name}: pixels differ from funpack`);
          compared++;
        }
      }
      assert.ok(compared >= 15, `only ${compared} cases compared with funpack`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("reference tools are installed (a missing tool is a failure)", async () => {
  assert.match((await run("funpack", ["-V"])).text, /CFITSIO/);
  assert.match((await run("fpack", ["-V"])).text, /CFITSIO/);
});
