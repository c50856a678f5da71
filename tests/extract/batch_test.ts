/**
 * Batch extraction through the command line: every array of a skycell, one band of every skycell; per
 * file ✓/✗ lines and a summary; one failure does not stop the batch and makes the exit code 1; existing
 * files are refused per file unless --overwrite.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { FitsHeader } from "../../lib/fits/header.ts";
import { openImage } from "../../lib/fits/image.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { extractBatch, skycellBatchItems } from "../../lib/extract/mod.ts";
import { main } from "../../zarr_to_fits.ts";
import {
  archiveSources,
  buildStore,
  captured,
  expectedCards,
  sameBits,
  SKYCELL_A,
  SKYCELL_B,
  type SourceArray,
  standardFixture,
  treeOf,
} from "./_store.ts";

const fx = await standardFixture();
const ORDER = ["r", "r_mask", "r_wt", "i", "i_mask", "i_wt", "z", "z_mask", "z_wt", "y", "y_mask", "y_wt"];

async function checkFile(file: string, src: SourceArray): Promise<void> {
  const bytes = await Deno.readFile(file);
  const { header } = FitsHeader.parse(bytes);
  assert.deepEqual(header.cards.slice(5).map((c) => c.text), expectedCards(src.header), `${file}: cards`);
  const img = openImage(bytes);
  sameBits(img.readRows(0, img.height, src.kind === "mask" ? "uint16" : "float32"), src.pixels, file);
}

Deno.test("--skycell --batch writes the 12 arrays into {output-dir}/{skycell}/ with a ✓ line each", async () => {
  const out = path.join(fx.dir, "batch_all");
  const r = await captured(() =>
    main(["--zarr-path", fx.store, "--skycell", SKYCELL_A, "--batch", "--output-dir", out])
  );
  assert.equal(r.value, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.equal(lines.length, 13);
  ORDER.forEach((name, i) => {
    assert.match(
      lines[i],
      new RegExp(`^✓ \\[${i + 1}/12\\] .*/${SKYCELL_A}/${SKYCELL_A}_${name}\\.fits \\(300 x 299, `),
    );
  });
  assert.equal(lines[12], "12 file(s): 12 written, 0 failed");
  assert.deepEqual(await treeOf(out), ORDER.map((n) => `${SKYCELL_A}/${SKYCELL_A}_${n}.fits`).sort());
  for (const name of ORDER) {
    const [band, suffix] = name.split("_");
    const kind = suffix === "mask" ? "mask" : suffix === "wt" ? "weight" : "image";
    await checkFile(path.join(out, SKYCELL_A, `${SKYCELL_A}_${name}.fits`), fx.source(SKYCELL_A, band, kind));
  }
});

Deno.test("one failing array: ✗ for it, ✓ for the other 11, exit 1, nothing left of the failed file", async () => {
  const store = await fx.copyStore("one_bad.zarr");
  await Deno.writeFile(
    path.join(store, "2556", SKYCELL_A, "i_mask", "c", "1", "2"),
    new Uint8Array(40).fill(7),
  );
  const out = path.join(fx.dir, "batch_one_bad");
  const r = await captured(() =>
    main(["--zarr-path", store, "--skycell", SKYCELL_A, "--batch", "--output-dir", out, "--compress", "gzip"])
  );
  assert.equal(r.value, 1, r.stderr);
  const lines = r.stdout.split("\n");
  const failed = lines.filter((l) => l.startsWith("✗"));
  assert.equal(lines.filter((l) => l.startsWith("✓")).length, 11);
  assert.equal(failed.length, 1);
  assert.match(failed[0], /^✗ \[5\/12\] skycell\.2556\.080 i mask: .*i_mask\/c\/1\/2/);
  assert.equal(lines.at(-1), "12 file(s): 11 written, 1 failed");
  const files = await treeOf(out);
  assert.equal(files.length, 11);
  assert.ok(!files.some((f) => f.includes("i_mask") || f.includes(".tmp")), files.join(", "));
  // The files after the failure are complete too.
  const img = openImage(await Deno.readFile(path.join(out, SKYCELL_A, `${SKYCELL_A}_y_wt.fits`)));
  sameBits(
    img.readRows(0, img.height, "float32"),
    fx.source(SKYCELL_A, "y", "weight").pixels,
    "y_wt after the failure",
  );
});

Deno.test("an incomplete skycell's batch reports its missing arrays as ✗", async () => {
  const out = path.join(fx.dir, "batch_b");
  const r = await captured(() =>
    main(["--zarr-path", fx.store, "--skycell", SKYCELL_B, "--batch", "--output-dir", out])
  );
  assert.equal(r.value, 1);
  const lines = r.stdout.split("\n");
  assert.equal(lines.filter((l) => l.startsWith("✓")).length, 3);
  assert.match(
    lines[3],
    /^✗ \[4\/12\] skycell\.2556\.081 i image: skycell skycell\.2556\.081 has no array i \(missing/,
  );
  assert.equal(lines.at(-1), "12 file(s): 3 written, 9 failed");
  assert.deepEqual(
    await treeOf(out),
    ["r", "r_mask", "r_wt"].map((n) => `${SKYCELL_B}/${SKYCELL_B}_${n}.fits`),
  );
  // --band and a kind narrow the skycell batch.
  const narrow = path.join(fx.dir, "batch_narrow");
  const n = await captured(() =>
    main(["--zarr-path", fx.store, "--skycell", SKYCELL_A, "--batch", "--band", "z", "--output-dir", narrow])
  );
  assert.equal(n.value, 0, n.stderr);
  assert.deepEqual(
    await treeOf(narrow),
    ["z", "z_mask", "z_wt"].map((x) => `${SKYCELL_A}/${SKYCELL_A}_${x}.fits`),
  );
  const masks = path.join(fx.dir, "batch_masks");
  const m = await captured(() =>
    main(["--zarr-path", fx.store, "--skycell", SKYCELL_A, "--batch", "--mask", "--output-dir", masks])
  );
  assert.equal(m.value, 0, m.stderr);
  assert.equal((await treeOf(masks)).filter((f) => f.endsWith("_mask.fits")).length, 4);
});

Deno.test("--band --batch extracts that band of every skycell into {output-dir}/", async () => {
  const out = path.join(fx.dir, "band_r");
  const r = await captured(() =>
    main(["--zarr-path", fx.store, "--band", "r", "--batch", "--output-dir", out])
  );
  assert.equal(r.value, 0, r.stderr);
  assert.equal(r.stdout.split("\n").at(-1), "2 file(s): 2 written, 0 failed");
  assert.deepEqual(await treeOf(out), [`${SKYCELL_A}_r.fits`, `${SKYCELL_B}_r.fits`]);
  await checkFile(path.join(out, `${SKYCELL_B}_r.fits`), fx.source(SKYCELL_B, "r", "image"));
  const wt = path.join(fx.dir, "band_i_wt");
  const w = await captured(() =>
    main(["--zarr-path", fx.store, "--band", "i", "--weight", "--batch", "--output-dir", wt])
  );
  assert.equal(w.value, 1);
  assert.match(w.stdout, /✓ \[1\/2\] .*skycell\.2556\.080_i_wt\.fits/);
  assert.match(w.stdout, /✗ \[2\/2\] skycell\.2556\.081 i weight: .*has no array i_wt/);
  await checkFile(path.join(wt, `${SKYCELL_A}_i_wt.fits`), fx.source(SKYCELL_A, "i", "weight"));
});

Deno.test("a batch refuses existing files one by one unless --overwrite; --json gives a summary", async () => {
  const out = path.join(fx.dir, "band_again");
  const args = ["--zarr-path", fx.store, "--band", "y", "--mask", "--batch", "--output-dir", out];
  assert.equal((await captured(() => main(args))).value, 1, "the second skycell lacks band y");
  const file = path.join(out, `${SKYCELL_A}_y_mask.fits`);
  const before = await Deno.readFile(file);
  const again = await captured(() => main([...args, "--json"]));
  assert.equal(again.value, 1);
  const j = JSON.parse(again.stdout);
  assert.equal(j.ok, 0);
  assert.equal(j.failed, 2);
  assert.match(j.files[0].error, /y_mask\.fits exists \(use --overwrite/);
  assert.equal(j.files[0].skycell, SKYCELL_A);
  assert.match(j.files[1].error, /has no array y_mask/);
  assert.match(again.stderr, /✗ \[1\/2\] .*exists/);
  assert.deepEqual(await Deno.readFile(file), before);
  const forced = await captured(() => main([...args, "--overwrite", "--json"]));
  assert.equal(forced.value, 1);
  const f = JSON.parse(forced.stdout);
  assert.equal(f.ok, 1);
  assert.equal(f.files[0].ok, true);
  assert.equal(f.files[0].output, file);
  assert.equal(f.files[0].kind, "mask");
});

Deno.test("a skycell batch includes the g band when the skycell has it", async () => {
  const store = path.join(fx.dir, "with_g.zarr");
  const sources = await archiveSources(path.join(fx.dir, "archive_g"), ["skycell.2556.082"], ["g", "r"]);
  await buildStore(store, sources);
  const out = path.join(fx.dir, "batch_g");
  const r = await captured(() =>
    main(["--zarr-path", store, "--skycell", "skycell.2556.082", "--batch", "--output-dir", out])
  );
  assert.equal(r.value, 1, "bands i, z, y are missing");
  assert.equal(r.stdout.split("\n").at(-1), "15 file(s): 6 written, 9 failed");
  assert.match(r.stdout, /^✓ \[1\/15\] .*_g\.fits/);
  const gMask = sources.find((s) => s.band === "g" && s.kind === "mask")!;
  await checkFile(path.join(out, "skycell.2556.082", "skycell.2556.082_g_mask.fits"), gMask);
});

Deno.test("an aborted batch stops at once and keeps the files already written", async () => {
  const store = await ZarrStore.open(fx.store);
  const out = path.join(fx.dir, "batch_abort");
  const abort = new AbortController();
  try {
    const items = await skycellBatchItems(store, SKYCELL_A, out);
    let seen = 0;
    await assert.rejects(
      extractBatch(store, items, {
        signal: abort.signal,
        onOutcome: () => {
          if (++seen === 2) abort.abort(new DOMException("interrupted", "AbortError"));
        },
      }),
      /interrupted/,
    );
    assert.equal(seen, 2);
    assert.deepEqual(await treeOf(out), [
      `${SKYCELL_A}/${SKYCELL_A}_r.fits`,
      `${SKYCELL_A}/${SKYCELL_A}_r_mask.fits`,
    ]);
  } finally {
    store.close();
  }
});
