/**
 * The other process of the multi-process store tests (started by {@link spawnChild}):
 *
 * - `hold-lock STORE MS`: takes the store lock, prints `locked`, holds it MS ms, prints `released`.
 * - `try-lock STORE TIMEOUT_MS`: takes the lock with a timeout; prints `acquired WAITED_MS` or `timeout MESSAGE`.
 * - `write-loop STORE SEED`: writes test arrays forever (replacing them), alternating the worker pool and
 *   this thread, printing `ready` once and `committed PATH SEED` after each commit.
 * - `write-set STORE SEED COUNT`: writes COUNT test arrays, then prints `done`.
 *
 * Every array records its image seed in the `test_seed` attribute, so a test can regenerate the expected
 * pixels with {@link expectedImage} and compare.
 * @module
 */
import { StoreLock } from "../../lib/zarr/lock.ts";
import type { ArraySpec } from "../../lib/zarr/metadata.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import type { StoreTypedArray } from "../../lib/zarr/chunks.ts";
import { rng, testImage, writeImage } from "./_helpers.ts";

/** Skycell groups the writers use. */
export const TEST_GROUPS: readonly string[] = [
  "2556/skycell.2556.080",
  "2556/skycell.2556.081",
  "2557/skycell.2557.011",
];

/** Array names the writers use. */
export const TEST_ARRAYS: readonly string[] = ["r", "r_mask", "i_wt"];

/** The spec of a test array by name. */
export function testSpec(name: string): ArraySpec {
  return {
    shape: name === "i_wt" ? [900, 1000] : [1024, 1000],
    dtype: name.endsWith("_mask") ? "uint16" : "float32",
    chunks: [256, 256],
  };
}

/** The pixels a writer wrote for array `name` with image seed `seed`. */
export function expectedImage(name: string, seed: number): StoreTypedArray {
  const spec = testSpec(name);
  return testImage(spec.dtype, spec.shape[0], spec.shape[1], { seed, border: seed % 3 === 0 ? 300 : 10 });
}

async function writeOne(store: ZarrStore, group: string, name: string, seed: number) {
  const result = await writeImage(store, group, name, testSpec(name), expectedImage(name, seed), {
    attributes: { header: `seed ${seed}`, test_seed: seed },
  });
  console.log(`committed ${result.path} ${seed}`);
}

if (import.meta.main) {
  const [mode, storePath, a, b] = Deno.args;
  if (mode === "hold-lock") {
    await new StoreLock(storePath).run(async () => {
      console.log("locked");
      await new Promise((resolve) => setTimeout(resolve, Number(a)));
      console.log("released");
    });
  } else if (mode === "try-lock") {
    const start = performance.now();
    try {
      await new StoreLock(storePath, { timeoutMs: Number(a) }).run(() => {});
      console.log(`acquired ${Math.round(performance.now() - start)}`);
    } catch (err) {
      console.log(`timeout ${(err as Error).message}`);
    }
  } else if (mode === "write-loop" || mode === "write-set") {
    const seed = Number(a);
    const next = rng(seed);
    const store = await ZarrStore.open(storePath, { create: true });
    console.log("ready");
    const count = mode === "write-set" ? Number(b) : Infinity;
    for (let k = 0; k < count; k++) {
      const group = TEST_GROUPS[Math.floor(next() * TEST_GROUPS.length)];
      const name = TEST_ARRAYS[Math.floor(next() * TEST_ARRAYS.length)];
      await writeOne(store, group, name, seed * 1000 + k);
    }
    store.close();
    console.log("done");
  } else {
    console.error(`unknown mode ${mode}`);
    Deno.exit(2);
  }
}
