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
import { runPython } from "./_python.ts";

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
