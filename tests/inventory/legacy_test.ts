import assert from "node:assert/strict";
import * as path from "node:path";
import { cleanup, inventory } from "../../lib/inventory/mod.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { tempDir, treeSnapshot, writeLegacySkycell, writeSkycell } from "./_store.ts";

const A = "skycell.2556.080";
const B = "skycell.2556.081";

async function withLegacyStore(
  fn: (store: ZarrStore, root: string) => Promise<void>,
  setup: (root: string) => Promise<void>,
): Promise<void> {
  const { dir, remove } = await tempDir();
  const root = path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr");
  try {
    await setup(root);
    const store = await ZarrStore.open(root);
    try {
      await fn(store, root);
    } finally {
      store.close();
    }
  } finally {
    await remove();
  }
}

Deno.test("a Zarr format 2 store in the legacy layout is read: header on the group, no weights = incomplete", async () => {
  await withLegacyStore(async (store) => {
    for (const deep of [false, true]) {
      const inv = await inventory(store, { workers: 1, deep });
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
        assert.equal(a.layout, "legacy");
        assert.equal(a.chunksPresent, 4);
        assert.equal(a.marker, null);
        assert.equal(a.deep, deep);
      }
      const r = inv.arrays.find((a) => a.skycell === A && a.name === "r")!;
      assert.equal(r.path, "projections/2556/skycell.2556.080/r");
      assert.equal(r.dtype, "float32");
      assert.equal(inv.arrays.find((a) => a.skycell === A && a.name === "r_mask")!.dtype, "uint16");
      assert.equal(r.header?.source, "group");
      assert.equal(inv.arrays.find((a) => a.skycell === B && a.name === "r")!.header?.source, "array");
      assert.deepEqual(inv.skycells[0].missing, ["r_wt", "i_wt", "z_wt", "y_wt"]);
      if (deep) assert.equal(r.chunksDecoded, 4);
    }
  }, async (root) => {
    await writeLegacySkycell(root, A);
    await writeLegacySkycell(root, B, { headerOn: "array" });
  });
});

Deno.test("legacy data is never removed as incomplete; a damaged legacy array is removed as corrupt", async () => {
  await withLegacyStore(async (store, root) => {
    const chunk = path.join(root, "projections", "2556", A, "i", "1.1");
    const bytes = await Deno.readFile(chunk);
    await Deno.writeFile(chunk, bytes.subarray(0, bytes.length - 1));
    const inv = await inventory(store, { workers: 1, deep: true });
    const i = inv.arrays.find((a) => a.name === "i")!;
    assert.deepEqual(i.problems.map((p) => p.code), ["chunk_undecodable"]);
    assert.match(i.problems[0].message, /1\.1: frame 1 is cut short/);
    assert.equal(inv.skycells[0].state, "corrupt");

    const before = await treeSnapshot(root);
    for (const incomplete of ["empty", "skycells"] as const) {
      const r = await cleanup(inv, { store, categories: ["incomplete"], incomplete });
      assert.equal(r.removed, 0);
    }
    assert.deepEqual(await treeSnapshot(root), before);
    const r = await cleanup(inv, { store, categories: ["corrupt"] });
    assert.deepEqual(r.items.filter((x) => x.action === "removed").map((x) => x.path), [
      `projections/2556/${A}/i`,
    ]);
    const after = await inventory(store, { workers: 1, deep: true });
    assert.equal(after.skycells[0].state, "incomplete");
    const again = await cleanup(after, { store, categories: ["incomplete"], incomplete: "skycells" });
    assert.match(again.items[0].reason, /legacy layout/);
    assert.equal(again.removed, 0);
  }, async (root) => {
    await writeLegacySkycell(root, A);
  });
});

Deno.test("a skycell in both layouts gives two records, current layout first", async () => {
  await withLegacyStore(async (store) => {
    await writeSkycell(store, A);
    const inv = await inventory(store, { workers: 1 });
    assert.deepEqual(inv.skycells.map((s) => [s.name, s.layout, s.state]), [
      [A, "current", "complete"],
      [A, "legacy", "incomplete"],
    ]);
  }, async (root) => {
    await writeLegacySkycell(root, A);
    // A format 3 root for the current layout beside the legacy tree.
    await Deno.remove(path.join(root, ".zgroup"));
    await Deno.writeTextFile(
      path.join(root, "zarr.json"),
      '{"zarr_format":3,"node_type":"group","attributes":{}}',
    );
  });
});
