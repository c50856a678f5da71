import assert from "node:assert/strict";
import * as path from "node:path";
import { cleanup, type CleanupItem, inventory } from "../../lib/inventory/mod.ts";
import { skycellGroupPath } from "../../lib/store/layout.ts";
import { hostToken } from "../../lib/zarr/names.ts";
import { ownersDir } from "../../lib/zarr/owner.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { editMetadata, makeStore, tempDir, treeSnapshot, writeSkycell } from "./_store.ts";
import { LineReader, spawnChild } from "../zarr/_helpers.ts";

const A = "skycell.2556.080";
const B = "skycell.2556.081";
const C = "skycell.2556.090";
const D = "skycell.2557.001";

async function withStore(
  skycells: string[],
  fn: (store: ZarrStore, dir: string) => Promise<void>,
): Promise<void> {
  const { dir, remove } = await tempDir();
  const store = await makeStore(dir, skycells);
  try {
    await fn(store, dir);
  } finally {
    store.close();
    await remove();
  }
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const group = (store: ZarrStore, name: string) => store.fsPath(skycellGroupPath(name));
const byAction = (items: CleanupItem[], action: CleanupItem["action"]) =>
  items.filter((i) => i.action === action).map((i) => i.path).sort();

/**
 * A store with one of everything: A complete, B with a corrupt array (shape against NAXIS) and a torn-off
 * chunk count, C incomplete with healthy arrays, D an empty incomplete group, temp arrays, unexpected nodes.
 */
async function messyStore(store: ZarrStore): Promise<void> {
  await writeSkycell(store, C, { kinds: ["image", "mask"] });
  await store.ensureGroups(skycellGroupPath(D));
  await editMetadata(store, `${skycellGroupPath(B)}/r`, (d) => void (d.shape = [199, 300]));
  await Deno.remove(path.join(group(store, B), "i_wt", "c", "0", "0"));
  await Deno.mkdir(path.join(group(store, A), "z_temp_leftover", "c", "0"), { recursive: true });
  await Deno.writeFile(path.join(group(store, A), "z_temp_leftover", "c", "0", "0"), new Uint8Array(1000));
  await Deno.mkdir(path.join(store.root, "2556", "skycell.2556.099_temp_old_gone"));
  await Deno.mkdir(path.join(group(store, A), "my_notes"));
  await Deno.writeTextFile(path.join(group(store, A), "my_notes", "readme.txt"), "keep me");
  await Deno.mkdir(path.join(store.root, "scratch"));
}

Deno.test("a dry run lists exactly what the cleanup then removes, with sizes, and changes nothing", async () => {
  await withStore([A, B], async (store, dir) => {
    await messyStore(store);
    const inv = await inventory(store, { workers: 1 });
    assert.deepEqual(
      [inv.summary.skycells.complete, inv.summary.skycells.incomplete, inv.summary.skycells.corrupt],
      [1, 2, 1],
    );
    const before = await treeSnapshot(dir);
    const categories = ["temp", "corrupt", "incomplete"] as const;
    const dry = await cleanup(inv, { store, categories, dryRun: true, tempMinAgeSeconds: 0 });
    assert.deepEqual(await treeSnapshot(dir), before, "a dry run changes nothing, lock file included");
    const would = byAction(dry.items, "would_remove");
    assert.deepEqual(would, [
      "2556/skycell.2556.080/z_temp_leftover",
      "2556/skycell.2556.081/i_wt",
      "2556/skycell.2556.081/r",
      "2556/skycell.2556.099_temp_old_gone",
      "2557/skycell.2557.001",
    ]);
    assert.equal(dry.items.find((i) => i.path.endsWith("z_temp_leftover"))!.bytes, 1000);
    assert.ok(dry.items.find((i) => i.path.endsWith("081/r"))!.bytes > 0);
    assert.equal(
      dry.bytesFreed,
      dry.items.reduce((s, i) => s + (i.action === "would_remove" ? i.bytes : 0), 0),
    );
    // C keeps its healthy arrays under the default rule.
    const keptC = dry.items.find((i) => i.path === skycellGroupPath(C))!;
    assert.equal(keptC.action, "kept");
    assert.match(keptC.reason, /healthy array/);

    const real = await cleanup(inv, { store, categories, tempMinAgeSeconds: 0 });
    assert.deepEqual(byAction(real.items, "removed"), would);
    assert.equal(real.bytesFreed, dry.bytesFreed);
    assert.equal(real.failed, 0);
    for (const p of would) assert.equal(await exists(store.fsPath(p)), false, p);
    // Unexpected nodes and healthy arrays are still there.
    assert.equal(await Deno.readTextFile(path.join(group(store, A), "my_notes", "readme.txt")), "keep me");
    assert.ok(await exists(path.join(store.root, "scratch")));
    assert.ok(await exists(path.join(group(store, C), "r")));
    const after = await inventory(store, { workers: 1 });
    assert.equal(after.summary.temps.count, 0);
    assert.equal(after.summary.arrays.corrupt, 0);
    assert.equal(after.summary.unexpected, 2);
    assert.deepEqual(after.skycells.map((s) => [s.name, s.state]), [
      [A, "complete"],
      [B, "incomplete"],
      [C, "incomplete"],
    ]);
  });
});

Deno.test("--cleanup-temp removes only temp nodes; fresh ones of unknown maker and live makers' are kept", async () => {
  await withStore([A], async (store) => {
    const g = group(store, A);
    await Deno.mkdir(path.join(g, "r_temp_fresh"));
    // A temp array of a dead process on this host: its owner file exists and nobody holds its lock.
    const deadPid = 999_999;
    await Deno.mkdir(ownersDir(store.root), { recursive: true });
    await Deno.writeTextFile(path.join(ownersDir(store.root), `${hostToken()}-${deadPid}`), "");
    const orphan = `i_temp_${hostToken()}-${deadPid}-0123456789ab`;
    await Deno.mkdir(path.join(g, orphan));
    // A build in progress in this process (it registered itself as the owner).
    const build = await store.beginArray(skycellGroupPath(A), "z", {
      shape: [199, 200],
      dtype: "float32",
      chunks: [64, 64],
    });
    try {
      const inv = await inventory(store, { workers: 1 });
      assert.equal(inv.temps.length, 3);
      const result = await cleanup(inv, { store, categories: ["temp"] });
      assert.deepEqual(byAction(result.items, "removed"), [`${skycellGroupPath(A)}/${orphan}`]);
      const reason = (name: string) => result.items.find((i) => i.path.endsWith(name))!.reason;
      assert.match(reason("r_temp_fresh"), /may be in progress/);
      assert.match(reason(build.tempName), /in progress: its maker \(process \d+\) is running/);
      assert.match(reason(orphan), /is gone/);
      assert.ok(await exists(build.dir));
      // With no quiet time required, the unknown maker's temp goes too; the live build still stays.
      const again = await cleanup(await inventory(store, { workers: 1 }), {
        store,
        categories: ["temp"],
        tempMinAgeSeconds: 0,
      });
      assert.deepEqual(byAction(again.items, "removed"), [`${skycellGroupPath(A)}/r_temp_fresh`]);
      assert.ok(await exists(build.dir));
    } finally {
      await build.abort();
    }
  });
});

Deno.test("each item is re-checked before removal: the store may have changed since the scan", async () => {
  await withStore([A, B], async (store) => {
    await editMetadata(store, `${skycellGroupPath(A)}/r`, (d) => void (d.data_type = "int32"));
    await Deno.mkdir(path.join(group(store, B), "r_temp_pending"));
    await writeSkycell(store, C, { kinds: ["image"] });
    await store.ensureGroups(skycellGroupPath(D));
    const inv = await inventory(store, { workers: 1 });
    assert.equal(inv.summary.skycells.corrupt, 1);

    // Since the scan: A/r rewritten healthy by a download, the temp renamed into place (the download
    // finished), D got an array.
    await writeSkycell(store, A, { bands: ["r"], kinds: ["image"] });
    await Deno.remove(path.join(group(store, B), "r_temp_pending"));
    await writeSkycell(store, D, { bands: ["r"], kinds: ["image"] });
    const before = await treeSnapshot(store.root);
    const result = await cleanup(inv, {
      store,
      categories: ["temp", "corrupt", "incomplete"],
      tempMinAgeSeconds: 0,
    });
    assert.equal(result.removed, 0);
    const reason = (p: string) => result.items.find((i) => i.path === p)!.reason;
    assert.match(reason(`${skycellGroupPath(A)}/r`), /healthy now/);
    assert.match(reason(`${skycellGroupPath(B)}/r_temp_pending`), /gone since the scan/);
    assert.match(reason(skycellGroupPath(D)), /holds r now/);
    assert.deepEqual(await treeSnapshot(store.root), before);

    // Whole-skycell mode: C filled in since the scan is kept, a still incomplete one goes.
    const inv2 = await inventory(store, { workers: 1 });
    await writeSkycell(store, C, { kinds: ["mask", "weight"] });
    await writeSkycell(store, C, { bands: ["i", "z", "y"], kinds: ["image"] });
    const r2 = await cleanup(inv2, { store, categories: ["incomplete"], incomplete: "skycells" });
    assert.match(r2.items.find((i) => i.path === skycellGroupPath(C))!.reason, /complete now/);
    assert.deepEqual(byAction(r2.items, "removed"), [skycellGroupPath(D)]);
    assert.ok(await exists(group(store, C)));
  });
});

Deno.test("whole-skycell removal keeps groups holding unexpected nodes, other bands or stray files", async () => {
  await withStore([], async (store) => {
    for (const s of [A, B, C, D]) await writeSkycell(store, s, { kinds: ["image"] });
    await Deno.mkdir(path.join(group(store, A), "extra"));
    await writeSkycell(store, B, { bands: ["g"], kinds: ["image"] });
    const inv = await inventory(store, { workers: 1 });
    await Deno.writeTextFile(path.join(group(store, C), "README"), "written after the scan");
    const result = await cleanup(inv, { store, categories: ["incomplete"], incomplete: "skycells" });
    assert.deepEqual(byAction(result.items, "removed"), [skycellGroupPath(D)]);
    const reason = (s: string) => result.items.find((i) => i.path === skycellGroupPath(s))!.reason;
    assert.match(reason(A), /unexpected node extra/);
    assert.match(reason(B), /g, an array of another band/);
    assert.match(reason(C), /holds README, which is not metadata/);
    for (const s of [A, B, C]) assert.ok(await exists(group(store, s)));
  });
});

Deno.test("corrupt cleanup keeps a group standing where an array should be and other bands' damage", async () => {
  await withStore([A], async (store) => {
    const r = path.join(group(store, A), "r");
    await Deno.remove(r, { recursive: true });
    await Deno.mkdir(path.join(r, "child"), { recursive: true });
    await Deno.writeTextFile(
      path.join(r, "zarr.json"),
      '{"zarr_format":3,"node_type":"group","attributes":{}}',
    );
    await writeSkycell(store, A, { bands: ["g"], kinds: ["mask"] });
    await editMetadata(store, `${skycellGroupPath(A)}/g_mask`, (d) => void (d.data_type = "int8"));
    const inv = await inventory(store, { workers: 1 });
    assert.deepEqual(array(inv.arrays, "r").problems.map((p) => p.code), ["not_an_array"]);
    const result = await cleanup(inv, { store, categories: ["corrupt"] });
    assert.equal(result.removed, 0);
    assert.match(result.items[0].reason, /a group stands where the image array should be/);
    assert.ok(await exists(path.join(r, "child")));
    assert.ok(await exists(path.join(group(store, A), "g_mask")));
  });
});

function array<T extends { name: string }>(list: T[], name: string): T {
  return list.find((a) => a.name === name)!;
}

Deno.test("cleanup of a damaged group metadata keeps the arrays and says why", async () => {
  await withStore([A], async (store) => {
    await Deno.writeTextFile(path.join(group(store, A), "zarr.json"), "garbage");
    const inv = await inventory(store, { workers: 1 });
    assert.equal(inv.skycells[0].state, "corrupt");
    const result = await cleanup(inv, {
      store,
      categories: ["corrupt", "incomplete"],
      incomplete: "skycells",
    });
    assert.equal(result.removed, 0);
    assert.match(result.items[0].reason, /group metadata damaged, arrays kept/);
    assert.equal((await inventory(store, { workers: 1 })).summary.arrays.healthy, 12);
  });
});

Deno.test("cleanup re-checks an item under the same hold of the lock that removes it: one repaired meanwhile is kept", async () => {
  const { dir, remove } = await tempDir();
  try {
    const store = await makeStore(dir, [A]);
    const chunk = path.join(group(store, A), "r", "c", "1", "1");
    const bytes = await Deno.readFile(chunk);
    await Deno.remove(chunk);
    const inv = await inventory(store, { workers: 1 });
    assert.equal(inv.arrays.find((a) => a.skycell === A && a.name === "r")?.status, "corrupt");
    store.close();
    // Another process holds the lock; the moment the cleanup has to wait for it, the array is repaired
    // and the holder goes away.
    const holder = spawnChild(["hold-lock", store.root, "60000"]);
    const lines = new LineReader(holder.stdout);
    await lines.waitFor((l) => l === "locked");
    const waited: string[] = [];
    const viaLock = await ZarrStore.open(store.root, {
      lock: {
        onWait: () => {
          waited.push("waiting");
          Deno.writeFileSync(chunk, bytes);
          holder.kill("SIGKILL");
        },
      },
    });
    const result = await cleanup(inv, { categories: ["corrupt"], store: viaLock });
    await holder.status;
    viaLock.close();
    assert.deepEqual(waited, ["waiting"]);
    const item = result.items.find((i) => i.path.endsWith("/r"))!;
    assert.equal(item.action, "kept", item.reason);
    assert.match(item.reason, /healthy now/);
    assert.ok(
      await exists(path.join(group(store, A), "r", "zarr.json")),
      "the repaired array is still there",
    );
  } finally {
    await remove();
  }
});
