/**
 * Shared setup of the download tests: a synthetic archive tree with its mapping CSV in a temp data root,
 * the local archive server on it, and checks of a store against the source files.
 * @module
 */

import * as path from "node:path";
import { strict as assert } from "node:assert";
import { type LocalArchive, startLocalArchive } from "../../lib/archive/server.ts";
import { type DemoArchiveOptions, writeDemoArchive } from "../../lib/archive/synth.ts";
import type { FaultPlan } from "../../lib/archive/faults.ts";
import { openImage } from "../../lib/fits/image.ts";
import { localPath } from "../../lib/ps1/urls.ts";
import { ARRAY_KINDS, arrayName, dtypeOf, listStore, skycellGroupPath } from "../../lib/store/layout.ts";
import { openArrayReader } from "../../lib/zarr/read.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";

/** A data root with an archive tree, its CSV and a running server. */
export interface TestArchive {
  /** Data root (parent of the Zarr output dir). */
  dataDir: string;
  /** The archive tree (also usable as a local mirror). */
  archiveDir: string;
  /** The mapping CSV path. */
  csvPath: string;
  /** Skycells of the CSV. */
  skycells: string[];
  /** The Zarr output dir to use. */
  outputDir: string;
  /** The store path. */
  storePath: string;
  /** The server. */
  server: LocalArchive;
  /** Stops the server and removes everything. */
  close(): Promise<void>;
}

const trees = new Map<string, Promise<string>>();

/** A synthetic archive tree, generated once per size and options per test process. */
function sharedTree(opts: DemoArchiveOptions): Promise<string> {
  const key = JSON.stringify(opts);
  if (!trees.has(key)) {
    trees.set(
      key,
      (async () => {
        const dir = await Deno.makeTempDir({ prefix: "ps1_tree_" });
        await writeDemoArchive(dir, { ...opts, archiveDir: path.join(dir, "ps1_archive") });
        globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
        return dir;
      })(),
    );
  }
  return trees.get(key)!;
}

/** Sets up a fresh data root (copy of the shared CSV) and a server on the shared tree. */
export async function makeArchive(
  opts: DemoArchiveOptions & { faults?: FaultPlan } = {},
): Promise<TestArchive> {
  const { faults, ...synth } = opts;
  const tree = await sharedTree({ size: 256, ...synth });
  const dataDir = await Deno.makeTempDir({ prefix: "ps1_data_" });
  const archiveDir = path.join(tree, "ps1_archive");
  // Write the CSV into the fresh data root (cheap: no pixels).
  const demo = await writeDemoArchive(dataDir, {
    ...synth,
    size: synth.size ?? 256,
    archiveDir,
    reuse: true,
  });
  const server = await startLocalArchive({ root: archiveDir, faults });
  const outputDir = path.join(dataDir, "ps1_skycells_zarr");
  return {
    dataDir,
    archiveDir,
    csvPath: demo.csvPath,
    skycells: demo.skycells,
    outputDir,
    storePath: path.join(outputDir, "ps1_skycells.zarr"),
    server,
    close: async () => {
      await server.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

/**
 * Asserts that the store holds every array of `skycells` for `bands`, equal to the source files pixel for
 * pixel (NaN where the source is blank), with the source's header string, and no temp arrays.
 */
export async function assertStoreMatchesSource(
  storePath: string,
  archiveDir: string,
  skycells: string[],
  bands = ["r", "i", "z", "y"],
): Promise<void> {
  const store = await ZarrStore.open(storePath);
  try {
    for (const skycell of skycells) {
      for (const band of bands) {
        for (const kind of ARRAY_KINDS) {
          const where = `${skycell} ${arrayName(band, kind)}`;
          const source = localPath(archiveDir, skycell, band, kind);
          const image = openImage(await Deno.readFile(source), { source });
          const type = dtypeOf(kind);
          const reader = await openArrayReader(
            store,
            `${skycellGroupPath(skycell)}/${arrayName(band, kind)}`,
          );
          assert.deepEqual(reader.info.shape, [image.height, image.width], where);
          assert.equal(reader.info.dtype, type, where);
          assert.equal(reader.header, image.storeHeader(type), `${where}: header`);
          const expected = image.readRows(0, image.height, type);
          const got = await reader.readRegion(0, image.height);
          assertSamePixels(got, expected, where);
        }
      }
    }
    const listing = await listStore(store);
    const temps = [...listing.temps, ...listing.skycells.flatMap((s) => s.temps)].map((t) => t.path);
    assert.deepEqual(temps, [], "temp arrays left in the store");
  } finally {
    store.close();
  }
}

/** Asserts two pixel arrays are equal bit for bit (NaN equals NaN). */
export function assertSamePixels(got: ArrayLike<number>, expected: ArrayLike<number>, where: string): void {
  assert.equal(got.length, expected.length, `${where}: length`);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], expected[i]) && !(Number.isNaN(got[i]) && Number.isNaN(expected[i]))) {
      assert.fail(`${where}: pixel ${i} is ${got[i]}, source has ${expected[i]}`);
    }
  }
}

/** Recursively lists every path under `dir` (sorted), for before/after comparisons. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    for await (const e of Deno.readDir(d)) {
      const p = path.join(d, e.name);
      out.push(p);
      if (e.isDirectory) await walk(p);
    }
  }
  await walk(dir).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  return out.sort();
}

/** Copies the FITS files of an archive tree into `mirror` (the local-mirror layout is the archive's). */
export async function copyMirror(archiveDir: string, mirror: string): Promise<void> {
  for (const file of await listTree(archiveDir)) {
    const rel = path.relative(archiveDir, file);
    const st = await Deno.stat(file);
    if (st.isDirectory) await Deno.mkdir(path.join(mirror, rel), { recursive: true });
    else if (file.endsWith(".fits")) await Deno.copyFile(file, path.join(mirror, rel));
  }
}
