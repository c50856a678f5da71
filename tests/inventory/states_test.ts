import assert from "node:assert/strict";
import * as path from "node:path";
import { inventory } from "../../lib/inventory/mod.ts";
import type { ArrayRecord, Inventory, SkycellRecord } from "../../lib/inventory/mod.ts";
import { allocate } from "../../lib/zarr/chunks.ts";
import { dtypeOf, skycellGroupPath } from "../../lib/store/layout.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { editMetadata, headersOf, makeStore, type PixelFn, tempDir, writeSkycell } from "./_store.ts";

const A = "skycell.2556.080";
const B = "skycell.2556.081";
const C = "skycell.2557.001";

function skycell(inv: Inventory, name: string): SkycellRecord {
  const s = inv.skycells.find((s) => s.name === name);
  assert.ok(s, `no record of ${name}`);
  return s;
}

function array(inv: Inventory, name: string, arrayName: string): ArrayRecord {
  const a = inv.arrays.find((a) => a.skycell === name && a.name === arrayName);
  assert.ok(a, `no record of ${name}/${arrayName}`);
  return a;
}

function assertAddsUp(inv: Inventory): void {
  const k = inv.summary.skycells;
  assert.equal(k.complete + k.incomplete + k.corrupt, k.total);
  assert.equal(k.total, inv.skycells.length);
  const a = inv.summary.arrays;
  assert.equal(a.healthy + a.corrupt + a.missing, a.expected);
  assert.equal(a.expected, inv.skycells.reduce((n, s) => n + s.expected.length, 0));
}

async function withStore(
  skycells: string[],
  fn: (store: ZarrStore, dir: string) => Promise<void>,
  opts: Parameters<typeof makeStore>[2] = {},
): Promise<void> {
  const { dir, remove } = await tempDir();
  const store = await makeStore(dir, skycells, opts);
  try {
    await fn(store, dir);
  } finally {
    store.close();
    await remove();
  }
}

const arrayDir = (store: ZarrStore, name: string, arr: string) =>
  store.fsPath(`${skycellGroupPath(name)}/${arr}`);

Deno.test("a healthy store: every skycell complete, every array healthy, counts add up", async () => {
  await withStore([A, B], async (store) => {
    for (const deep of [false, true]) {
      const inv = await inventory(store, { deep, workers: 1 });
      assertAddsUp(inv);
      assert.deepEqual(inv.summary.skycells, {
        total: 2,
        complete: 2,
        incomplete: 0,
        corrupt: 0,
        unreadable: 0,
        current: 2,
        legacy: 0,
      });
      assert.equal(inv.summary.arrays.healthy, 24);
      assert.equal(inv.arrays.length, 24);
      for (const a of inv.arrays) {
        assert.equal(a.status, "healthy", `${a.path}: ${JSON.stringify(a.problems)}`);
        assert.equal(a.chunksExpected, 16);
        assert.equal(a.marker?.storedChunks, a.chunksPresent);
        assert.equal(a.deep, deep);
      }
      assert.ok(inv.summary.bytesOnDisk > 0);
      assert.equal(inv.summary.decodedBytes, 2 * 4 * (199 * 200 * 4 * 2 + 199 * 200 * 2));
      assert.deepEqual(inv.summary.bandCompleteness.r, { complete: 2, total: 2 });
      assert.equal(inv.summary.temps.count, 0);
      assert.equal(inv.summary.unexpected, 0);
    }
  });
});

Deno.test("an all-NaN image corner, an all-NaN image and an all-zero mask are healthy (the Python tool called them corrupt)", async () => {
  const pixels: PixelFn = (kind, w, h) => {
    const data = allocate(dtypeOf(kind), w * h);
    if (kind === "image") data.fill(NaN); // off-survey: every chunk is fill, none is stored
    else if (kind === "weight") {
      for (let i = 0; i < data.length; i++) data[i] = (i % w) < 100 && i < 100 * w ? NaN : 1;
    } // masks stay all zero
    return data;
  };
  await withStore([A], async (store) => {
    const inv = await inventory(store, { deep: true, workers: 1 });
    assert.equal(skycell(inv, A).state, "complete");
    const image = array(inv, A, "r");
    assert.equal(image.status, "healthy");
    assert.equal(image.chunksPresent, 0);
    assert.equal(image.marker?.storedChunks, 0);
    const mask = array(inv, A, "r_mask");
    assert.equal(mask.status, "healthy");
    assert.equal(mask.chunksPresent, 0);
    const weight = array(inv, A, "r_wt");
    assert.equal(weight.status, "healthy");
    assert.ok(weight.chunksPresent! < weight.chunksExpected!, "the NaN corner chunks are not stored");
    assert.equal(weight.chunksAllFill, 0);
  }, { pixels });
});

