import assert from "node:assert/strict";
import * as path from "node:path";
import { hostToken, parseTempName, tempOwner } from "../../lib/zarr/names.ts";
import { isOrphanTemp, ownersDir } from "../../lib/zarr/owner.ts";
import { openArrayReader } from "../../lib/zarr/read.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { isMarkedComplete } from "../../lib/zarr/verify.ts";
import { assertSameBits, testImage, withStore, writeImage } from "./_helpers.ts";

const SPEC = {
  shape: [300, 200] as [number, number],
  dtype: "float32" as const,
  chunks: [128, 128] as [number, number],
};
const GROUP = "2556/skycell.2556.080";
const DEAD_PID = 999_999_1;

/** A temp name of a process on this host that is gone (its owner file exists and is not locked). */
async function deadName(store: ZarrStore, final: string, purpose: "" | "old_" | "del_"): Promise<string> {
  await Deno.mkdir(ownersDir(store.root), { recursive: true });
  await Deno.writeTextFile(path.join(ownersDir(store.root), `${hostToken()}-${DEAD_PID}`), "");
  return `${final}_temp_${purpose}${hostToken()}-${DEAD_PID}-${
    crypto.randomUUID().slice(0, 8).replaceAll("-", "0")
  }`;
}

async function exists(p: string): Promise<boolean> {
  return await Deno.stat(p).then(() => true, () => false);
}

Deno.test("temp names say their final name, purpose and owner; a dead owner's temps are orphans, ours are not", async () => {
  await withStore(async (store) => {
    const old = await deadName(store, "r_wt", "old_");
    assert.deepEqual(parseTempName(old), { final: "r_wt", purpose: "old" });
    assert.deepEqual(tempOwner(old), { host: hostToken(), pid: DEAD_PID });
    assert.equal(await isOrphanTemp(store.root, old), true);
    const build = await store.beginArray(GROUP, "r", SPEC);
    assert.equal(parseTempName(build.tempName)?.purpose, "new");
    assert.equal(await isOrphanTemp(store.root, build.tempName), false, "our own build is alive");
    assert.equal(await isOrphanTemp(store.root, "r_temp_abc"), false, "unknown maker");
    // Another host's temp, with an owner file of that host that exists and is not locked here: a job on
    // another node of a shared store is alive as far as this host can tell, and must never be an orphan.
    await Deno.writeTextFile(path.join(ownersDir(store.root), `otherhost-${DEAD_PID}`), "");
    assert.equal(await isOrphanTemp(store.root, `r_temp_otherhost-${DEAD_PID}-abcd`), false, "another host");
    await build.abort();
  });
});

Deno.test("recoverTemp finishes a replace cut between its two renames: the complete new array is installed", async () => {
  await withStore(async (store) => {
    const oldImage = testImage("float32", 300, 200, { seed: 1 });
    const newImage = testImage("float32", 300, 200, { seed: 2 });
    await writeImage(store, GROUP, "r", SPEC, oldImage);
    await writeImage(store, GROUP, "r_new", SPEC, newImage);
    const groupDir = store.fsPath(GROUP);
    // The state a kill leaves between "old -> trash" and "temp -> final".
    const trash = await deadName(store, "r", "old_");
    const fresh = await deadName(store, "r", "");
    await Deno.rename(path.join(groupDir, "r"), path.join(groupDir, trash));
    await Deno.rename(path.join(groupDir, "r_new"), path.join(groupDir, fresh));
    assert.equal(await store.recoverTemp(`${GROUP}/${fresh}`), "installed");
    assert.equal(await store.recoverTemp(`${GROUP}/${trash}`), "removed");
    const reader = await openArrayReader(store, `${GROUP}/r`);
    assertSameBits(await reader.readRegion(0, 300), newImage, "the new array");
    assert.equal(await exists(path.join(groupDir, trash)), false);
  });
});

Deno.test("recoverTemp restores an old array moved aside when no complete new one exists", async () => {
  await withStore(async (store) => {
    const image = testImage("float32", 300, 200, { seed: 3 });
    await writeImage(store, GROUP, "r", SPEC, image);
    const groupDir = store.fsPath(GROUP);
    const trash = await deadName(store, "r", "old_");
    await Deno.rename(path.join(groupDir, "r"), path.join(groupDir, trash));
    // A build cut short (no zarr.json yet) is removed, not installed.
    const partial = await deadName(store, "r", "");
    await Deno.mkdir(path.join(groupDir, partial, "c", "0"), { recursive: true });
    await Deno.writeFile(path.join(groupDir, partial, "c", "0", "0"), new Uint8Array(10));
    assert.equal(await store.recoverTemp(`${GROUP}/${partial}`), "removed");
    assert.equal(await store.recoverTemp(`${GROUP}/${trash}`), "restored");
    const reader = await openArrayReader(store, `${GROUP}/r`);
    assert.ok(isMarkedComplete(reader.info));
    assertSameBits(await reader.readRegion(0, 300), image, "the restored array");
    assert.equal(await exists(path.join(groupDir, partial)), false);
  });
});

Deno.test("recoverTemp never brings back a node that was being deleted", async () => {
  await withStore(async (store) => {
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 200, { seed: 4 }));
    const groupDir = store.fsPath(GROUP);
    const trash = await deadName(store, "r", "del_");
    await Deno.rename(path.join(groupDir, "r"), path.join(groupDir, trash));
    assert.equal(await store.recoverTemp(`${GROUP}/${trash}`), "removed");
    assert.equal(await exists(path.join(groupDir, "r")), false);
    assert.equal(await exists(path.join(groupDir, trash)), false);
    await assert.rejects(store.recoverTemp(`${GROUP}/r`), /not a temp node/);
  });
});

Deno.test("creating a store refuses a directory that holds other data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zarr_test_" });
  try {
    const root = path.join(dir, "s.zarr");
    await Deno.mkdir(root);
    await Deno.writeTextFile(path.join(root, "notes.txt"), "mine");
    await assert.rejects(ZarrStore.open(root, { create: true }), /not empty and is not a Zarr store/);
    assert.equal(await exists(path.join(root, "zarr.json")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("several openers creating the same new store at once all succeed (the check runs under the lock)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "zarr_test_" });
  try {
    const root = path.join(dir, "s.zarr");
    const stores = await Promise.all(Array.from({ length: 8 }, () => ZarrStore.open(root, { create: true })));
    assert.equal(stores.length, 8);
    assert.equal((await stores[0].readNode(""))?.kind, "group");
    for (const s of stores) s.close();
    // A crash mid-creation leaves only a temp file: creating again still works.
    const other = path.join(dir, "t.zarr");
    await Deno.mkdir(other);
    await Deno.writeTextFile(path.join(other, "zarr.json.tmp-1234abcd"), "{");
    (await ZarrStore.open(other, { create: true })).close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("many overlapping checks of one dead owner all see it gone", async () => {
  await withStore(async (store) => {
    const name = await deadName(store, "r", "");
    const verdicts = await Promise.all(Array.from({ length: 16 }, () => isOrphanTemp(store.root, name)));
    assert.deepEqual(verdicts, Array(16).fill(true));
  });
});
