/**
 * Old stores: the legacy `projections/{PPPP}/{skycell}` layout with the header on the skycell group, in
 * Zarr format 3 and in format 2 (`.zgroup`, `.zarray`, `.zattrs`, zstd compressor, `.` or `/` chunk key
 * separator) written here by hand as zarr-python 2 lays it out. The extracted files hold the source
 * pixels and the group's header.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import zlib from "node:zlib";
import { formatCard } from "../../lib/fits/card.ts";
import { FitsHeader } from "../../lib/fits/header.ts";
import { openImage } from "../../lib/fits/image.ts";
import { arrayName } from "../../lib/store/layout.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { extractArray } from "../../lib/extract/mod.ts";
import { main } from "../../zarr_to_fits.ts";
import { archiveSources, buildStore, captured, expectedCards, sameBits, type SourceArray } from "./_store.ts";

const dir = await Deno.makeTempDir({ prefix: "extract_legacy_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const SKYCELL = "skycell.0987.042";
const sources = await archiveSources(path.join(dir, "archive"), [SKYCELL], ["i"]);

/** A Zarr format 2 store in the legacy layout: header on the skycell group's `.zattrs`. */
async function writeV2Store(root: string, srcs: SourceArray[], separator: "." | "/"): Promise<void> {
  const json = (file: string, doc: unknown) => Deno.writeTextFile(file, JSON.stringify(doc, null, 2));
  const group = path.join(root, "projections", "0987", SKYCELL);
  await Deno.mkdir(group, { recursive: true });
  for (const d of [root, path.join(root, "projections"), path.join(root, "projections", "0987"), group]) {
    await json(path.join(d, ".zgroup"), { zarr_format: 2 });
  }
  await json(path.join(group, ".zattrs"), { header: srcs[0].header });
  const [cr, cc] = [100, 120];
  for (const src of srcs) {
    const arr = path.join(group, arrayName(src.band, src.kind));
    await Deno.mkdir(arr);
    const float = src.pixels instanceof Float32Array;
    await json(path.join(arr, ".zarray"), {
      chunks: [cr, cc],
      compressor: { id: "zstd", level: 3 },
      dimension_separator: separator,
      dtype: float ? "<f4" : "<u2",
      fill_value: float ? "NaN" : 0,
      filters: null,
      order: "C",
      shape: [src.height, src.width],
      zarr_format: 2,
    });
    for (let row = 0; row * cr < src.height; row++) {
      for (let col = 0; col * cc < src.width; col++) {
        const chunk = float ? new Float32Array(cr * cc).fill(NaN) : new Uint16Array(cr * cc);
        for (let y = 0; y < cr && row * cr + y < src.height; y++) {
          const start = (row * cr + y) * src.width + col * cc;
          const end = Math.min(start + cc, (row * cr + y + 1) * src.width);
          chunk.set(src.pixels.subarray(start, end) as never, y * cc);
        }
        const file = path.join(arr, `${row}${separator}${col}`);
        await Deno.mkdir(path.dirname(file), { recursive: true });
        await Deno.writeFile(file, zlib.zstdCompressSync(new Uint8Array(chunk.buffer)));
      }
    }
  }
}

