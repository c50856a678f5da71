import { strict as assert } from "node:assert";
import * as path from "node:path";
import { runExample } from "../example_usage.ts";
import { openImage } from "../lib/fits/image.ts";
import { localPath } from "../lib/ps1/urls.ts";
import { assertSamePixels } from "./ingest/_setup.ts";

Deno.test("example_usage.ts runs: both CCDs complete, inventory clean, extracted pixels equal the archive's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ps1_example_test_" });
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    assert.equal(await runExample(dir, 300), true, lines.join("\n"));
    assert.ok(lines.some((l) => l.startsWith("inventory: 7 skycells = 7 complete")), lines.join("\n"));
    const source = localPath(path.join(dir, "ps1_archive"), "skycell.2556.081", "r", "image");
    const original = openImage(await Deno.readFile(source));
    const extracted = openImage(
      await Deno.readFile(path.join(dir, "extracted_fits", "skycell.2556.081_r.fits")),
    );
    assert.deepEqual([extracted.width, extracted.height], [original.width, original.height]);
    assertSamePixels(
      extracted.readRows(0, extracted.height, "float32"),
      original.readRows(0, original.height, "float32"),
      "skycell.2556.081 r",
    );
    const cutout = openImage(
      await Deno.readFile(path.join(dir, "extracted_fits", "skycell.2556.081_i_mask_cutout.fits")),
    );
    assert.deepEqual([cutout.width, cutout.height], [100, 100]);
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
});