Deno.test("missing arrays make a skycell incomplete, not corrupt", async () => {
  await withStore([A], async (store) => {
    await writeSkycell(store, B, { kinds: ["image", "mask"] }); // an old store: no weights
    await store.ensureGroups(skycellGroupPath(C)); // a group with no array at all
    const inv = await inventory(store, { workers: 1 });
    assertAddsUp(inv);
    assert.equal(skycell(inv, A).state, "complete");
    const b = skycell(inv, B);
    assert.equal(b.state, "incomplete");
    assert.deepEqual(b.missing, ["r_wt", "i_wt", "z_wt", "y_wt"]);
    assert.equal(b.present.length, 8);
    assert.equal(array(inv, B, "r_wt").status, "missing");
    assert.equal(array(inv, B, "r_wt").exists, false);
    const c = skycell(inv, C);
    assert.equal(c.state, "incomplete");
    assert.equal(c.missing.length, 12);
    assert.deepEqual(inv.summary.skycells, {
      total: 3,
      complete: 1,
      incomplete: 2,
      corrupt: 0,
      unreadable: 0,
      current: 3,
      legacy: 0,
    });
    assert.equal(inv.summary.arrays.missing, 16);
    assert.deepEqual(inv.summary.bandCompleteness.r, { complete: 1, total: 3 });
  });
});

Deno.test("garbage zarr.json, a wrong dtype, a shape against NAXIS and a missing header are corrupt", async () => {
  await withStore([A], async (store) => {
    const g = skycellGroupPath(A);
    await Deno.writeTextFile(path.join(arrayDir(store, A, "r"), "zarr.json"), "{ not json");
    await editMetadata(store, `${g}/i`, (d) => void (d.data_type = "float64"));
    await editMetadata(store, `${g}/z`, (d) => void (d.shape = [199, 201]));
    await editMetadata(store, `${g}/y`, (d) => void delete (d.attributes as Record<string, unknown>).header);
    await editMetadata(store, `${g}/r_mask`, (d) => void (d.data_type = "float32"));
    await editMetadata(store, `${g}/i_mask`, (d) => {
      d.shape = [199, 200, 1];
      d.chunk_grid = { name: "regular", configuration: { chunk_shape: [64, 64, 1] } };
    });
    await editMetadata(
      store,
      `${g}/z_mask`,
      (d) =>
        void ((d.attributes as Record<string, unknown>).header = "NAXIS   =                    2".padEnd(
          2880,
        )),
    );
    await editMetadata(
      store,
      `${g}/y_mask`,
      (d) => void ((d.attributes as Record<string, unknown>).header = 42),
    );
    await Deno.remove(path.join(arrayDir(store, A, "r_wt"), "zarr.json"));
    const inv = await inventory(store, { workers: 1 });
    assertAddsUp(inv);
    const s = skycell(inv, A);
    assert.equal(s.state, "corrupt");
    const codes = (name: string) => array(inv, A, name).problems.map((p) => p.code);
    assert.deepEqual(codes("r"), ["metadata_invalid"]);
    assert.deepEqual(codes("i"), ["wrong_dtype"]);
    assert.deepEqual(codes("z"), ["shape_mismatch"]);
    assert.deepEqual(codes("y"), ["header_missing"]);
    assert.deepEqual(codes("r_mask"), ["wrong_dtype"]);
    assert.deepEqual(codes("i_mask"), ["wrong_ndim"]);
    assert.deepEqual(codes("z_mask"), ["header_no_naxis"]);
    assert.deepEqual(codes("y_mask"), ["header_invalid"]);
    assert.deepEqual(codes("r_wt"), ["metadata_missing"]);
    assert.deepEqual(s.corrupt.sort(), ["i", "i_mask", "r", "r_mask", "r_wt", "y", "y_mask", "z", "z_mask"]);
    assert.match(
      array(inv, A, "z").problems[0].message,
      /199 x 201 contradicts the header's NAXIS2 x NAXIS1 = 199 x 200/,
    );
    assert.equal(array(inv, A, "i_wt").status, "healthy");
  });
});

