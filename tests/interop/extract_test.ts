/**
 * Extraction checked against the references. Stores are written by zarr-python the way the Python tools
 * write them (Zarr format 3 in the current layout with the header on each array; Zarr format 2 in the
 * legacy `projections/` layout with the header on the skycell group), from archive files decoded by
 * astropy. Then every file zarr_to_fits writes from them (plain, `--compress gzip`, `--compress rice`,
 * cutouts) is read by astropy and compared with the store as zarr-python reads it: bit for bit, except
 * RICE_1 floats, which are quantized: those must agree between astropy and funpack, keep the NaN pixels,
 * and lie within half a quantization step (the tile's ZSCALE) of the store. Every compressed file is also
 * decoded by funpack and compared with the store directly: bit for bit for GZIP_1 and masks, within half
 * of each tile's step for RICE_1 floats. The header cards are the
 * stored header's, parsed by astropy; fitsverify reports no error and no warning for any file; and a
 * cutout's WCS (astropy.wcs) maps every pixel to the same sky position as the full image. A store
 * without header attributes still gives valid files.
 * A missing Python interpreter fails these tests; nothing is skipped.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { writeSkycellFiles } from "../../lib/archive/synth.ts";
import { main } from "../../zarr_to_fits.ts";
import { captured } from "../extract/_store.ts";
import { runPython, runTool } from "./_python.ts";

const SKYCELL = "skycell.2556.000"; // a corner skycell: its blank corner leaves all-NaN chunks unwritten
const BAND = "r";

const BUILD = `
import json, sys
import numpy as np, numcodecs, zarr
from astropy.io import fits
from zarr.codecs import ZstdCodec
cfg = json.loads(sys.argv[1])
sk, band = cfg["skycell"], cfg["band"]
proj = sk.split(".")[1]
names = {"image": band, "mask": band + "_mask", "weight": band + "_wt"}
arrays = {}
for kind, path in cfg["files"].items():
    with fits.open(path) as hdul:
        hdu = hdul[1]
        data = hdu.data.astype(np.uint16 if kind == "mask" else np.float32)
        arrays[kind] = (data, hdu.header.tostring())
# As the download tool: current layout, Zarr format 3, bytes + zstd level 3, the header on every array.
root = zarr.open_group(cfg["v3"], mode="w", zarr_format=3)
g = root.require_group(proj).require_group(sk)
for kind, (data, header) in arrays.items():
    a = g.create_array(names[kind], shape=data.shape, dtype=data.dtype, chunks=(64, 64),
                       compressors=ZstdCodec(level=3), fill_value=0 if kind == "mask" else np.nan)
    a[:] = data
    a.attrs["header"] = header
# As old stores: legacy layout, Zarr format 2, one header on the skycell group, no weights.
root2 = zarr.open_group(cfg["v2"], mode="w", zarr_format=2)
g2 = root2.require_group("projections").require_group(proj).require_group(sk)
g2.attrs["header"] = arrays["image"][1]
for kind in ("image", "mask"):
    data = arrays[kind][0]
    a = g2.create_array(names[kind], shape=data.shape, dtype=data.dtype, chunks=(100, 120),
                        compressors=numcodecs.Zstd(level=3), fill_value=0 if kind == "mask" else np.nan)
    a[:] = data
# A store without header attributes.
root3 = zarr.open_group(cfg["noheader"], mode="w", zarr_format=3)
g3 = root3.require_group(proj).require_group(sk)
for kind in ("image", "mask"):
    data = arrays[kind][0]
    a = g3.create_array(names[kind], shape=data.shape, dtype=data.dtype, chunks=(128, 128),
                        compressors=ZstdCodec(level=3), fill_value=0 if kind == "mask" else np.nan)
    a[:] = data
a = zarr.open_array(cfg["v3"], path=proj + "/" + sk + "/" + band, mode="r")
print(json.dumps({"chunks_written": a.nchunks_initialized, "chunks": a.nchunks}))
`;

const VERIFY = `
import json, sys, warnings
import numpy as np, zarr
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
warnings.simplefilter("ignore", FITSFixedWarning)  # the old PC001001 keywords are translated, as expected
STRUCTURAL = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "EXTEND",
              "CHECKSUM", "DATASUM", "BSCALE", "BZERO", "BLANK"}
def cards(header):
    return [(c.keyword, c.value, c.comment) for c in header.cards if c.keyword not in STRUCTURAL]
out = []
for c in json.loads(open(sys.argv[1]).read()):
    res = {"file": c["file"], "problems": []}
    bad = res["problems"].append
    node = zarr.open_array(c["store"], path=c["array"], mode="r")
    z = node[...]
    stored = node.attrs.get("header")
    if stored is None:
        group = zarr.open_group(c["store"], path=c["array"].rsplit("/", 1)[0], mode="r")
        stored = group.attrs.get("header", "END".ljust(80))
    r = c["region"]
    if r:
        z = z[r["y0"]:r["y1"], r["x0"]:r["x1"]]
    with fits.open(c["file"]) as hdul:
        if c["compress"]:
            if len(hdul) != 2 or hdul[0].header["NAXIS"] != 0 or not isinstance(hdul[1], fits.CompImageHDU):
                bad("not an empty primary HDU plus a compressed image extension")
            hdu = hdul[1]
        else:
            if len(hdul) != 1:
                bad(f"{len(hdul)} HDUs")
            hdu = hdul[0]
        data = hdu.data
        header = hdu.header
        if data.shape != z.shape:
            bad(f"shape {data.shape} vs store {z.shape}")
        elif c["kind"] == "mask":
            if data.dtype.kind != "u" or data.dtype.itemsize != 2:
                bad(f"mask dtype {data.dtype}")
            if not np.array_equal(data, z):
                bad("mask pixels differ from the store")
        elif c["compress"] == "rice":
            with fits.open(c["funpacked"]) as fu:
                # funpack keeps the layout: the image is in extension 1.
                ref = fu[1].data
            if not np.array_equal(data, ref, equal_nan=True):
                bad(f"astropy and funpack disagree on {int((data != ref).sum())} pixels")
            with fits.open(c["file"], disable_image_compression=True) as raw:
                zscale = np.asarray(raw[1].data["ZSCALE"], dtype=np.float64)
            if len(zscale) != z.shape[0]:
                bad("expected one tile per row")
            if not np.array_equal(np.isnan(data), np.isnan(z)):
                bad("NaN pixels moved")
            err = np.abs(data.astype(np.float64) - z.astype(np.float64))
            tol = (zscale / 2 * (1 + 1e-6))[:, None]
            over = np.nan_to_num(err, nan=0.0) > tol
            if over.any():
                bad(f"{int(over.sum())} pixels beyond half a quantization step")
            res["max_steps"] = float(np.nanmax(err / np.where(zscale > 0, zscale, 1)[:, None]))
        else:
            if data.dtype.kind != "f" or data.dtype.itemsize != 4:
                bad(f"dtype {data.dtype}")
            if not np.array_equal(data.astype("<f4").view("<u4"), z.astype("<f4").view("<u4")):
                bad("float pixels differ from the store bit for bit")
        if c["compress"]:
            # funpack (cfitsio) decodes the file on its own, compared with the store directly: bit for bit
            # for GZIP_1 and for masks, within half of the tile's step (its ZSCALE, plus the float32
            # rounding of the decoded value) for RICE_1 floats.
            with fits.open(c["funpacked"]) as fu:
                if len(fu) != 2 or fu[0].header["NAXIS"] != 0:
                    bad(f"funpack gave {len(fu)} HDUs")
                ref = fu[1].data
            if ref.shape != z.shape:
                bad(f"funpack shape {ref.shape} vs store {z.shape}")
            elif c["kind"] == "mask" or c["compress"] == "gzip":
                bits = np.uint16 if c["kind"] == "mask" else np.uint32
                if ref.dtype.kind != z.dtype.kind or ref.dtype.itemsize != z.dtype.itemsize:
                    bad(f"funpack dtype {ref.dtype} vs store {z.dtype}")
                elif not np.array_equal(ref.astype(z.dtype.newbyteorder("<")).view(bits),
                                        z.astype(z.dtype.newbyteorder("<")).view(bits)):
                    bad("funpack's pixels differ from the store bit for bit")
                else:
                    res["funpack"] = "exact"
            else:
                with fits.open(c["file"], disable_image_compression=True) as raw:
                    tile_rows = raw[1].header["ZTILE2"]
                    zscale = np.repeat(np.asarray(raw[1].data["ZSCALE"], dtype=np.float64), tile_rows)
                zscale = zscale[: z.shape[0]]
                if not np.array_equal(np.isnan(ref), np.isnan(z)):
                    bad("funpack: NaN pixels moved")
                err = np.abs(ref.astype(np.float64) - z.astype(np.float64))
                tol = zscale[:, None] / 2 + np.abs(ref.astype(np.float64)) * 2.0 ** -24
                over = np.nan_to_num(err, nan=0.0) > tol
                if over.any():
                    bad(f"funpack: {int(over.sum())} pixels beyond half a quantization step of the store")
                else:
                    res["funpack"] = "half-step"
                    res["funpack_max_steps"] = float(np.nanmax(err / np.where(zscale > 0, zscale, 1)[:, None]))
        expected = fits.Header.fromstring(stored)
        ours = cards(header)
        if r:
            want = [t for t in cards(expected) if t[0] not in ("CRPIX1", "CRPIX2")]
            for k, off in (("CRPIX1", r["x0"]), ("CRPIX2", r["y0"])):
                if header[k] != expected[k] - off:
                    bad(f"{k} {header[k]} vs {expected[k]} - {off}")
            ours = [t for t in ours if t[0] not in ("CRPIX1", "CRPIX2")]
            # The stored cards, then the HISTORY cards the cutout added.
            added = ours[len(want):]
            ours = ours[:len(want)]
            history = " ".join(v for k, v, _ in added if k == "HISTORY")
            if len(added) == 0 or any(k != "HISTORY" for k, _, _ in added) or \
                    "cutout x %d:%d, y %d:%d" % (r["x0"], r["x1"], r["y0"], r["y1"]) not in history:
                bad(f"no cutout HISTORY: {added}")
            full, cut = WCS(expected), WCS(header)
            ys, xs = np.mgrid[0:z.shape[0]:7, 0:z.shape[1]:5]
            a = np.array(full.all_pix2world(xs.ravel() + r["x0"], ys.ravel() + r["y0"], 0))
            b = np.array(cut.all_pix2world(xs.ravel(), ys.ravel(), 0))
            res["wcs_max_deg"] = float(np.abs(a - b).max())
            res["wcs_points"] = int(xs.size)
        else:
            want = cards(expected)
        res["cards"] = len(want)
        if ours != want:
            diff = [(i, x, y) for i, (x, y) in enumerate(zip(ours, want)) if x != y][:3]
            bad(f"cards differ ({len(ours)} vs {len(want)}): {diff}")
    out.append(res)
print(json.dumps(out))
`;

async function fitsverify(file: string): Promise<{ warnings: number; errors: number; text: string }> {
  const res = await runTool("fitsverify", [file], { allowFailure: true });
  const text = res.stdout + res.stderr;
  const m = /Verification found (\d+) warning\(s\) and (\d+) error\(s\)/.exec(text);
  if (!m) throw new Error(`fitsverify gave no summary for ${file}:\n${text}`);
  return { warnings: Number(m[1]), errors: Number(m[2]), text };
}

interface Case {
  file: string;
  store: string;
  array: string;
  kind: "image" | "mask" | "weight";
  compress: "rice" | "gzip" | null;
  region: { x0: number; x1: number; y0: number; y1: number } | null;
  funpacked?: string;
}

async function extract(c: Case, skycellArgs: string[]): Promise<void> {
  const args = ["--zarr-path", c.store, ...skycellArgs, "--output", c.file];
  if (c.kind !== "image") args.push(c.kind === "mask" ? "--mask" : "--weight");
  if (c.compress) args.push("--compress", c.compress);
  if (c.region) args.push("--region", `${c.region.x0}:${c.region.x1},${c.region.y0}:${c.region.y1}`);
  const r = await captured(() => main(args));
  assert.equal(r.value, 0, `zarr_to_fits ${args.join(" ")}: ${r.stderr}`);
  assert.match(r.stdout, /^✓ /);
}

Deno.test("files extracted from zarr-python stores match astropy, funpack and fitsverify", async () => {
  const dir = await Deno.makeTempDir({ prefix: "extract_interop_" });
  try {
    const { paths } = await writeSkycellFiles(path.join(dir, "archive"), SKYCELL, BAND, { size: 300 });
    const v3 = path.join(dir, "v3.zarr");
    const v2 = path.join(dir, "v2.zarr");
    const noheader = path.join(dir, "noheader.zarr");
    const built = JSON.parse(
      await runPython(BUILD, [
        JSON.stringify({ skycell: SKYCELL, band: BAND, files: paths, v3, v2, noheader }),
      ]),
    );
    assert.ok(
      built.chunks_written < built.chunks,
      `an all-NaN chunk is left unwritten: ${JSON.stringify(built)}`,
    );

    const cut = { x0: 37, x1: 211, y0: 58, y1: 190 };
    const cases: Case[] = [];
    const names = { image: BAND, mask: `${BAND}_mask`, weight: `${BAND}_wt` };
    for (const kind of ["image", "mask", "weight"] as const) {
      for (const compress of [null, "gzip", "rice"] as const) {
        cases.push({
          file: path.join(dir, "out", `v3_${kind}_${compress ?? "plain"}.fits`),
          store: v3,
          array: `2556/${SKYCELL}/${names[kind]}`,
          kind,
          compress,
          region: null,
        });
      }
      cases.push({
        file: path.join(dir, "out", `v3_${kind}_cut.fits`),
        store: v3,
        array: `2556/${SKYCELL}/${names[kind]}`,
        kind,
        compress: kind === "weight" ? "rice" : kind === "mask" ? "gzip" : null,
        region: cut,
      });
    }
    for (const kind of ["image", "mask"] as const) {
      for (const region of [null, cut]) {
        cases.push({
          file: path.join(dir, "out", `v2_${kind}_${region ? "cut" : "full"}.fits`),
          store: v2,
          array: `projections/2556/${SKYCELL}/${names[kind]}`,
          kind,
          compress: null,
          region,
        });
      }
    }
    // Without a header attribute: still a valid file (mandatory keywords only; a warning is printed).
    for (const kind of ["image", "mask"] as const) {
      cases.push({
        file: path.join(dir, "out", `noheader_${kind}.fits`),
        store: noheader,
        array: `2556/${SKYCELL}/${names[kind]}`,
        kind,
        compress: null,
        region: null,
      });
    }
    for (const c of cases) {
      await extract(c, ["--skycell", SKYCELL, "--band", BAND]);
      if (c.compress) {
        c.funpacked = c.file.replace(/\.fits$/, ".funpack.fits");
        await runTool("funpack", ["-O", c.funpacked, c.file]);
      }
    }
    for (const c of cases) {
      const v = await fitsverify(c.file);
      assert.equal(v.errors + v.warnings, 0, `fitsverify ${c.file}:\n${v.text}`);
    }
    const casesFile = path.join(dir, "cases.json");
    await Deno.writeTextFile(casesFile, JSON.stringify(cases));
    const results = JSON.parse(await runPython(VERIFY, [casesFile]));
    assert.equal(results.length, cases.length);
    for (const r of results) {
      assert.deepEqual(r.problems, [], r.file);
      if (!r.file.includes("noheader")) {
        assert.ok(r.cards > 25, `${r.file}: ${r.cards} header cards compared`);
      }
    }
    const cutouts = results.filter((r: { wcs_max_deg?: number }) => r.wcs_max_deg !== undefined);
    assert.equal(cutouts.length, 5);
    for (const r of cutouts) {
      assert.ok(r.wcs_points > 500);
      assert.ok(r.wcs_max_deg < 1e-10, `${r.file}: cutout WCS off by ${r.wcs_max_deg} deg`);
    }
    // Every compressed file went through funpack: the lossless ones bit for bit, the quantized ones within
    // half a step, and some pixel of those really is off by a visible fraction of a step.
    const compressed = cases.filter((c) => c.compress);
    const funpacked = results.filter((r: { funpack?: string }) => r.funpack !== undefined);
    assert.equal(funpacked.length, compressed.length, "every compressed file decoded by funpack");
    const lossless = compressed.filter((c) => c.compress === "gzip" || c.kind === "mask").map((c) => c.file);
    assert.deepEqual(
      funpacked.filter((r: { funpack: string }) => r.funpack === "exact").map((r: { file: string }) =>
        r.file
      ),
      lossless,
    );
    for (const r of funpacked.filter((r: { funpack: string }) => r.funpack === "half-step")) {
      assert.ok(
        r.funpack_max_steps > 0.1 && r.funpack_max_steps <= 0.5 + 1e-6,
        `${r.file}: ${r.funpack_max_steps}`,
      );
    }
    const rice = results.filter((r: { max_steps?: number }) => r.max_steps !== undefined);
    assert.equal(rice.length, 3, "rice float files checked against funpack and ZSCALE");
    for (const r of rice) {
      assert.ok(r.max_steps > 0 && r.max_steps <= 0.5 + 1e-6, `${r.file}: ${r.max_steps}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
