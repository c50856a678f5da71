import assert from "node:assert/strict";
import * as path from "node:path";
import { cleanup, inventory } from "../../zarr_inventory.ts";
import { hostToken } from "../../lib/zarr/names.ts";
import { ownersDir } from "../../lib/zarr/owner.ts";
import { openArrayReader } from "../../lib/zarr/read.ts";
import { assertSameBits, testImage, withStore, writeImage } from "../zarr/_helpers.ts";

const SPEC = {
  shape: [200, 150] as [number, number],
  dtype: "float32" as const,
  chunks: [128, 128] as [number, number],
};
const GROUP = "2556/skycell.2556.080";

Deno.test("--cleanup-temp finishes a replace a dead process left between its renames instead of deleting both copies", async () => {
  await withStore(async (store) => {
    const header = "SIMPLE  =                    T".padEnd(80) +
      "NAXIS1  =                  150".padEnd(80) + "NAXIS2  =                  200".padEnd(80);
    const image = testImage("float32", 200, 150, { seed: 9 });
    await writeImage(store, GROUP, "r_new", SPEC, image, { attributes: { header } });
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 200, 150, { seed: 8 }), {
      attributes: { header },
    });
    const pid = 999_999_2;
    await Deno.mkdir(ownersDir(store.root), { recursive: true });
    await Deno.writeTextFile(path.join(ownersDir(store.root), `${hostToken()}-${pid}`), "");
    const dir = store.fsPath(GROUP);
    const fresh = `r_temp_${hostToken()}-${pid}-00aa11bb`;
    const trash = `r_temp_old_${hostToken()}-${pid}-00cc22dd`;
    await Deno.rename(path.join(dir, "r"), path.join(dir, trash));
    await Deno.rename(path.join(dir, "r_new"), path.join(dir, fresh));
    const before = await inventory(store, { bands: ["r"], workers: 1 });
    assert.equal(before.temps.length, 2);
    const result = await cleanup(before, { categories: ["temp"], store });
    assert.equal(result.failed, 0);
    assert.deepEqual(result.items.map((i) => i.action), ["removed", "removed"]);
    assert.ok(
      result.items.some((i) => /installed under its final name/.test(i.reason)),
      JSON.stringify(result.items),
    );
    const reader = await openArrayReader(store, `${GROUP}/r`);
    assertSameBits(await reader.readRegion(0, 200), image, "the new array is in place");
    const after = await inventory(store, { bands: ["r"], workers: 1 });
    assert.equal(after.temps.length, 0);
  });
});
