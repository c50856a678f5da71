import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { demoConfig, mappingCsvText } from "../../lib/archive/synth.ts";
import { parseCsv } from "../../lib/ps1/csv.ts";
import { mappingCsvPaths } from "../../lib/ps1/mapping.ts";
import { skycellGroupPath } from "../../lib/store/layout.ts";
import { main, parseInventoryArgs } from "../../zarr_inventory.ts";
import { editMetadata, makeStore, tempDir, treeSnapshot, writeSkycell } from "./_store.ts";
import { captured } from "../extract/_store.ts";

const SCRIPT = fileURLToPath(new URL("../../zarr_inventory.ts", import.meta.url));
const A = "skycell.2556.080";
const B = "skycell.2556.081";
const PYTHON_SKYCELL_COLUMNS = [
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
];
const PYTHON_ARRAY_COLUMNS = [
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
];

/** Runs `main` in this process, capturing what it prints. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { value: code, stdout, stderr } = await captured(() => main(args));
  return { code, stdout, stderr };
}

/** A data root `{dir}/data` with a store of `skycells` in `data/ps1_skycells_zarr/ps1_skycells.zarr`. */
async function withData(
  skycells: string[],
  fn: (ctx: { data: string; storePath: string; reports: string; flags: string[] }) => Promise<void>,
): Promise<void> {
  const { dir, remove } = await tempDir();
  const data = path.join(dir, "data");
  const store = await makeStore(data, skycells);
  store.close();
  const storePath = store.root;
  const reports = path.join(data, "zarr_inventory");
  try {
    await fn({
      data,
      storePath,
      reports,
      flags: ["--zarr-path", storePath, "--output-dir", reports, "--workers", "1"],
    });
  } finally {
    await remove();
  }
}

function readCsv(file: string): { header: string[]; rows: Record<string, string>[] } {
  const t = parseCsv(Deno.readTextFileSync(file));
  return {
    header: t.header,
    rows: t.records.map((r) => Object.fromEntries(t.header.map((h, i) => [h, r.fields[i]]))),
  };
}

Deno.test("--help prints the usage with examples and exits 0", async () => {
  const r = await run(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: /);
  assert.match(r.stdout, /Examples:/);
  assert.match(r.stdout, /--cleanup-incomplete\[=empty\|skycells\]/);
  assert.equal((await run(["-h"])).code, 0);
});

Deno.test("bad usage exits 2 with one line naming the problem", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /bogus/],
    [["--dry-run"], /--dry-run needs a cleanup flag/],
    [["--sector", "20"], /--sector, --camera and --ccd go together/],
    [["--expected"], /--expected needs --skycells-csv or --sector/],
    [["--cleanup-incomplete=all"], /--cleanup-incomplete: expected empty or skycells, got "all"/],
    [["--workers", "0"], /--workers: expected an integer/],
    [["--skycells-csv", "x.csv", "--sector", "1", "--camera", "1", "--ccd", "1"], /not both/],
    [["--zarr-path"], /zarr-path/],
    [["extra"], /unexpected argument "extra"/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stderr.split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^zarr_inventory: error: /);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }
});

Deno.test("flags: --cleanup-all sets the three categories, --cleanup-incomplete=skycells the whole-skycell rule", () => {
  const all = parseInventoryArgs(["--cleanup-all"]);
  assert.deepEqual(all.categories, ["temp", "corrupt", "incomplete"]);
  assert.equal(all.incompleteMode, "empty");
  assert.equal(all.zarrPath, "data/ps1_skycells_zarr/ps1_skycells.zarr");
  assert.equal(all.outputDir, "data/zarr_inventory");
  assert.deepEqual(all.inventory.bands, ["r", "i", "z", "y"]);
  const some = parseInventoryArgs(["--cleanup-incomplete=skycells", "--bands", "g,r", "--deep"]);
  assert.deepEqual(some.categories, ["incomplete"]);
  assert.equal(some.incompleteMode, "skycells");
  assert.deepEqual(some.inventory.bands, ["g", "r"]);
  assert.equal(some.inventory.deep, true);
  assert.deepEqual(parseInventoryArgs(["--sector", "20", "--camera", "3", "--ccd", "3"]).inventory.expected, {
    sector: 20,
    camera: 3,
    ccd: 3,
  });
});

