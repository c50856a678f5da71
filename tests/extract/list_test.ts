/**
 * `--list`: projection cells, skycells and per-skycell completeness (n/12), as text and as JSON, for
 * complete, incomplete, legacy-layout and damaged skycells.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { listContents } from "../../lib/extract/mod.ts";
import { main } from "../../zarr_to_fits.ts";
import { archiveSources, buildStore, captured, SKYCELL_A, SKYCELL_B, standardFixture } from "./_store.ts";

const fx = await standardFixture();

Deno.test("--list shows each projection cell and skycell with n/12 and what is missing", async () => {
  const r = await captured(() => main(["--zarr-path", fx.store, "--list"]));
  assert.equal(r.value, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      `${fx.store}: 1 projection cell(s), 2 skycell(s), 1 complete (12 arrays: bands r, i, z, y x image, mask, weight)`,
      "projection 2556: 2 skycell(s), 1 complete",
      `  ${SKYCELL_A}  12/12  complete`,
      `  ${SKYCELL_B}   3/12  missing i, i_mask, i_wt, z, z_mask, z_wt, y, y_mask, y_wt`,
    ].join("\n"),
  );
});

Deno.test("--list --json gives the same facts as data", async () => {
  const r = await captured(() => main(["--zarr-path", fx.store, "--list", "--json"]));
  assert.equal(r.value, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.store, fx.store);
  assert.equal(j.skycells, 2);
  assert.equal(j.complete, 1);
  assert.deepEqual(j.bands, ["r", "i", "z", "y"]);
  assert.equal(j.projections.length, 1);
  const [a, b] = j.projections[0].skycells;
  assert.deepEqual(
    [a.name, a.present, a.expected, a.complete, a.layout, a.path],
    [SKYCELL_A, 12, 12, true, "current", `2556/${SKYCELL_A}`],
  );
  assert.deepEqual(a.arrays, [
    "r",
    "r_mask",
    "r_wt",
    "i",
    "i_mask",
    "i_wt",
    "z",
    "z_mask",
    "z_wt",
    "y",
    "y_mask",
    "y_wt",
  ]);
  assert.deepEqual([b.name, b.present, b.complete], [SKYCELL_B, 3, false]);
  assert.equal(b.missing.length, 9);
});

Deno.test("listing counts legacy-layout skycells, extra g arrays, temp arrays and unreadable metadata", async () => {
  const store = path.join(fx.dir, "mixed.zarr");
  const archive = path.join(fx.dir, "archive_mixed");
  const legacy = await archiveSources(archive, ["skycell.1234.055"], ["r", "i", "z", "y"]);
  // An old store: no weights, header on the group, legacy layout.
  await buildStore(store, legacy.filter((s) => s.kind !== "weight"), { layout: "legacy", headerOn: "group" });
  await buildStore(store, await archiveSources(archive, ["skycell.2557.010"], ["g", "r", "i", "z", "y"]));
  const cell = path.join(store, "2557", "skycell.2557.010");
  await Deno.mkdir(path.join(cell, "r_temp_0123456789abcdef"));
  await Deno.writeTextFile(path.join(cell, "y_wt", "zarr.json"), "{ not json");
  const r = await captured(() => main(["--zarr-path", store, "--list"]));
  assert.equal(r.value, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[0], /2 projection cell\(s\), 2 skycell\(s\), 0 complete/);
  assert.equal(lines[1], "projection 1234: 1 skycell(s), 0 complete");
  assert.equal(lines[2], "  skycell.1234.055   8/12  missing r_wt, i_wt, z_wt, y_wt; legacy layout");
  assert.equal(lines[3], "projection 2557: 1 skycell(s), 0 complete");
  assert.match(
    lines[4],
    /^ {2}skycell\.2557\.010 {2}11\/12 {2}missing y_wt; also g, g_mask, g_wt; problems: y_wt: .*invalid JSON.*; r_temp_0123456789abcdef: temporary array$/,
  );
  const s = await ZarrStore.open(store);
  try {
    const c = await listContents(s, { bands: ["g", "r"] });
    const sky = c.projections[1].skycells[0];
    assert.deepEqual([sky.present, sky.expected, sky.complete, sky.extra], [6, 6, true, [
      "i",
      "i_mask",
      "i_wt",
      "z",
      "z_mask",
      "z_wt",
      "y",
      "y_mask",
    ]]);
  } finally {
    s.close();
  }
});

Deno.test("an empty store lists no skycells; a band batch on it has nothing to do (exit 2)", async () => {
  const store = path.join(fx.dir, "empty.zarr");
  (await ZarrStore.open(store, { create: true })).close();
  const r = await captured(() => main(["--zarr-path", store, "--list"]));
  assert.equal(r.value, 0);
  assert.equal(r.stdout, `${store}: no skycells`);
  const b = await captured(() =>
    main(["--zarr-path", store, "--band", "r", "--batch", "--output-dir", path.join(fx.dir, "e")])
  );
  assert.equal(b.value, 2);
  assert.match(b.stderr, /^zarr_to_fits: error: the store .*empty\.zarr has no skycells$/);
});