async function checkExtracted(store: string, src: SourceArray, headerSource: "array" | "group") {
  const s = await ZarrStore.open(store);
  const out = path.join(dir, "out", path.basename(store), `${src.kind}.fits`);
  try {
    const r = await extractArray(s, { skycell: SKYCELL, band: src.band, kind: src.kind }, out);
    assert.equal(r.headerSource, headerSource);
    assert.match(r.array, /^projections\/0987\/skycell\.0987\.042\//);
  } finally {
    s.close();
  }
  const bytes = await Deno.readFile(out);
  // Old stores kept one header per skycell on the group (the image's, here): it is what the file gets.
  const header = headerSource === "group" ? sources[0].header : src.header;
  const cards = FitsHeader.parse(bytes).header.cards.map((c) => c.text);
  let expected = expectedCards(header);
  if (src.kind === "mask" && headerSource === "group") {
    // The image's header has no BSCALE/BZERO (astropy dropped them when scaling to floats): the writer
    // adds the uint16 ones after the mandatory keywords.
    expected = [formatCard("BSCALE", 1), formatCard("BZERO", 32768), ...expected];
  }
  assert.deepEqual(cards.slice(5), expected);
  const img = openImage(bytes);
  sameBits(img.readRows(0, img.height, src.kind === "mask" ? "uint16" : "float32"), src.pixels, src.kind);
}

Deno.test("legacy layout, Zarr format 3, header on the skycell group", async () => {
  const store = path.join(dir, "legacy_v3.zarr");
  await buildStore(store, sources.filter((s) => s.kind === "image"), { layout: "legacy", headerOn: "group" });
  await buildStore(store, sources.filter((s) => s.kind !== "image"), { layout: "legacy" });
  await checkExtracted(store, sources[0], "group");
  await checkExtracted(store, sources[2], "array"); // the array's own header wins over the group's
});

for (const separator of [".", "/"] as const) {
  Deno.test(`legacy layout, Zarr format 2 (separator "${separator}"), header on the skycell group`, async () => {
    const store = path.join(dir, `legacy_v2_${separator === "." ? "dot" : "slash"}.zarr`);
    await writeV2Store(store, sources, separator);
    for (const src of sources) await checkExtracted(store, src, "group");
  });
}

Deno.test("a format 2 store lists, batches and cuts out through the command line", async () => {
  const store = path.join(dir, "legacy_v2_dot.zarr");
  const list = await captured(() => main(["--zarr-path", store, "--list"]));
  assert.equal(list.value, 0, list.stderr);
  assert.match(list.stdout, /skycell\.0987\.042 {2} 3\/12 {2}missing r, r_mask, r_wt, z, .*; legacy layout/);
  const out = path.join(dir, "cli_v2");
  const b = await captured(() =>
    main(["--zarr-path", store, "--band", "i", "--mask", "--batch", "--output-dir", out])
  );
  assert.equal(b.value, 0, b.stderr);
  const region = { x0: 110, x1: 250, y0: 90, y1: 210 }; // crosses the 100 x 120 chunk grid
  const c = await captured(() =>
    main([
      "--zarr-path",
      store,
      "--skycell",
      SKYCELL,
      "--band",
      "i",
      "--weight",
      "--region",
      "110:250,90:210",
      "--output-dir",
      out,
    ])
  );
  assert.equal(c.value, 0, c.stderr);
  const img = openImage(await Deno.readFile(path.join(out, `${SKYCELL}_i_wt.fits`)));
  const src = sources[2];
  const w = region.x1 - region.x0;
  const want = new Float32Array(w * (region.y1 - region.y0));
  for (let y = region.y0; y < region.y1; y++) {
    want.set(
      src.pixels.subarray(y * src.width + region.x0, y * src.width + region.x1) as Float32Array,
      (y - region.y0) * w,
    );
  }
  sameBits(img.readRows(0, img.height, "float32"), want, "v2 cutout");
});

Deno.test("a skycell in both layouts is taken from the current one", async () => {
  const store = path.join(dir, "both.zarr");
  const other = await archiveSources(path.join(dir, "archive_other"), [SKYCELL], ["i"], 256);
  await buildStore(store, other.filter((s) => s.kind === "image"), { layout: "legacy" });
  await buildStore(store, sources.filter((s) => s.kind === "image"));
  const s = await ZarrStore.open(store);
  try {
    const out = path.join(dir, "both", "i.fits");
    const r = await extractArray(s, { skycell: SKYCELL, band: "i", kind: "image" }, out);
    assert.equal(r.array, `0987/${SKYCELL}/i`);
    assert.equal(r.width, 300);
  } finally {
    s.close();
  }
  const out = path.join(dir, "both_batch");
  const b = await captured(() => main(["--zarr-path", store, "--band", "i", "--batch", "--output-dir", out]));
  assert.equal(b.value, 0, b.stderr);
  assert.equal(b.stdout.split("\n").at(-1), "1 file(s): 1 written, 0 failed");
});
