/**
 * Access to the Python reference environment (zarr-python 3, astropy, numpy) for the
 * interoperability suite. `.ci/run` builds it under `.cache/venv` and exports `PS1_PYTHON`.
 * A missing interpreter is a test failure, never a skip.
 * @module
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as path from "node:path";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Path of the reference Python interpreter (`PS1_PYTHON`, else `.cache/venv/bin/python`). */
export function pythonPath(): string {
  const fromEnv = Deno.env.get("PS1_PYTHON");
  if (fromEnv) return fromEnv;
  const venv = path.join(REPO_ROOT, ".cache", "venv", "bin", "python");
  if (existsSync(venv)) return venv;
  throw new Error(
    "reference Python not found: set PS1_PYTHON or create .cache/venv (bash .ci/run does both)",
  );
}

/** Runs a Python script (source text) with arguments; returns stdout, throws with stderr on failure. */
export async function runPython(source: string, args: string[] = []): Promise<string> {
  const out = await new Deno.Command(pythonPath(), {
    args: ["-c", source, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`python failed (exit ${out.code}):\n${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Runs a command-line tool (funpack, fpack, fitsverify, zstd); returns its output, throws on failure. */
export async function runTool(
  cmd: string,
  args: string[],
  opts: { allowFailure?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const res = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (!out.success && !opts.allowFailure) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${res.stderr}${res.stdout}`);
  }
  return res;
}

/** Absolute path of the repository root. */
export const repoRoot: string = REPO_ROOT;

// Writes skycells the way the Python download tool does. Arguments: the store, the JSON job list
// [{skycell, band, kind, file, corner_nan}], the Zarr format and the layout ("current" or "legacy").
export const PYTHON_TOOL_WRITE: string = String.raw`
import json, sys
import numpy as np, zarr
from astropy.io import fits
from zarr.codecs import ZstdCodec
import numcodecs
store, jobs, fmt, layout = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3]), sys.argv[4]
root = zarr.open_group(store, mode="a", zarr_format=fmt)
for job in jobs:
    sky = job["skycell"]
    parent = f"projections/{sky[8:12]}/{sky}" if layout == "legacy" else f"{sky[8:12]}/{sky}"
    group = root.require_group(parent)
    with fits.open(job["file"]) as hdul:
        hdu = hdul[1] if len(hdul) > 1 else hdul[0]
        data = hdu.data.astype(np.uint16 if job["kind"] == "mask" else np.float32)
        header = hdu.header.tostring()
    if job["corner_nan"]:
        data[:1024, :1024] = np.nan  # a whole chunk of fill value: zarr-python does not store it
    h, w = data.shape
    name = job["band"] + {"image": "", "mask": "_mask", "weight": "_wt"}[job["kind"]]
    if fmt == 3:
        compressors = ZstdCodec(level=3)
    else:
        compressors = numcodecs.Zstd(level=3)
    arr = group.create_array(name, shape=data.shape, chunks=(min(1024, h), min(1024, w)), dtype=data.dtype,
                             compressors=compressors, fill_value=0 if job["kind"] == "mask" else np.nan,
                             overwrite=True)
    arr[:] = data
    if layout == "legacy":
        group.attrs["header"] = header  # old stores kept the header on the skycell group
    else:
        arr.attrs["header"] = header
print("ok")
`;