Deno.test("a truncated chunk is found only by --deep; fewer chunks than the marker and empty chunk files without", async () => {
  await withStore([A], async (store) => {
    const torn = path.join(arrayDir(store, A, "r"), "c", "1", "1");
    const bytes = await Deno.readFile(torn);
    await Deno.writeFile(torn, bytes.subarray(0, bytes.length - 1));
    const zstdError = path.join(arrayDir(store, A, "i"), "c", "1", "1");
    await Deno.writeFile(zstdError, new TextEncoder().encode("not a zstd frame at all"));
    await Deno.remove(path.join(arrayDir(store, A, "z"), "c", "2", "2"));
    // A marker of an earlier version records only the count of chunk files.
    await Deno.remove(path.join(arrayDir(store, A, "z_wt"), "c", "2", "2"));
    await editMetadata(store, `${skycellGroupPath(A)}/z_wt`, (doc) => {
      delete (doc.attributes as { ps1_zarr: Record<string, unknown> }).ps1_zarr.fill_chunks;
    });
    await Deno.writeFile(path.join(arrayDir(store, A, "y"), "c", "0", "3"), new Uint8Array(0));

    const shallow = await inventory(store, { workers: 1 });
    assertAddsUp(shallow);
    // The shallow check sees the file counts and sizes only.
    assert.equal(array(shallow, A, "r").status, "healthy");
    assert.equal(array(shallow, A, "i").status, "healthy");
    assert.deepEqual(array(shallow, A, "z").problems.map((p) => p.code), ["chunk_missing"]);
    assert.match(
      array(shallow, A, "z").problems[0].message,
      /recorded by the completion marker are gone: c\/2\/2/,
    );
    assert.deepEqual(array(shallow, A, "z_wt").problems.map((p) => p.code), ["chunks_below_marker"]);
    assert.match(
      array(shallow, A, "z_wt").problems[0].message,
      /15 chunk files present, the completion marker records 16/,
    );
    assert.deepEqual(array(shallow, A, "y").problems.map((p) => p.code), ["empty_chunk_file"]);
    assert.equal(skycell(shallow, A).state, "corrupt");

    const deep = await inventory(store, { deep: true, workers: 1 });
    assert.deepEqual(array(deep, A, "r").problems.map((p) => p.code), ["chunk_undecodable"]);
    assert.match(array(deep, A, "r").problems[0].message, /c\/1\/1.*cut short/);
    assert.deepEqual(array(deep, A, "i").problems.map((p) => p.code), ["chunk_undecodable"]);
    assert.equal(array(deep, A, "r_mask").status, "healthy");
    assert.equal(deep.summary.arrays.corrupt, 5);
  });
});

Deno.test("a chunk that decodes to the wrong length is corrupt with --deep", async () => {
  await withStore([A], async (store) => {
    const { encodeChunk } = await import("../../lib/zarr/chunks.ts");
    const file = path.join(arrayDir(store, A, "r"), "c", "0", "1");
    await Deno.writeFile(file, encodeChunk(new Float32Array(64 * 63).fill(1)));
    const inv = await inventory(store, { deep: true, workers: 1 });
    const r = array(inv, A, "r");
    assert.deepEqual(r.problems.map((p) => p.code), ["chunk_undecodable"]);
    assert.match(r.problems[0].message, /16128 bytes, the chunk has 16384/);
  });
});

Deno.test("temp arrays and unexpected nodes are reported and change no state", async () => {
  await withStore([A], async (store) => {
    const g = store.fsPath(skycellGroupPath(A));
    await Deno.mkdir(path.join(g, "r_temp_abandoned", "c", "0"), { recursive: true });
    await Deno.writeTextFile(path.join(g, "r_temp_abandoned", "c", "0", "0"), "x".repeat(100));
    await Deno.mkdir(path.join(g, "notes"));
    await Deno.writeTextFile(
      path.join(g, "notes", "zarr.json"),
      '{"zarr_format":3,"node_type":"group","attributes":{}}',
    );
    await Deno.mkdir(path.join(store.root, "scratch"));
    await Deno.mkdir(path.join(store.root, "2556", "skycell.9999.000"));
    await Deno.mkdir(path.join(store.root, "2556", "skycell.2556.081_temp_old_x"));
    const inv = await inventory(store, { workers: 1 });
    assertAddsUp(inv);
    const s = skycell(inv, A);
    assert.equal(s.state, "complete");
    assert.deepEqual(s.temps, ["r_temp_abandoned"]);
    assert.deepEqual(s.unexpected, ["notes"]);
    assert.deepEqual(inv.temps.map((t) => t.path), [
      "2556/skycell.2556.080/r_temp_abandoned",
      "2556/skycell.2556.081_temp_old_x",
    ]);
    assert.equal(inv.temps[0].bytes, 100);
    assert.deepEqual(inv.unexpected.map((u) => [u.path, u.nodeType]), [
      ["2556/skycell.2556.080/notes", "group"],
      ["2556/skycell.9999.000", "directory"],
      ["scratch", "directory"],
    ]);
    assert.equal(inv.summary.temps.count, 2);
    assert.equal(inv.summary.unexpected, 3);
  });
});

