/**
 * The download job against the references: a store that `downloadAndStorePs1Data` filled from the local
 * archive is opened by zarr-python 3, and every array equals what the Python tools would have stored for the
 * same source file: astropy's `hdu.data` cast to float32 (uint16 for masks), and `hdu.header.tostring()`
 * byte for byte, with `hdu = hdul[1] if len(hdul) > 1 else hdul[0]`.
 * @module
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { downloadAndStorePs1Data } from "../../download_and_store_zarr.ts";
import { makeArchive } from "../ingest/_setup.ts";
import { PYTHON_TOOL_WRITE, pythonPath, repoRoot, runPython } from "./_python.ts";
import { localPath } from "../../lib/ps1/urls.ts";

const CHECK = `
import json, sys
import numpy as np
import zarr
from astropy.io import fits
store, archive, skycells, bands = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
root = zarr.open_group(store, mode="r")
checked = 0
problems = []
for name in skycells:
    proj, cell = name.split(".")[1], name.split(".")[2]
    for band in bands:
        for suffix, file_suffix, dtype in (("", "", np.float32), ("_mask", ".mask", np.uint16), ("_wt", ".wt", np.float32)):
            arr = root[f"{proj}/{name}/{band}{suffix}"]
            src = f"{archive}/{proj}/{cell}/rings.v3.skycell.{proj}.{cell}.stk.{band}.unconv{file_suffix}.fits"
            with fits.open(src) as hdul:
                hdu = hdul[1] if len(hdul) > 1 else hdul[0]
                data = hdu.data.astype(dtype)
                header = hdu.header.tostring()
            got = arr[:]
            where = f"{name} {band}{suffix}"
            if got.dtype != dtype or got.shape != data.shape:
                problems.append(f"{where}: {got.dtype} {got.shape} vs {data.dtype} {data.shape}")
            elif not np.array_equal(got, data, equal_nan=(dtype == np.float32)):
                problems.append(f"{where}: pixels differ from astropy's")
            if arr.attrs["header"] != header:
                problems.append(f"{where}: header differs from astropy's hdu.header.tostring()")
            checked += 1
print(json.dumps({"checked": checked, "problems": problems}))
`;

Deno.test("zarr-python reads a downloaded store; every array equals astropy's data and header of its source", async () => {
  const a = await makeArchive({ size: 1100 });
  try {
    const bands = ["r", "i", "z", "y"];
    const r = await downloadAndStorePs1Data({ zarrOutputDir: a.outputDir, archiveUrl: a.server.url, bands });
    assert.equal(r.status, "completed", r.message);
    const out = JSON.parse(
      await runPython(CHECK, [a.storePath, a.archiveDir, JSON.stringify(a.skycells), JSON.stringify(bands)]),
    );
    assert.deepEqual(out.problems, []);
    assert.equal(out.checked, a.skycells.length * bands.length * 3);
    assert.ok(path.isAbsolute(r.zarrPath));
  } finally {
    await a.close();
  }
});

// The few lines of the pipeline that read the port's result dict, reproduced from their meaning: the
// stage is complete when every expected skycell was produced; its manifest maps each produced skycell to
// its group path in the store, which must open in zarr-python with all twelve arrays.
const MANIFEST = `
import json, sys
import zarr
result = json.loads(sys.stdin.read())
root = zarr.open_group(result["zarr_path"], mode="r")
manifest = {
    "complete": result["produced_count"] == result["expected_count"],
    "skycells_found": result["skycells_found"],
    "unique_images": result["unique_images"],
    "skycells": dict(zip(result["produced_skycells"], result["artifacts"])),
}
arrays = {}
for skycell, group_path in manifest["skycells"].items():
    group = root[group_path]
    arrays[skycell] = sorted(name for name, _ in group.arrays())
manifest["arrays"] = arrays
print(json.dumps(manifest))
`;

Deno.test("the --json result feeds the pipeline's manifest logic as the port's dict does", async () => {
  const a = await makeArchive({
    faults: { rules: [{ match: "2556/080/*.stk.y.unconv.wt.fits", fault: { kind: "status", status: 500 } }] },
  });
  try {
    const script = path.join(repoRoot, "download_and_store_zarr.ts");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        script,
        "20",
        "3",
        "3",
        "--zarr-output-dir",
        a.outputDir,
        "--archive-url",
        a.server.url,
        "--retries",
        "1",
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1, new TextDecoder().decode(out.stderr));
    const python = new Deno.Command(pythonPath(), {
      args: ["-c", MANIFEST],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    const writer = python.stdin.getWriter();
    await writer.write(out.stdout);
    await writer.close();
    const done = await python.output();
    assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
    const manifest = JSON.parse(new TextDecoder().decode(done.stdout));
    assert.equal(manifest.complete, false);
    assert.equal(manifest.skycells_found, 3);
    assert.equal(manifest.unique_images, 6);
    const produced = a.skycells.filter((s) => s !== "skycell.2556.080");
    assert.deepEqual(Object.keys(manifest.skycells).sort(), produced);
    const twelve = [
      "i",
      "i_mask",
      "i_wt",
      "r",
      "r_mask",
      "r_wt",
      "y",
      "y_mask",
      "y_wt",
      "z",
      "z_mask",
      "z_wt",
    ];
    for (const s of produced) assert.deepEqual(manifest.arrays[s], twelve, s);
  } finally {
    await a.close();
  }
});

Deno.test("a store the Python tools wrote is resumed: its complete arrays are kept, only the missing are fetched", async () => {
  const a = await makeArchive();
  try {
    const bands = ["r", "i"];
    // zarr-python writes every array of the first skycells as the Python download tool does (no marker),
    // leaving the last skycell's r image for us.
    const jobs = a.skycells.flatMap((skycell) =>
      bands.flatMap((band) =>
        (["image", "mask", "weight"] as const).map((kind) => ({
          skycell,
          band,
          kind,
          file: localPath(a.archiveDir, skycell, band, kind),
          corner_nan: false,
        }))
      )
    ).filter((j) => !(j.skycell === a.skycells.at(-1) && j.band === "r" && j.kind === "image"));
    const jobFile = path.join(a.dataDir, "jobs.json");
    await Deno.writeTextFile(jobFile, JSON.stringify(jobs));
    assert.equal((await runPython(PYTHON_TOOL_WRITE, [a.storePath, jobFile, "3", "current"])).trim(), "ok");
    const r = await downloadAndStorePs1Data({ zarrOutputDir: a.outputDir, archiveUrl: a.server.url, bands });
    assert.equal(r.status, "completed", r.message);
    assert.equal(r.stats.arraysSkipped, jobs.length, "the Python-written arrays are complete");
    assert.equal(r.stats.arraysWritten, 1);
    assert.equal(a.server.stats().requests, 1);
  } finally {
    await a.close();
  }
});
