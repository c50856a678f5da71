/**
 * The inventory against stores written by the reference tools: zarr-python 3 writing the way the Python
 * download tool does (astropy reads the archive file, `create_array` with chunks (min(1024, H),
 * min(1024, W)), zstd level 3, fill value NaN or 0, then `attrs["header"] = header.tostring()`), so with
 * absent all-fill chunks and no completion marker, is reported healthy and complete, shallow and deep; a
 * Zarr format 2 store in the legacy layout written by zarr-python is read; and after the inventory's
 * cleanup zarr-python still opens and reads what is left.
 * @module
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { writeSkycellFiles } from "../../lib/archive/synth.ts";
import { cleanup, inventory } from "../../lib/inventory/mod.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { main } from "../../zarr_inventory.ts";
import { captured } from "../extract/_store.ts";
import { PYTHON_TOOL_WRITE as WRITE, runPython } from "./_python.ts";

const A = "skycell.2556.080";
const B = "skycell.2556.081";
const C = "skycell.2557.001";

// Opens the store with zarr-python after a cleanup and reads every array that is left.
const READ_BACK = String.raw`
import json, sys
import zarr
root = zarr.open_group(sys.argv[1], mode="r")
out = {}
for path, node in root.members(max_depth=None):
    if isinstance(node, zarr.Array):
        data = node[:]
        out[path] = list(data.shape)
print(json.dumps(out, sort_keys=True))
`;

interface Job {
  skycell: string;
  band: string;
  kind: "image" | "mask" | "weight";
  file: string;
  corner_nan: boolean;
}

async function archiveJobs(
  dir: string,
  specs: { skycell: string; bands: string[]; kinds: Job["kind"][]; size: number; cornerNan?: boolean }[],
): Promise<Job[]> {
  const jobs: Job[] = [];
  for (const s of specs) {
    for (const band of s.bands) {
      const { paths } = await writeSkycellFiles(path.join(dir, `archive-${s.size}`), s.skycell, band, {
        size: s.size,
      });
      for (const kind of s.kinds) {
        jobs.push({
          skycell: s.skycell,
          band,
          kind,
          file: paths[kind],
          corner_nan: (s.cornerNan ?? false) && kind !== "mask",
        });
      }
    }
  }
  return jobs;
}

async function writeWithPython(store: string, jobs: Job[], fmt: 2 | 3, layout: "current" | "legacy") {
  await Deno.mkdir(path.dirname(store), { recursive: true });
  const jobFile = `${store}.jobs.json`;
  await Deno.writeTextFile(jobFile, JSON.stringify(jobs));
  assert.equal((await runPython(WRITE, [store, jobFile, String(fmt), layout])).trim(), "ok");
}

const ALL: Job["kind"][] = ["image", "mask", "weight"];

Deno.test("a store written by zarr-python 3 the Python tools' way is healthy and complete, shallow and deep", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_inventory_interop_" });
  try {
    const store = path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr");
    const jobs = [
      // 1100 x 1097 pixels: a 2 x 2 chunk grid, the top-left chunk all NaN in images and weights.
      ...await archiveJobs(dir, [{ skycell: A, bands: ["r"], kinds: ALL, size: 1100, cornerNan: true }]),
      ...await archiveJobs(dir, [{ skycell: A, bands: ["i", "z", "y"], kinds: ALL, size: 200 }]),
      ...await archiveJobs(dir, [{ skycell: B, bands: ["r", "i", "z", "y"], kinds: ALL, size: 200 }]),
    ];
    await writeWithPython(store, jobs, 3, "current");
    for (const deep of [false, true]) {
      const inv = await inventory(store, { deep, workers: 1 });
      assert.deepEqual(inv.summary.skycells, {
        total: 2,
        complete: 2,
        incomplete: 0,
        corrupt: 0,
        unreadable: 0,
        current: 2,
        legacy: 0,
      });
      for (const a of inv.arrays) {
        assert.equal(a.status, "healthy", `${a.path}: ${JSON.stringify(a.problems)}`);
        assert.equal(a.marker, null);
        assert.equal(a.format, 3);
        assert.ok(a.notes.some((n) => /no completion marker/.test(n)));
        assert.equal(a.header?.source, "array");
        assert.deepEqual([a.header?.naxis2, a.header?.naxis1], a.shape);
        assert.equal(a.deep, deep);
      }
      const r = inv.arrays.find((a) => a.skycell === A && a.name === "r")!;
      assert.deepEqual(r.shape, [1097, 1100]);
      assert.deepEqual(r.chunkShape, [1024, 1024]);
      assert.equal(r.chunksExpected, 4);
      assert.equal(r.chunksPresent, 3, "the all-NaN chunk is absent");
      if (deep) assert.equal(r.chunksDecoded, 3);
      assert.equal(inv.summary.temps.count, 0);
      assert.equal(inv.summary.unexpected, 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Zarr format 2 store in the legacy layout written by zarr-python is read, and never removed as incomplete", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_inventory_interop_v2_" });
  try {
    const store = path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr");
    // Old stores: no weights, the header on the skycell group.
    const jobs = await archiveJobs(dir, [
      { skycell: A, bands: ["r", "i", "z", "y"], kinds: ["image", "mask"], size: 200 },
      { skycell: C, bands: ["r"], kinds: ["image", "mask"], size: 1100, cornerNan: true },
    ]);
    await writeWithPython(store, jobs, 2, "legacy");
    const s = await ZarrStore.open(store);
    try {
      const inv = await inventory(s, { deep: true, workers: 1 });
      assert.deepEqual(inv.summary.skycells, {
        total: 2,
        complete: 0,
        incomplete: 2,
        corrupt: 0,
        unreadable: 0,
        current: 0,
        legacy: 2,
      });
      for (const a of inv.arrays.filter((a) => a.exists)) {
        assert.equal(a.status, "healthy", `${a.path}: ${JSON.stringify(a.problems)}`);
        assert.equal(a.format, 2);
        assert.equal(a.header?.source, "group");
        assert.equal(a.deep, true);
      }
      const cr = inv.arrays.find((a) => a.skycell === C && a.name === "r")!;
      assert.equal(cr.path, `projections/2557/${C}/r`);
      assert.equal(cr.chunksPresent, 3);
      assert.deepEqual(inv.skycells.find((x) => x.name === A)!.missing, ["r_wt", "i_wt", "z_wt", "y_wt"]);
      const result = await cleanup(inv, { store: s, categories: ["incomplete"], incomplete: "skycells" });
      assert.equal(result.removed, 0);
      assert.ok(result.items.every((i) => /legacy layout/.test(i.reason)));
    } finally {
      s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("after the inventory's cleanup zarr-python opens the store and reads every array left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_inventory_interop_clean_" });
  try {
    const store = path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr");
    const jobs = await archiveJobs(dir, [
      { skycell: A, bands: ["r", "i", "z", "y"], kinds: ALL, size: 200 },
      { skycell: B, bands: ["r"], kinds: ["image", "mask"], size: 200 },
    ]);
    await writeWithPython(store, jobs, 3, "current");
    // Damage one chunk of A's z image: found by --deep, removed as corrupt.
    const chunk = path.join(store, "2556", A, "z", "c", "0", "0");
    const bytes = await Deno.readFile(chunk);
    await Deno.writeFile(chunk, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const s = await ZarrStore.open(store);
    try {
      const inv = await inventory(s, { deep: true, workers: 1 });
      assert.equal(inv.summary.skycells.corrupt, 1);
      assert.equal(inv.summary.skycells.incomplete, 1);
      const result = await cleanup(inv, {
        store: s,
        categories: ["corrupt", "incomplete"],
        incomplete: "skycells",
      });
      assert.deepEqual(
        result.items.filter((i) => i.action === "removed").map((i) => i.path),
        [`2556/${A}/z`, `2556/${B}`],
      );
    } finally {
      s.close();
    }
    const left = JSON.parse(await runPython(READ_BACK, [store]));
    assert.deepEqual(Object.keys(left), [
      `2556/${A}/i`,
      `2556/${A}/i_mask`,
      `2556/${A}/i_wt`,
      `2556/${A}/r`,
      `2556/${A}/r_mask`,
      `2556/${A}/r_wt`,
      `2556/${A}/y`,
      `2556/${A}/y_mask`,
      `2556/${A}/y_wt`,
      `2556/${A}/z_mask`,
      `2556/${A}/z_wt`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Reads the inventory's CSV reports with Python's csv module, as the Python tool's users do, and checks
// them against the store as zarr-python sees it. Prints a JSON list of problems plus what was read.
const READ_REPORTS = String.raw`
import ast, csv, json, sys
import zarr
store, reports, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
problems = []
bad = problems.append
BOOL = {"True", "False"}
root = zarr.open_group(store, mode="r")

def read(name):
    with open(f"{reports}/{name}", newline="") as f:
        rows = list(csv.reader(f))
    with open(f"{reports}/{name}", newline="") as f:
        reader = csv.DictReader(f)
        dicts = list(reader)
        header = reader.fieldnames
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(rows[0]):
            bad(f"{name} line {i}: {len(r)} fields for {len(rows[0])} columns")
    for d in dicts:
        if None in d or None in d.values():
            bad(f"{name}: row {d.get(header[0])} does not match the header")
    return header, dicts

def literal(name, row, col, kind):
    try:
        v = ast.literal_eval(row[col])
    except Exception as e:
        bad(f"{name} {row[spec_key(name)]} {col}={row[col]!r}: not a Python literal ({e})")
        return None
    if not isinstance(v, kind):
        bad(f"{name} {col}={row[col]!r}: not a {kind.__name__}")
        return None
    return v

def spec_key(name):
    return "skycell_name" if name.startswith("skycell") else "array_name"

out = {"problems": problems}
sh, skycells = read("skycell_inventory_latest.csv")
out["skycell_columns"] = sh
out["skycells"] = {}
expected = spec["expected_arrays"]
for row in skycells:
    name = row["skycell_name"]
    group = root[f"{row['projection_id']}/{name}"]
    members = {k: v for k, v in group.members()}
    for col in ("is_complete", "is_corrupted"):
        if row[col] not in BOOL:
            bad(f"skycell {name} {col}={row[col]!r}")
    counts = {c: int(row[c]) for c in ("arrays_present_count", "arrays_missing_count", "arrays_corrupted_count",
                                        "temp_arrays_count")}
    present = literal("skycell", row, "arrays_present", list) or []
    missing = literal("skycell", row, "arrays_missing", list) or []
    corrupted = literal("skycell", row, "arrays_corrupted", list) or []
    if counts["arrays_present_count"] != len(present) or counts["arrays_missing_count"] != len(missing) or \
            counts["arrays_corrupted_count"] != len(corrupted):
        bad(f"skycell {name}: counts {counts} vs lists {present} {missing} {corrupted}")
    if sorted(missing) != sorted(set(expected) - set(members)):
        bad(f"skycell {name}: arrays_missing {missing}, zarr-python lacks {sorted(set(expected) - set(members))}")
    if sorted(present) != sorted(set(expected) & set(members)):
        bad(f"skycell {name}: arrays_present {present}, zarr-python has {sorted(set(expected) & set(members))}")
    nbytes = sum(members[a].nbytes for a in present)
    if abs(float(row["total_size_mb"]) - nbytes / 2**20) > 1e-9 * max(1, nbytes):
        bad(f"skycell {name}: total_size_mb {row['total_size_mb']} vs zarr-python's {nbytes / 2**20}")
    out["skycells"][name] = {"is_complete": row["is_complete"], "is_corrupted": row["is_corrupted"],
                             "corruption_type": row["corruption_type"], "missing": missing,
                             "corrupted": corrupted}
ah, arrays = read("array_inventory_latest.csv")
out["array_columns"] = ah
out["arrays"] = {}
for row in arrays:
    key = f"{row['skycell_name']}/{row['array_name']}"
    for col in ("exists", "readable", "has_valid_data"):
        if row[col] not in BOOL:
            bad(f"array {key} {col}={row[col]!r}")
    notes = literal("array", row, "corruption_notes", list)
    if notes is not None and not all(isinstance(n, str) for n in notes):
        bad(f"array {key}: corruption_notes {notes!r}")
    if row["exists"] == "True":
        node = root[f"{row['projection_id']}/{row['skycell_name']}/{row['array_name']}"]
        shape = literal("array", row, "shape", tuple)
        if shape != node.shape:
            bad(f"array {key}: shape {row['shape']} vs zarr-python's {node.shape}")
        if row["dtype"] != str(node.dtype):
            bad(f"array {key}: dtype {row['dtype']} vs zarr-python's {node.dtype}")
        if int(row["size_bytes"]) != node.nbytes:
            bad(f"array {key}: size_bytes {row['size_bytes']} vs zarr-python's nbytes {node.nbytes}")
    out["arrays"][key] = {"exists": row["exists"], "readable": row["readable"], "notes": notes}
print(json.dumps(out))
`;

Deno.test("the inventory's CSV reports, read by Python's csv module, have the Python tool's columns and zarr-python's facts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_inventory_interop_csv_" });
  try {
    const store = path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr");
    const reports = path.join(dir, "zarr_inventory");
    const jobs = await archiveJobs(dir, [
      { skycell: A, bands: ["r", "i", "z", "y"], kinds: ALL, size: 200 },
      { skycell: B, bands: ["r"], kinds: ["image", "mask"], size: 200 },
      { skycell: C, bands: ["r", "i", "z", "y"], kinds: ALL, size: 200 },
    ]);
    await writeWithPython(store, jobs, 3, "current");
    // C's z image loses half of its only chunk: corrupt, found by --deep, its notes quoted in the CSV.
    const chunk = path.join(store, "2557", C, "z", "c", "0", "0");
    const bytes = await Deno.readFile(chunk);
    await Deno.writeFile(chunk, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const r = await captured(() =>
      main(["--zarr-path", store, "--output-dir", reports, "--workers", "1", "--deep"])
    );
    assert.equal(r.value, 1, `problems exit 1: ${r.stderr}`);
    const expectedArrays = ["r", "i", "z", "y"].flatMap((b) => [b, `${b}_mask`, `${b}_wt`]);
    const res = JSON.parse(
      await runPython(READ_REPORTS, [store, reports, JSON.stringify({ expected_arrays: expectedArrays })]),
    );
    assert.deepEqual(res.problems, []);
    assert.deepEqual(res.skycell_columns.slice(0, 10), [
      "skycell_name",
      "projection_id",
      "is_complete",
      "is_corrupted",
      "corruption_type",
      "arrays_present_count",
      "arrays_missing_count",
      "arrays_corrupted_count",
      "temp_arrays_count",
      "total_size_mb",
    ]);
    assert.deepEqual(res.array_columns.slice(0, 10), [
      "skycell_name",
      "projection_id",
      "array_name",
      "exists",
      "readable",
      "shape",
      "dtype",
      "size_bytes",
      "has_valid_data",
      "corruption_notes",
    ]);
    // The values as Python reads them: booleans True/False, lists as Python literals (quoted, with commas).
    const skycells = res.skycells as Record<string, { is_complete: string; is_corrupted: string }>;
    const states = Object.fromEntries(
      Object.entries(skycells).map(([k, v]) => [k, [v.is_complete, v.is_corrupted]]),
    );
    assert.deepEqual(states, { [A]: ["True", "False"], [B]: ["False", "False"], [C]: ["False", "True"] });
    assert.deepEqual(res.skycells[B].missing, expectedArrays.filter((n) => n !== "r" && n !== "r_mask"));
    assert.deepEqual(res.skycells[C].corrupted, ["z"]);
    assert.match(res.skycells[C].corruption_type, /^Corrupted arrays: z \(chunk_undecodable\)$/);
    assert.equal(Object.keys(res.arrays).length, 3 * 12, "one row per expected array of each skycell");
    assert.deepEqual(res.arrays[`${C}/z`].readable, "False");
    assert.equal(res.arrays[`${C}/z`].notes.length, 1);
    assert.match(res.arrays[`${C}/z`].notes[0], /c\/0\/0/);
    assert.deepEqual(res.arrays[`${B}/i`], { exists: "False", readable: "False", notes: [] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