Deno.test("a store that does not exist, or an unknown band, exits 2 with one line", async () => {
  const { dir, remove } = await tempDir();
  try {
    const r = await run(["--zarr-path", path.join(dir, "nope.zarr"), "--output-dir", dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^zarr_inventory: error: .*nope\.zarr: not a Zarr store \(does not exist\)$/);
    await makeStore(dir, []).then((s) => s.close());
    const store = path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr");
    const bands = await run(["--zarr-path", store, "--output-dir", dir, "--bands", "r,q"]);
    assert.equal(bands.code, 2);
    assert.match(bands.stderr, /unknown PS1 band "q"/);
  } finally {
    await remove();
  }
});

Deno.test("a healthy store exits 0 and writes the reports with the Python tool's names and columns first", async () => {
  await withData([A, B], async ({ reports, flags }) => {
    const r = await run(flags);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Skycells: 2 = 2 complete \+ 0 incomplete \+ 0 corrupt/);
    assert.match(r.stdout, /compression ratio \d+\.\d\d/);
    assert.match(r.stdout, /Complete per band: r 2\/2, i 2\/2, z 2\/2, y 2\/2/);
    assert.match(r.stdout, /Time: \d+\.\d\d s/);
    const files = [...Deno.readDirSync(reports)].map((e) => e.name).sort();
    assert.equal(files.length, 4);
    assert.match(files[0], /^array_inventory_\d{8}_\d{6}\.csv$/);
    assert.equal(files[1], "array_inventory_latest.csv");
    assert.match(files[2], /^skycell_inventory_\d{8}_\d{6}\.csv$/);
    assert.equal(files[3], "skycell_inventory_latest.csv");
    assert.equal(
      Deno.readTextFileSync(path.join(reports, files[2])),
      Deno.readTextFileSync(path.join(reports, files[3])),
    );
    const skycells = readCsv(path.join(reports, "skycell_inventory_latest.csv"));
    assert.deepEqual(skycells.header.slice(0, 10), PYTHON_SKYCELL_COLUMNS);
    assert.equal(skycells.rows.length, 2);
    const row = skycells.rows[0];
    assert.equal(row.skycell_name, A);
    assert.equal(row.projection_id, "2556");
    assert.equal(row.is_complete, "True");
    assert.equal(row.is_corrupted, "False");
    assert.equal(row.corruption_type, "");
    assert.equal(row.arrays_present_count, "12");
    assert.equal(row.arrays_missing_count, "0");
    assert.equal(row.total_size_mb, String(4 * (199 * 200 * 10) / 2 ** 20));
    assert.equal(row.arrays_missing, "[]");
    assert.equal(row.state, "complete");
    const arrays = readCsv(path.join(reports, "array_inventory_latest.csv"));
    assert.deepEqual(arrays.header.slice(0, 10), PYTHON_ARRAY_COLUMNS);
    assert.equal(arrays.rows.length, 24);
    assert.equal(arrays.rows[0].shape, "(199, 200)");
    assert.equal(arrays.rows[0].dtype, "float32");
    assert.equal(arrays.rows[0].readable, "True");
    assert.equal(arrays.rows[0].corruption_notes, "[]");
    assert.equal(arrays.rows[1].array_name, "r_mask");
    assert.equal(arrays.rows[1].has_valid_data, "False"); // an all-zero mask: no chunk stored, and healthy
    assert.equal(arrays.rows[1].status, "healthy");
  });
});

Deno.test("problems exit 1; --json prints the summary and the problems", async () => {
  await withData([A, B], async ({ storePath, flags }) => {
    await Deno.remove(path.join(storePath, skycellGroupPath(B), "y_wt"), { recursive: true });
    const r = await run([...flags, "--json"]);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.exitStatus, 1);
    assert.deepEqual(doc.inventory.summary.skycells, {
      total: 2,
      complete: 1,
      incomplete: 1,
      corrupt: 0,
      unreadable: 0,
      current: 2,
      legacy: 0,
    });
    assert.deepEqual(doc.inventory.skycells.map((s: { name: string }) => s.name), [B]);
    assert.deepEqual(doc.inventory.arrays.map((a: { path: string }) => a.path), [
      `${skycellGroupPath(B)}/y_wt`,
    ]);
    assert.ok(doc.reports.skycells.endsWith(".csv"));
    assert.equal(doc.cleanup, null);
  });
});

