/**
 * Checks a store written by the test writers (`_child.ts`): every array under a real name is complete and
 * holds exactly the pixels its writer wrote, every group has its metadata, and anything else is a temp node.
 * @module
 */
import assert from "node:assert/strict";
import { listStore } from "../../lib/store/layout.ts";
import { listChunkFiles, openArrayReader } from "../../lib/zarr/read.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { isMarkedComplete, MARKER_KEY } from "../../lib/zarr/verify.ts";
import { expectedImage, TEST_GROUPS } from "./_child.ts";
import { assertSameBits } from "./_helpers.ts";

/** What {@link verifyStore} found. */
export interface StoreCheck {
  /** Arrays under real names (all complete and exact). */
  arrays: string[];
  /** Temp nodes left behind. */
  temps: string[];
}

/** Verifies a store written by the test writers; throws an assertion error naming what is wrong. */
export async function verifyStore(root: string): Promise<StoreCheck> {
  const store = await ZarrStore.open(root);
  try {
    const listing = await listStore(store);
    assert.deepEqual(listing.unexpected.map((u) => u.path), [], "nodes outside the layout");
    const arrays: string[] = [];
    const temps = listing.temps.map((t) => t.path);
    for (const projection of new Set(TEST_GROUPS.map((g) => g.split("/")[0]))) {
      const info = await store.readNode(projection).catch((err) => err as Error);
      if (info === null) continue; // never created
      assert.ok(!(info instanceof Error) && info.kind === "group", `${projection}: group metadata`);
    }
    for (const skycell of listing.skycells) {
      assert.equal(skycell.group?.kind, "group", `${skycell.path}: group metadata (${skycell.groupError})`);
      assert.deepEqual(skycell.unexpected.map((u) => u.name), [], `${skycell.path}: unexpected nodes`);
      temps.push(...skycell.temps.map((t) => t.path));
      for (const child of skycell.arrays) {
        const info = child.info;
        assert.ok(info?.kind === "array", `${child.path}: array metadata (${child.error})`);
        assert.ok(isMarkedComplete(info), `${child.path}: completion marker`);
        const seed = info.attributes.test_seed as number;
        const reader = await openArrayReader(store, child.path);
        assertSameBits(
          await reader.readRegion(0, reader.height),
          expectedImage(child.name, seed),
          child.path,
        );
        const files = await listChunkFiles(reader.root, reader.dir, info);
        const marker = info.attributes[MARKER_KEY] as { stored_chunks: number };
        assert.equal(files.length, marker.stored_chunks, `${child.path}: chunk files`);
        arrays.push(child.path);
      }
    }
    for (const t of temps) assert.ok(t.split("/").pop()!.includes("_temp_"), t);
    return { arrays, temps };
  } finally {
    store.close();
  }
}