Deno.test("a skycell with both missing and corrupt arrays is corrupt; a damaged group is corrupt", async () => {
  await withStore([A, B], async (store) => {
    await Deno.remove(arrayDir(store, A, "r_wt"), { recursive: true });
    await editMetadata(store, `${skycellGroupPath(A)}/r`, (d) => void (d.shape = [10, 10]));
    await Deno.remove(path.join(store.fsPath(skycellGroupPath(B)), "zarr.json"));
    const inv = await inventory(store, { workers: 1 });
    assertAddsUp(inv);
    const a = skycell(inv, A);
    assert.equal(a.state, "corrupt");
    assert.deepEqual(a.missing, ["r_wt"]);
    assert.deepEqual(a.corrupt, ["r"]);
    const b = skycell(inv, B);
    assert.equal(b.state, "corrupt");
    assert.match(b.groupProblems[0], /skycell group 2556\/skycell.2556.081: no zarr.json/);
    assert.equal(b.corrupt.length, 0);
  });
});

Deno.test("a projection group without metadata makes its skycells corrupt and is a store problem", async () => {
  await withStore([A], async (store) => {
    await Deno.remove(path.join(store.root, "2556", "zarr.json"));
    const inv = await inventory(store, { workers: 1 });
    assert.equal(skycell(inv, A).state, "corrupt");
    assert.deepEqual(inv.summary.storeProblems, ["projection group 2556: no zarr.json or .zgroup"]);
  });
});

Deno.test("consolidated metadata in the store is a note (zarr-python trusts it over the tree), not damage", async () => {
  await withStore([A], async (store) => {
    const root = path.join(store.root, "zarr.json");
    const doc = JSON.parse(await Deno.readTextFile(root));
    doc.consolidated_metadata = { kind: "inline", must_understand: false, metadata: {} };
    await Deno.writeTextFile(root, JSON.stringify(doc));
    const inv = await inventory(store, { workers: 1 });
    assert.equal(inv.summary.skycells.complete, 1);
    assert.equal(inv.summary.storeNotes.length, 1);
    assert.match(inv.summary.storeNotes[0], /consolidated metadata/);
    assert.deepEqual(inv.summary.storeProblems, []);
  });
});

Deno.test("arrays of other bands are checked but count towards no state; --bands decides", async () => {
  await withStore([A], async (store) => {
    await writeSkycell(store, A, { bands: ["g"] });
    await editMetadata(store, `${skycellGroupPath(A)}/g_mask`, (d) => void (d.data_type = "int32"));
    const inv = await inventory(store, { workers: 1 });
    assert.equal(skycell(inv, A).state, "complete");
    assert.deepEqual(skycell(inv, A).otherBand, ["g", "g_mask", "g_wt"]);
    assert.equal(array(inv, A, "g").role, "other_band");
    assert.equal(inv.summary.arrays.otherBand, 3);
    assert.equal(inv.summary.arrays.otherBandCorrupt, 1);
    const withG = await inventory(store, { workers: 1, bands: ["g", "r"] });
    assert.equal(skycell(withG, A).state, "corrupt");
    assert.deepEqual(skycell(withG, A).expected, ["g", "g_mask", "g_wt", "r", "r_mask", "r_wt"]);
    const onlyI = await inventory(store, { workers: 1, bands: ["i"] });
    assert.equal(onlyI.summary.arrays.expected, 3);
    await assert.rejects(() => inventory(store, { bands: ["x"] }), /unknown PS1 band "x"/);
  });
});

Deno.test("the header falls back to the skycell group's (old stores)", async () => {
  await withStore([A], async (store) => {
    const h = await headersOf(200);
    const g = skycellGroupPath(A);
    await store.updateAttributes(g, () => ({ header: h.image }));
    for (const name of ["r", "r_mask", "r_wt"]) {
      await editMetadata(
        store,
        `${g}/${name}`,
        (d) => void delete (d.attributes as Record<string, unknown>).header,
      );
    }
    const inv = await inventory(store, { workers: 1 });
    assert.equal(skycell(inv, A).state, "complete");
    assert.equal(array(inv, A, "r").header?.source, "group");
    assert.ok(array(inv, A, "r").notes.some((n) => /skycell group/.test(n)));
  });
});

Deno.test("workers give the same records as checking on one thread", async () => {
  const names = Array.from({ length: 18 }, (_, i) => `skycell.2556.0${String(i).padStart(2, "0")}`);
  await withStore(names, async (store) => {
    await Deno.remove(arrayDir(store, names[3], "y_wt"), { recursive: true });
    await editMetadata(store, `${skycellGroupPath(names[5])}/i`, (d) => void (d.shape = [1, 1]));
    const one = await inventory(store, { workers: 1, deep: true });
    const two = await inventory(store, { workers: 2, deep: true });
    assert.deepEqual(two.skycells, one.skycells);
    assert.deepEqual(two.arrays, one.arrays);
    assert.deepEqual({ ...two.summary, seconds: 0 }, { ...one.summary, seconds: 0 });
    assert.equal(one.summary.skycells.incomplete, 1);
    assert.equal(one.summary.skycells.corrupt, 1);
  }, { kinds: ["image", "mask", "weight"], bands: ["r", "i", "z", "y"], chunks: [128, 128] });
});