Deno.test("--expected: the mapping CSV is found under the data root; absent and incomplete skycells are listed", async () => {
  await withData([A], async ({ data, reports, flags, storePath }) => {
    const csv = mappingCsvPaths(data, 20, 3, 3).newer;
    await Deno.mkdir(path.dirname(csv), { recursive: true });
    await Deno.writeTextFile(csv, mappingCsvText(demoConfig, 200));
    const { ZarrStore } = await import("../../lib/zarr/store.ts");
    const store = await ZarrStore.open(storePath);
    await writeSkycell(store, B, { kinds: ["image", "mask"] });
    store.close();
    const r = await run([...flags, "--sector", "20", "--camera", "3", "--ccd", "3"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      /Expected skycells \(sector 20 camera 3 CCD 3, newer list .*tess_s0020_3_3_master_skycells_list\.csv\):/,
    );
    assert.match(r.stdout, /6 = 1 complete \+ 1 incomplete \+ 0 corrupt \+ 4 absent/);
    assert.match(r.stdout, /skycell\.2556\.081 \(main\): incomplete, missing r_wt,i_wt,z_wt,y_wt/);
    assert.match(r.stdout, /skycell\.2557\.000 \(padding\): absent/);
    const expected = readCsv(path.join(reports, "expected_inventory_latest.csv"));
    assert.deepEqual(expected.rows.map((x) => [x.skycell_name, x.role, x.state]), [
      ["skycell.2556.080", "main", "complete"],
      ["skycell.2556.081", "main", "incomplete"],
      ["skycell.2556.090", "main", "absent"],
      ["skycell.2556.091", "padding", "absent"],
      ["skycell.2557.000", "padding", "absent"],
      ["skycell.2557.001", "padding", "absent"],
    ]);
    // The same list given as a file; a CCD without a list is unusable input.
    const given = await run([...flags, "--skycells-csv", csv, "--json"]);
    assert.equal(JSON.parse(given.stdout).inventory.expected.absent, 4);
    assert.equal(JSON.parse(given.stdout).inventory.expected.source, "given");
    const none = await run([...flags, "--sector", "21", "--camera", "1", "--ccd", "1"]);
    assert.equal(none.code, 2);
    assert.match(
      none.stderr,
      /^zarr_inventory: error: no mapping CSV found; tried .*s0021.*skycell_pixel_mapping/,
    );
  });
});

Deno.test("--expected exits 0 when every expected skycell is complete", async () => {
  const names = ["skycell.2556.080", "skycell.2556.081"];
  await withData(names, async ({ data, flags }) => {
    const csv = path.join(data, "list.csv");
    await Deno.writeTextFile(csv, `NAME,pad_skycell_top\n${names[0]},None\n${names[1]},${names[0]}\n`);
    const r = await run([...flags, "--skycells-csv", csv]);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /2 = 2 complete \+ 0 incomplete \+ 0 corrupt \+ 0 absent/);
  });
});

Deno.test("--cleanup-all --dry-run changes nothing; --cleanup-all removes, re-inventories and prints the after-summary", async () => {
  await withData([A, B], async ({ data, storePath, reports, flags }) => {
    const g = path.join(storePath, skycellGroupPath(B));
    const { ZarrStore } = await import("../../lib/zarr/store.ts");
    const store = await ZarrStore.open(storePath);
    await editMetadata(store, `${skycellGroupPath(B)}/z`, (d) => void (d.data_type = "uint8"));
    store.close();
    await Deno.mkdir(path.join(g, "r_temp_x"));
    const storeDir = path.dirname(storePath);
    const before = await treeSnapshot(storeDir);
    const dry = await run([...flags, "--cleanup-all", "--dry-run", "--temp-min-age", "0"]);
    assert.equal(dry.code, 1);
    assert.match(dry.stdout, /CLEANUP DRY RUN: NOTHING CHANGED/);
    assert.match(dry.stdout, /Would remove \(2\):/);
    assert.match(dry.stdout, /temp\s+2556\/skycell\.2556\.081\/r_temp_x \(0\.0 MB\)/);
    assert.match(dry.stdout, /corrupt\s+2556\/skycell\.2556\.081\/z \(\d+\.\d MB\): wrong_dtype/);
    assert.deepEqual(await treeSnapshot(storeDir), before);

    const real = await run([...flags, "--cleanup-all", "--temp-min-age", "0"]);
    assert.equal(real.code, 1, "B is incomplete after its corrupt array went");
    assert.match(real.stdout, /Removed \(2\):/);
    assert.match(real.stdout, /INVENTORY AFTER CLEANUP/);
    assert.match(real.stdout, /Skycells: 2 = 1 complete \+ 1 incomplete \+ 0 corrupt\n/);
    assert.match(real.stderr, /removed array 2556\/skycell\.2556\.081\/z/);
    const latest = readCsv(path.join(reports, "skycell_inventory_latest.csv"));
    assert.deepEqual(
      latest.rows.map((x) => x.state),
      ["complete", "incomplete"],
      "the latest report is the store now",
    );
    const names = [...Deno.readDirSync(reports)].map((e) => e.name);
    assert.ok(names.some((n) => /^skycell_inventory_\d{8}_\d{6}_after_cleanup\.csv$/.test(n)));
    const cleanupCsv = names.filter((n) => /^cleanup_\d{8}_\d{6}\.csv$/.test(n));
    assert.ok(cleanupCsv.length >= 1);
    assert.ok(await Deno.stat(data).then(() => true));
  });
});

Deno.test("the script's exit status reaches the shell: 0 healthy, 1 problems, 2 usage", async () => {
  await withData([A], async ({ storePath, flags }) => {
    const deno = Deno.execPath();
    const runScript = async (args: string[]) => {
      const out = await new Deno.Command(deno, {
        args: ["run", "--allow-read", "--allow-write", "--allow-env", SCRIPT, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
    };
    assert.equal((await runScript(flags)).code, 0);
    await Deno.remove(path.join(storePath, skycellGroupPath(A), "r"), { recursive: true });
    assert.equal((await runScript(flags)).code, 1);
    const usage = await runScript(["--nope"]);
    assert.equal(usage.code, 2);
    assert.equal(usage.stderr.trim().split("\n").length, 1);
  });
});
