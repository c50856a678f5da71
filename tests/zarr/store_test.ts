/**
 * Store operations: opening, node names, atomic replace and `keepComplete`, deleting nodes and temp nodes,
 * attribute updates, chunk listing, and the errors for corrupt chunks and paths that are not stores.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import zlib from "node:zlib";
import { NodeNameError, NodeNotFoundError, StoreError } from "../../lib/zarr/errors.ts";
import { arrayMetadataJson, type ArraySpec, groupMetadataJson } from "../../lib/zarr/metadata.ts";
import { listChunkFiles, openArrayReader } from "../../lib/zarr/read.ts";
import { storeTestHooks, ZarrStore } from "../../lib/zarr/store.ts";
import { isMarkedComplete, MARKER_KEY } from "../../lib/zarr/verify.ts";
import { VERSION } from "../../lib/version.ts";
import {
  assertSameBits,
  spawnChild,
  testImage,
  tree,
  withStore,
  withTempDir,
  writeImage,
} from "./_helpers.ts";

const GROUP = "2556/skycell.2556.080";
const SPEC: ArraySpec = { shape: [300, 260], dtype: "float32", chunks: [128, 128] };

Deno.test("creating a store writes the root group as zarr-python does, and the lock beside the store", async () => {
  await withTempDir(async (dir) => {
    const root = path.join(dir, "out", "ps1_skycells.zarr");
    const store = await ZarrStore.open(root, { create: true });
    store.close();
    assert.equal(await Deno.readTextFile(path.join(root, "zarr.json")), groupMetadataJson());
    assert.deepEqual(await tree(path.join(dir, "out")), [
      "ps1_skycells.zarr.lock",
      "ps1_skycells.zarr/",
      "ps1_skycells.zarr/zarr.json",
    ]);
    const again = await ZarrStore.open(root);
    assert.equal(again.root, root);
    again.close();
  });
});

Deno.test("opening a path that is not a store fails with an error naming the path and why", async () => {
  await withTempDir(async (dir) => {
    const missing = path.join(dir, "nope.zarr");
    await assert.rejects(() => ZarrStore.open(missing), (err) => {
      return err instanceof NodeNotFoundError &&
        err.message === `${missing}: not a Zarr store (does not exist)`;
    });
    await assert.rejects(
      () => ZarrStore.open(dir),
      new RegExp(`^NodeNotFoundError: ${dir}: not a Zarr store \\(has no zarr.json or .zgroup\\)`),
    );
    const file = path.join(dir, "plain.txt");
    await Deno.writeTextFile(file, "x");
    await assert.rejects(
      () => ZarrStore.open(file),
      (err) => err instanceof StoreError && err.message.startsWith(`${file}: not a readable Zarr store`),
    );
    const bad = path.join(dir, "bad.zarr");
    await Deno.mkdir(bad);
    await Deno.writeTextFile(path.join(bad, "zarr.json"), "{ not json");
    await assert.rejects(
      () => ZarrStore.open(bad),
      /bad\.zarr: not a readable Zarr store \(.*zarr\.json: invalid JSON/,
    );
    const arr = path.join(dir, "arr.zarr");
    await Deno.mkdir(arr);
    await Deno.writeTextFile(path.join(arr, "zarr.json"), arrayMetadataJson(SPEC, {}));
    await assert.rejects(
      () => ZarrStore.open(arr, { create: true }),
      /arr\.zarr: the store root is an array, not a group/,
    );
    // Nothing was created by the failed opens.
    assert.deepEqual(await tree(dir), [
      "arr.zarr/",
      "arr.zarr/zarr.json",
      "bad.zarr/",
      "bad.zarr/zarr.json",
      "plain.txt",
    ]);
  });
});

Deno.test("names with '..', '/', a leading dot, nothing, 'zarr.json' or 'c' are rejected and nothing is created", async () => {
  await withStore(async (store, dir) => {
    const before = await tree(dir);
    // Single names (arrays): none of these is one plain name.
    for (
      const bad of [
        "..",
        ".",
        "a/b",
        "/",
        "../r",
        ".hidden",
        "",
        "zarr.json",
        "c",
        "a b",
        "r\n",
        "\u00e9",
        ".zarray",
      ]
    ) {
      await assert.rejects(
        () => store.beginArray(GROUP, bad, SPEC),
        NodeNameError,
        `array name ${JSON.stringify(bad)}`,
      );
    }
    // Paths (groups, nodes): every component must be a plain name.
    const badPaths = [
      "..",
      "../x",
      "2556/../x",
      "2556/..",
      "2556//x",
      ".hidden",
      "2556/.hidden",
      "zarr.json",
      "2556/c",
      "c/x",
      "2556/zarr.json",
    ];
    for (const bad of badPaths) {
      const tries: [string, () => Promise<unknown>][] = [
        ["beginArray group", () => store.beginArray(bad, "r", SPEC)],
        ["ensureGroups", () => store.ensureGroups(bad)],
        ["deleteNode", () => store.deleteNode(bad)],
        ["deleteTemp", () => store.deleteTemp(`${bad}/r_temp_1`)],
        ["updateAttributes", () => store.updateAttributes(bad, (a) => a)],
        ["readNode", () => store.readNode(bad)],
        ["listChildren", () => store.listChildren(bad)],
      ];
      for (const [what, call] of tries) {
        await assert.rejects(call, NodeNameError, `${what} with ${JSON.stringify(bad)}`);
      }
      assert.throws(() => store.fsPath(bad), NodeNameError);
    }
    assert.deepEqual(await tree(dir), before);
  });
});

Deno.test("an array name holding the temp marker is refused", async () => {
  await withStore(async (store) => {
    await assert.rejects(() => store.beginArray(GROUP, "r_temp_x", SPEC), /reserved for temp arrays/);
  });
});

Deno.test("replacing an array keeps a complete array in place at every moment a reader looks", async () => {
  await withStore(async (store) => {
    const groupDir = store.fsPath(GROUP);
    const images = [0, 1, 2].map((seed) => testImage("float32", 300, 260, { seed: seed + 1 }));
    await writeImage(store, GROUP, "r", SPEC, images[0], { attributes: { header: "v0" } });
    // The moment between the two renames, taken every time by the store's test hook: the old array must
    // be whole under its _temp_old_ name and the new one whole under its _temp_ name.
    const seen: string[] = [];
    storeTestHooks.betweenRenames = async (finalDir) => {
      assert.equal(finalDir, path.join(groupDir, "r"));
      const names = (await fs.readdir(groupDir)).sort();
      assert.ok(!names.includes("r"), "the final name is free between the renames");
      const old = names.filter((n) => n.startsWith("r_temp_old_"));
      const fresh = names.filter((n) => n.startsWith("r_temp_") && !n.startsWith("r_temp_old_"));
      assert.equal(old.length, 1, `one old array moved aside: ${names}`);
      assert.equal(fresh.length, 1, `one new array waiting: ${names}`);
      for (const name of [...old, ...fresh]) {
        const info = await store.readNode(`${GROUP}/${name}`);
        assert.ok(info?.kind === "array" && isMarkedComplete(info), `${name} is a complete array`);
        const reader = await openArrayReader(store, `${GROUP}/${name}`);
        seen.push(`${name.startsWith("r_temp_old_") ? "old" : "new"}:${reader.header}`);
      }
    };
    try {
      for (let v = 1; v < images.length; v++) {
        const result = await writeImage(store, GROUP, "r", SPEC, images[v], {
          attributes: { header: `v${v}` },
        });
        assert.equal(result.replaced, true);
        assert.equal(result.kept, false);
      }
    } finally {
      storeTestHooks.betweenRenames = undefined;
    }
    assert.deepEqual(seen, ["old:v0", "new:v1", "old:v1", "new:v2"]);
    const reader = await openArrayReader(store, `${GROUP}/r`);
    assert.equal(reader.header, "v2");
    assertSameBits(await reader.readRegion(0, 300), images[2]);
    // Old arrays and temp names are gone.
    assert.deepEqual((await store.listChildren(GROUP)).map((c) => c.name), ["r"]);
  });
});

Deno.test("replacing an array removes every chunk of the old one, even chunks the new one does not have", async () => {
  await withStore(async (store) => {
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 1 }));
    // Data only inside chunk (1, 1).
    const sparse = new Float32Array(300 * 260).fill(NaN);
    for (let y = 130; y < 200; y++) sparse.fill(y, y * 260 + 130, y * 260 + 200);
    await writeImage(store, GROUP, "r", SPEC, sparse);
    const reader = await openArrayReader(store, `${GROUP}/r`);
    assert.deepEqual((await reader.chunkFiles()).map((f) => f.key), ["c/1/1"]);
    assertSameBits(await reader.readRegion(0, 300), sparse);
  });
});

Deno.test("keepComplete keeps a complete array that is already there and discards the new one", async () => {
  await withStore(async (store) => {
    const first = testImage("float32", 300, 260, { seed: 1 });
    await writeImage(store, GROUP, "r", SPEC, first, { attributes: { header: "first" } });
    const result = await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 2 }), {
      attributes: { header: "second" },
      keepComplete: true,
    });
    assert.equal(result.kept, true);
    assert.equal(result.replaced, false);
    const reader = await openArrayReader(store, `${GROUP}/r`);
    assert.equal(reader.header, "first");
    assertSameBits(await reader.readRegion(0, 300), first);
    assert.deepEqual((await store.listChildren(GROUP)).map((c) => c.name), ["r"]);
  });
});

Deno.test("keepComplete replaces an array that has no completion marker", async () => {
  await withStore(async (store) => {
    // An array as zarr-python (or an interrupted older tool) leaves it: metadata without the marker.
    const dir = store.fsPath(`${GROUP}/r`);
    await store.ensureGroups(GROUP);
    await Deno.mkdir(dir);
    await Deno.writeTextFile(path.join(dir, "zarr.json"), arrayMetadataJson(SPEC, { header: "old" }));
    const image = testImage("float32", 300, 260, { seed: 3 });
    const result = await writeImage(store, GROUP, "r", SPEC, image, {
      attributes: { header: "new" },
      keepComplete: true,
    });
    assert.equal(result.kept, false);
    assert.equal(result.replaced, true);
    const reader = await openArrayReader(store, `${GROUP}/r`);
    assert.equal(reader.header, "new");
    assertSameBits(await reader.readRegion(0, 300), image);
  });
});

Deno.test("a committed array records the completion marker with provenance last, beside the header", async () => {
  await withStore(async (store) => {
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 1, border: 140 }), {
      attributes: { header: "H" },
      provenance: { source: "local/x.fits", source_bytes: 12 },
    });
    const doc = JSON.parse(await Deno.readTextFile(path.join(store.fsPath(`${GROUP}/r`), "zarr.json")));
    assert.deepEqual(Object.keys(doc.attributes), ["header", MARKER_KEY]);
    const marker = doc.attributes[MARKER_KEY];
    assert.deepEqual(Object.keys(marker), [
      "source",
      "source_bytes",
      "complete",
      "stored_chunks",
      "fill_chunks",
      "written_at",
      "writer",
    ]);
    assert.equal(marker.complete, true);
    assert.equal(marker.stored_chunks, 0);
    // Every chunk of the 3 x 3 grid holds only NaN: each is recorded as left out, none as stored.
    assert.deepEqual(marker.fill_chunks, [
      "c/0/0",
      "c/0/1",
      "c/0/2",
      "c/1/0",
      "c/1/1",
      "c/1/2",
      "c/2/0",
      "c/2/1",
      "c/2/2",
    ]);
    assert.equal(marker.writer, `ps1-zarr ${VERSION}`);
    assert.ok(!Number.isNaN(Date.parse(marker.written_at)));
    // The whole file is what arrayMetadataJson gives for the same attributes.
    assert.equal(
      await Deno.readTextFile(path.join(store.fsPath(`${GROUP}/r`), "zarr.json")),
      arrayMetadataJson(SPEC, doc.attributes),
    );
  });
});

Deno.test("deleteNode removes arrays and whole groups, reports missing nodes, refuses the root", async () => {
  await withStore(async (store) => {
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 1 }));
    await writeImage(store, GROUP, "i", SPEC, testImage("float32", 300, 260, { seed: 2 }));
    await writeImage(store, "2556/skycell.2556.081", "r", SPEC, testImage("float32", 300, 260, { seed: 3 }));
    assert.equal(await store.deleteNode(`${GROUP}/r`), true);
    assert.equal(await store.readNode(`${GROUP}/r`), null);
    assert.deepEqual((await store.listChildren(GROUP)).map((c) => c.name), ["i"]);
    assert.equal(await store.deleteNode(`${GROUP}/r`), false);
    assert.equal(await store.deleteNode(GROUP), true);
    assert.deepEqual((await store.listChildren("2556")).map((c) => c.name), ["skycell.2556.081"]);
    await assert.rejects(() => store.deleteNode(""), /refusing to delete the store root/);
    await assert.rejects(() => store.deleteNode("/"), /refusing to delete the store root/);
    assert.equal((await store.readNode(""))?.kind, "group");
  });
});

Deno.test("deleteTemp removes temp nodes only", async () => {
  await withStore(async (store) => {
    await store.ensureGroups(GROUP);
    const temp = `${GROUP}/r_temp_0123456789abcdef`;
    await Deno.mkdir(path.join(store.fsPath(temp), "c", "0"), { recursive: true });
    await Deno.writeTextFile(path.join(store.fsPath(temp), "c", "0", "0"), "partial");
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 1 }));
    await assert.rejects(() => store.deleteTemp(`${GROUP}/r`), /not a temp node/);
    await assert.rejects(() => store.deleteTemp(""), /not a temp node/);
    assert.equal(await store.deleteTemp(temp), true);
    assert.equal(await store.deleteTemp(temp), false);
    assert.deepEqual((await store.listChildren(GROUP)).map((c) => c.name), ["r"]);
  });
});

Deno.test("updateAttributes rewrites array and group attributes in zarr-python's text form", async () => {
  await withStore(async (store) => {
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 1 }), {
      attributes: { header: "H" },
    });
    await store.updateAttributes(
      `${GROUP}/r`,
      (attrs) => ({ ...attrs, header: "H2 caf\u00e9", extra: 1e-6 }),
    );
    const file = path.join(store.fsPath(`${GROUP}/r`), "zarr.json");
    const doc = JSON.parse(await Deno.readTextFile(file));
    assert.equal(doc.attributes.header, "H2 caf\u00e9");
    assert.equal(await Deno.readTextFile(file), arrayMetadataJson(SPEC, doc.attributes));
    assert.match(await Deno.readTextFile(file), /"extra": 1e-06\n/);
    // The callback gets a copy: changing it without returning it changes nothing.
    await store.updateAttributes(`${GROUP}/r`, (attrs) => {
      attrs.header = "mutated";
      return { header: "returned" };
    });
    assert.equal((await store.readArray(`${GROUP}/r`)).attributes.header, "returned");
    await store.updateAttributes(GROUP, () => ({ header: "group header" }));
    assert.equal(
      await Deno.readTextFile(path.join(store.fsPath(GROUP), "zarr.json")),
      groupMetadataJson({ header: "group header" }),
    );
    await assert.rejects(() => store.updateAttributes(`${GROUP}/none`, (a) => a), NodeNotFoundError);
    // No temp files are left beside the metadata.
    assert.deepEqual([...Deno.readDirSync(store.fsPath(GROUP))].map((e) => e.name).sort(), [
      "r",
      "zarr.json",
    ]);
  });
});

Deno.test("updateAttributes refuses a format 2 node", async () => {
  await withStore(async (store, dir) => {
    const legacy = path.join(dir, "s.zarr", "projections");
    await Deno.mkdir(legacy);
    await Deno.writeTextFile(path.join(legacy, ".zgroup"), '{"zarr_format": 2}');
    await assert.rejects(
      () => store.updateAttributes("projections", (a) => a),
      /no Zarr format 3 node to update/,
    );
    await assert.rejects(
      () => store.ensureGroups("projections/2556"),
      /a Zarr format 2 group \(read-only here\)/,
    );
  });
});

Deno.test("listChunkFiles lists the chunk files present with their sizes and ignores stray files", async () => {
  await withStore(async (store) => {
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 1 }));
    const dir = store.fsPath(`${GROUP}/r`);
    await Deno.writeTextFile(path.join(dir, "c", "0", "junk"), "x");
    await Deno.writeTextFile(path.join(dir, "c", "9"), "x");
    await Deno.remove(path.join(dir, "c", "1", "2"));
    const files = await listChunkFiles(store.root, dir, await store.readArray(`${GROUP}/r`));
    assert.deepEqual(files.map((f) => f.key), [
      "c/0/0",
      "c/0/1",
      "c/0/2",
      "c/1/0",
      "c/1/1",
      "c/2/0",
      "c/2/1",
      "c/2/2",
    ]);
    assert.deepEqual(files[4].coords, [1, 1]);
    for (const f of files) assert.equal(f.bytes, (await Deno.stat(path.join(dir, f.key))).size);
  });
});

Deno.test("a torn, foreign or wrong-length chunk fails the read with a StoreError naming the chunk file", async () => {
  await withStore(async (store) => {
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 1 }));
    const dir = store.fsPath(`${GROUP}/r`);
    const reader = await openArrayReader(store, `${GROUP}/r`);
    const chunk = path.join(dir, "c", "1", "1");
    const good = await Deno.readFile(chunk);
    const cases: [string, Uint8Array, RegExp][] = [
      ["torn", good.subarray(0, Math.floor(good.length / 2)), /truncated chunk file/],
      ["empty", new Uint8Array(0), /empty chunk file/],
      ["foreign", new TextEncoder().encode("not a zstd frame"), /zstd decode failed/],
      [
        "short",
        zlib.zstdCompressSync(new Uint8Array(128 * 100 * 4)),
        /decoded 51200 bytes, expected 65536|frame records 51200 bytes, the chunk has 65536/,
      ],
      [
        "long",
        zlib.zstdCompressSync(new Uint8Array(128 * 128 * 4 + 4)),
        /decodes to more than 65536 bytes|frame records 65540 bytes, the chunk has 65536/,
      ],
    ];
    for (const [what, bytes, message] of cases) {
      await Deno.writeFile(chunk, bytes);
      await assert.rejects(
        () => reader.readRegion(0, 300),
        (err) =>
          err instanceof StoreError && err.message.startsWith(`${chunk}: `) && message.test(err.message),
        what,
      );
      await assert.rejects(() => reader.readChunk([1, 1]), StoreError, what);
    }
    // Windows that do not touch the damaged chunk still read.
    assert.equal((await reader.readRegion(0, 128, 0, 128)).length, 128 * 128);
  });
});

Deno.test("a temp array removed before its commit fails the commit and leaves the existing array alone", async () => {
  await withStore(async (store) => {
    const old = testImage("float32", 300, 260, { seed: 1 });
    await writeImage(store, GROUP, "r", SPEC, old, { attributes: { header: "old" } });
    const build = await store.beginArray(GROUP, "r", SPEC);
    for (let row = 0; row < build.chunkRows; row++) build.writeChunkRow(row, build.takeBand(row).fill(1));
    // What an inventory `--cleanup-temp` run in another process does meanwhile.
    assert.equal(await store.deleteTemp(`${GROUP}/${build.tempName}`), true);
    await assert.rejects(() => build.commit({ header: "new" }), StoreError);
    const reader = await openArrayReader(store, `${GROUP}/r`);
    assert.equal(reader.header, "old");
    assertSameBits(await reader.readRegion(0, 300), old);
    assert.deepEqual((await store.listChildren(GROUP)).map((c) => c.name), ["r"]);
  });
});

Deno.test("installing a temp array that has no metadata fails before the existing array is moved", async () => {
  await withStore(async (store) => {
    const old = testImage("float32", 300, 260, { seed: 1 });
    await writeImage(store, GROUP, "r", SPEC, old, { attributes: { header: "old" } });
    const temp = "r_temp_0123456789ab";
    await Deno.mkdir(store.fsPath(`${GROUP}/${temp}`));
    await assert.rejects(() => store._install(GROUP, "r", temp, false), /disappeared before it was renamed/);
    await Deno.remove(store.fsPath(`${GROUP}/${temp}`));
    await assert.rejects(() => store._install(GROUP, "r", temp, false), /disappeared before it was renamed/);
    assertSameBits(await (await openArrayReader(store, `${GROUP}/r`)).readRegion(0, 300), old);
    assert.deepEqual((await store.listChildren(GROUP)).map((c) => c.name), ["r"]);
  });
});

Deno.test("an array is renamed into place while the store lock is held: another process cannot take it then", async () => {
  await withStore(async (store) => {
    await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 1 }));
    const seen: string[] = [];
    storeTestHooks.betweenRenames = async () => {
      // A process that tries the lock for 300 ms at exactly this moment must be told it is held.
      const child = spawnChild(["try-lock", store.root, "300"]);
      const out = await child.output();
      seen.push(new TextDecoder().decode(out.stdout).trim().split(" ")[0]);
    };
    try {
      await writeImage(store, GROUP, "r", SPEC, testImage("float32", 300, 260, { seed: 2 }));
    } finally {
      storeTestHooks.betweenRenames = undefined;
    }
    assert.deepEqual(seen, ["timeout"]);
  });
});
