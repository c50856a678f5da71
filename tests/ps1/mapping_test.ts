import { assertEquals, assertRejects } from "./_assert.ts";
import * as path from "node:path";
import {
  MappingCsvError,
  MappingCsvNotFoundError,
  mappingCsvPaths,
  PADDING_COLUMNS,
  readSkycellList,
} from "../../lib/ps1/mapping.ts";
import { formatCsv } from "../../lib/ps1/csv.ts";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ps1_mapping_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeCsv(file: string, rows: string[][]): Promise<void> {
  await Deno.mkdir(path.dirname(file), { recursive: true });
  await Deno.writeTextFile(file, formatCsv(rows));
}

Deno.test("mapping CSV paths follow the newer and legacy layouts", () => {
  assertEquals(mappingCsvPaths("data", 20, 3, 3), {
    newer: path.join("data/s0020/c3/k3/mapping/oversampling_1/tess_s0020_3_3_master_skycells_list.csv"),
    legacy: path.join(
      "data/skycell_pixel_mapping/sector_0020/camera_3/ccd_3/tess_s0020_3_3_master_skycells_list.csv",
    ),
  });
});

Deno.test("NAME plus padding columns (blank, None, one name, A/B) give a sorted unique union", async () => {
  await withTemp(async (dir) => {
    const { legacy } = mappingCsvPaths(dir, 20, 3, 3);
    // Columns in an unusual order, an unnamed index column first, a long quoted column in between.
    const header = ["", "pixel_indices", ...PADDING_COLUMNS.slice().reverse(), "projection", "NAME"];
    const row = (i: number, name: string, pads: string[]) => [
      String(i),
      "[(1, 2), (3, 4)]",
      ...pads.slice().reverse(),
      name.slice(8, 12).replace(/^0+/, ""),
      name,
    ];
    const none = Array(8).fill("None");
    await writeCsv(legacy, [
      header,
      row(0, "skycell.2556.081", [
        "skycell.2556.091",
        "",
        "skycell.2556.092/skycell.2557.002",
        ...none.slice(3),
      ]),
      row(1, "skycell.2556.080", ["skycell.2556.090", "skycell.2556.081", "None", "", "", "", "", ""]),
      row(2, "skycell.2556.081", none), // a repeated name counts once
      row(3, "skycell.0635.000", [" skycell.0634.009 / skycell.0635.010 ", ...Array(7).fill("")]),
    ]);
    const list = await readSkycellList({ dataRoot: dir, sector: 20, camera: 3, ccd: 3 });
    assertEquals(list.skycells, [
      "skycell.0634.009",
      "skycell.0635.000",
      "skycell.0635.010",
      "skycell.2556.080",
      "skycell.2556.081",
      "skycell.2556.090",
      "skycell.2556.091",
      "skycell.2556.092",
      "skycell.2557.002",
    ]);
    assertEquals([list.mainCount, list.paddingCount], [3, 6]);
    assertEquals(list.main, ["skycell.0635.000", "skycell.2556.080", "skycell.2556.081"]);
    assertEquals(list.padding.includes("skycell.2556.081"), false); // a main cell named as padding too
    assertEquals(list.csvPath, legacy);
    assertEquals(list.source, "legacy");
    assertEquals(list.warnings, []);
  });
});

Deno.test("the newer path is preferred over the legacy path", async () => {
  await withTemp(async (dir) => {
    const { newer, legacy } = mappingCsvPaths(dir, 7, 1, 4);
    await writeCsv(legacy, [["NAME"], ["skycell.0001.000"]]);
    await writeCsv(newer, [["NAME"], ["skycell.0002.000"]]);
    const list = await readSkycellList({ dataRoot: dir, sector: 7, camera: 1, ccd: 4 });
    assertEquals([list.source, list.csvPath, list.skycells], ["newer", newer, ["skycell.0002.000"]]);
  });
});

Deno.test("absent padding columns give a warning and the main cells", async () => {
  await withTemp(async (dir) => {
    const file = path.join(dir, "list.csv");
    await writeCsv(file, [["NAME", "CRVAL1"], ["skycell.2556.080", "1.5"], ["", ""], [
      "skycell.2556.070",
      "2",
    ]]);
    const list = await readSkycellList({ csvPath: file });
    assertEquals(list.skycells, ["skycell.2556.070", "skycell.2556.080"]);
    assertEquals([list.mainCount, list.paddingCount], [2, 0]);
    assertEquals(list.warnings.length, 1);
    assertEquals(list.warnings[0].includes("no padding columns"), true);
  });
});

Deno.test("a bad name is reported with its row number and column", async () => {
  await withTemp(async (dir) => {
    const file = path.join(dir, "list.csv");
    await writeCsv(file, [
      ["NAME", "pad_skycell_top"],
      ["skycell.2556.080", "None"],
      ["skycell.2556.81", ""],
    ]);
    await assertRejects(
      () => readSkycellList({ csvPath: file }),
      MappingCsvError,
      `${file}: row 2 (line 3), column NAME: invalid skycell name "skycell.2556.81"`,
    );
    await writeCsv(file, [
      ["NAME", "pad_skycell_top"],
      ["skycell.2556.080", "skycell.2556.090/../etc"],
    ]);
    await assertRejects(
      () => readSkycellList({ csvPath: file }),
      MappingCsvError,
      `row 1 (line 2), column pad_skycell_top: invalid skycell name ".."`,
    );
  });
});

Deno.test("a missing CSV lists the paths tried; a CSV without NAME is rejected", async () => {
  await withTemp(async (dir) => {
    const { newer, legacy } = mappingCsvPaths(dir, 20, 3, 3);
    const err = await assertRejects(() => readSkycellList({ dataRoot: dir }), MappingCsvNotFoundError);
    assertEquals((err as MappingCsvNotFoundError).tried, [newer, legacy]);
    assertEquals((err as Error).message.includes(newer) && (err as Error).message.includes(legacy), true);
    const file = path.join(dir, "x.csv");
    await writeCsv(file, [["name"], ["skycell.2556.080"]]);
    await assertRejects(() => readSkycellList({ csvPath: file }), MappingCsvError, "no NAME column");
  });
});
