/**
 * The command line: every usage mistake and every extraction that cannot be done ends with exit 2, one
 * error line naming the flag or value, and nothing written; overwriting only when asked; file names and
 * `--output` as a directory; a store without headers still gives a valid file, with a warning; an
 * interrupted or failing extraction leaves no file, complete-looking or not.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { FitsHeader } from "../../lib/fits/header.ts";
import { openImage } from "../../lib/fits/image.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { extractArray } from "../../lib/extract/mod.ts";
import { main } from "../../zarr_to_fits.ts";
import {
  archiveSources,
  buildStore,
  captured,
  sameBits,
  SKYCELL_A,
  SKYCELL_B,
  standardFixture,
  treeOf,
} from "./_store.ts";

const fx = await standardFixture();
const OUT = path.join(fx.dir, "cli_out");

function run(...args: string[]) {
  return captured(() => main(["--zarr-path", fx.store, "--output-dir", OUT, ...args]));
}

/** Runs and expects exit 2 with one error line matching `message`, and no file written anywhere. */
async function refused(args: string[], message: RegExp, opts: { noDefaults?: boolean } = {}): Promise<void> {
  const before = { out: await treeOf(OUT), store: await treeOf(fx.store), dir: await treeOf(fx.dir) };
  const r = opts.noDefaults ? await captured(() => main(args)) : await run(...args);
  assert.equal(r.value, 2, `exit code for ${args.join(" ")}: stderr ${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `one error line for ${args.join(" ")}: ${r.stderr}`);
  assert.match(lines[0], /^zarr_to_fits: error: /);
  assert.match(lines[0], message);
  assert.equal(r.stdout, "", "nothing on stdout");
  assert.deepEqual(await treeOf(OUT), before.out, "nothing written to the output dir");
  assert.deepEqual(await treeOf(fx.store), before.store, "the store is untouched");
  assert.deepEqual(await treeOf(fx.dir), before.dir, "nothing written anywhere");
}

const S = ["--skycell", SKYCELL_A];

Deno.test("usage mistakes: exit 2, one line naming the flag or value, nothing written", async () => {
  const cases: [string[], RegExp][] = [
    [[], /--skycell is missing/],
    [["--frobnicate"], /frobnicate/],
    [["--skycell"], /--skycell/],
    [["--skycell", "skycell.25", "--band", "r"], /--skycell: invalid skycell name "skycell.25"/],
    [["--skycell", "../etc/passwd", "--band", "r"], /--skycell: invalid skycell name/],
    [[...S, "--band", "q"], /--band: unknown band "q"/],
    [[...S], /--band is missing/],
    [["--band", "r"], /--skycell is missing/],
    [[...S, "--band", "r", "--mask", "--weight"], /--mask and --weight/],
    [[...S, "--band", "r", "--region", "1:2"], /--region: invalid region "1:2"/],
    [[...S, "--band", "r", "--region", "5:5,0:3"], /--region: empty region "5:5,0:3"/],
    [[...S, "--band", "r", "--region", "a:b,c:d"], /--region: invalid region/],
    [[...S, "--band", "r", "--region", "0:5,0:5", "--center", "1,2"], /--region and --center/],
    [[...S, "--band", "r", "--center", "1,2"], /--center needs --size/],
    [[...S, "--band", "r", "--size", "10"], /--size needs --center/],
    [
      [...S, "--band", "r", "--center", "1,2", "--size", "0"],
      /--size: expected an integer \(>= 1\), got "0"/,
    ],
    [[...S, "--band", "r", "--center", "1,2", "--size", "ten"], /--size: expected an integer/],
    [[...S, "--band", "r", "--center", "400,2", "--size", "9"], /--center: position "400,2" out of range/],
    [[...S, "--band", "r", "--compress", "lzma"], /--compress: expected rice or gzip, got "lzma"/],
    [["--batch"], /--batch needs --skycell or --band/],
    [[...S, "--batch", "--output", "x.fits"], /--output is for one file/],
    [["--band", "r", "--batch", "--region", "0:5,0:5"], /--region\/--center apply to one skycell/],
    [[...S, "--band", "r", "--output", ""], /--output: empty path/],
  ];
  for (const [args, message] of cases) await refused(args, message);
  await refused(["--zarr-path", fx.store, "--list", "--band", "r"], /--list cannot be combined with --band/, {
    noDefaults: true,
  });
  await refused(
    ["--skycell", SKYCELL_A, "--band", "r", "--output", "a.fits", "--output-dir", OUT],
    /--output and --output-dir/,
    {
      noDefaults: true,
    },
  );
});

Deno.test("extractions that cannot be done: exit 2, one line, nothing written", async () => {
  await refused(
    [...S, "--band", "g"],
    /skycell skycell.2556.080 has no array g \(missing; arrays: r, r_mask/,
  );
  await refused(["--skycell", SKYCELL_B, "--band", "i", "--weight"], /has no array i_wt/);
  await refused(
    ["--skycell", "skycell.2556.099", "--band", "r"],
    /skycell skycell.2556.099 is not in the store/,
  );
  await refused(["--skycell", "skycell.2556.099", "--batch"], /skycell skycell.2556.099 is not in the store/);
  await refused(
    [...S, "--band", "r", "--region", "0:301,0:10"],
    /region 0:301,0:10 is outside the image \(300 x 299/,
  );
  await refused([...S, "--band", "r", "--region", "290:300,299:300"], /outside the image/);
  await refused(
    [...S, "--band", "r", "--center", "10,-60", "--size", "9"],
    /position 10,-60 is on the far side/,
  );
  // The projection cell's centre (CRVAL) maps far outside this corner skycell.
  await refused(
    [...S, "--band", "r", "--center", "37.89473684210526,78", "--size", "9"],
    /position .* with size 9 is outside the image \(300 x 299\)/,
  );
  const missing = path.join(fx.dir, "no_such.zarr");
  await refused(
    ["--zarr-path", missing, "--list"],
    /--zarr-path: .*no_such.zarr: not a Zarr store \(does not exist\)/,
    {
      noDefaults: true,
    },
  );
});

Deno.test("an existing output is kept unless --overwrite is given", async () => {
  const out = path.join(fx.dir, "exists", "r.fits");
  await Deno.mkdir(path.dirname(out), { recursive: true });
  await Deno.writeTextFile(out, "precious");
  await refused(
    ["--zarr-path", fx.store, ...S, "--band", "r", "--output", out],
    /r.fits exists \(use --overwrite to replace it\)/,
    { noDefaults: true },
  );
  assert.equal(await Deno.readTextFile(out), "precious");
  const r = await captured(() =>
    main(["--zarr-path", fx.store, ...S, "--band", "r", "--output", out, "--overwrite"])
  );
  assert.equal(r.value, 0, r.stderr);
  assert.match(r.stdout, /^✓ .*r\.fits \(300 x 299, float32/);
  const img = openImage(await Deno.readFile(out));
  sameBits(
    img.readRows(0, img.height, "float32"),
    fx.source(SKYCELL_A, "r", "image").pixels,
    "replaced file",
  );
  assert.deepEqual(await treeOf(path.dirname(out)), ["r.fits"]);
});

Deno.test("file names: {skycell}_{band}[_mask|_wt].fits in --output-dir, or --output (a directory works)", async () => {
  for (
    const [flags, name] of [[[], "_r.fits"], [["--mask"], "_r_mask.fits"], [
      ["--weight"],
      "_r_wt.fits",
    ]] as const
  ) {
    const r = await run(...S, "--band", "r", ...flags);
    assert.equal(r.value, 0, r.stderr);
    assert.ok((await treeOf(OUT)).includes(SKYCELL_A + name), name);
  }
  const dir = path.join(fx.dir, "as_dir");
  await Deno.mkdir(dir);
  for (const output of [dir, dir + "/sub/"]) {
    const r = await captured(() =>
      main(["--zarr-path", fx.store, ...S, "--band", "i", "--mask", "--output", output])
    );
    assert.equal(r.value, 0, r.stderr);
  }
  assert.deepEqual(await treeOf(dir), [`${SKYCELL_A}_i_mask.fits`, `sub/${SKYCELL_A}_i_mask.fits`]);
  const file = path.join(fx.dir, "named", "deep", "x.fits");
  const r = await captured(() => main(["--zarr-path", fx.store, ...S, "--band", "z", "--output", file]));
  assert.equal(r.value, 0, r.stderr);
  assert.ok((await Deno.stat(file)).isFile);
});

Deno.test("the default output dir is extracted_fits/ under the working directory", async () => {
  const cwd = Deno.cwd();
  const work = path.join(fx.dir, "cwd");
  await Deno.mkdir(work);
  Deno.chdir(work);
  try {
    const r = await captured(() => main(["--zarr-path", fx.store, ...S, "--band", "y", "--weight"]));
    assert.equal(r.value, 0, r.stderr);
  } finally {
    Deno.chdir(cwd);
  }
  assert.deepEqual(await treeOf(work), [`extracted_fits/${SKYCELL_A}_y_wt.fits`]);
});

Deno.test("--json prints the result; --help shows usage with examples", async () => {
  const r = await run(...S, "--band", "i", "--region", "10:20,30:45", "--json");
  assert.equal(r.value, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.ok, true);
  assert.equal(j.skycell, SKYCELL_A);
  assert.equal(j.kind, "image");
  assert.deepEqual(j.region, { x0: 10, x1: 20, y0: 30, y1: 45 });
  assert.equal(j.width, 10);
  assert.equal(j.height, 15);
  assert.equal(j.output, path.join(OUT, `${SKYCELL_A}_i.fits`));
  const h = await captured(() => main(["--help"]));
  assert.equal(h.value, 0);
  assert.match(h.stdout, /^Usage: zarr_to_fits/);
  assert.match(h.stdout, /Examples:\n.*--list/);
  for (
    const flag of [
      "--zarr-path",
      "--skycell",
      "--band",
      "--mask",
      "--weight",
      "--output",
      "--output-dir",
      "--batch",
      "--list",
      "--region",
      "--center",
      "--size",
      "--compress",
      "--overwrite",
      "--json",
    ]
  ) {
    assert.ok(h.stdout.includes(flag), flag);
  }
});

Deno.test("a store without header attributes still gives a valid FITS file, with a warning", async () => {
  const store = path.join(fx.dir, "noheader.zarr");
  const sources = await archiveSources(path.join(fx.dir, "archive_nh"), ["skycell.2557.011"], ["r"]);
  await buildStore(store, sources, { headerOn: "none" });
  const out = path.join(fx.dir, "noheader");
  for (const kind of ["image", "mask"] as const) {
    const flags = kind === "mask" ? ["--mask"] : [];
    const r = await captured(() =>
      main([
        "--zarr-path",
        store,
        "--skycell",
        "skycell.2557.011",
        "--band",
        "r",
        ...flags,
        "--output-dir",
        out,
      ])
    );
    assert.equal(r.value, 0, r.stderr);
    assert.match(r.stderr, /WARNING .*no header attribute on the array or its skycell group/);
    const bytes = await Deno.readFile(
      path.join(out, `skycell.2557.011_r${kind === "mask" ? "_mask" : ""}.fits`),
    );
    const keywords = FitsHeader.parse(bytes).header.cards.map((c) => c.keyword);
    assert.deepEqual(
      keywords,
      kind === "mask"
        ? ["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "BSCALE", "BZERO"]
        : ["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2"],
    );
    const src = sources.find((s) => s.kind === kind)!;
    const img = openImage(bytes);
    sameBits(img.readRows(0, img.height, kind === "mask" ? "uint16" : "float32"), src.pixels, kind);
  }
});

Deno.test("an extraction stopped between bands leaves no file and no temp file", async () => {
  const store = await ZarrStore.open(fx.store);
  const out = path.join(fx.dir, "aborted", "r.fits");
  try {
    for (const workers of [0, 2]) {
      let checks = 0;
      // Stops after two bands: the signal is polled once per band.
      const signal = {
        get aborted() {
          return checks > 2;
        },
        throwIfAborted() {
          if (++checks > 2) throw new DOMException("interrupted", "AbortError");
        },
      } as unknown as AbortSignal;
      await assert.rejects(
        extractArray(store, { skycell: SKYCELL_A, band: "r", kind: "image" }, out, {
          signal,
          workers,
          bandRows: 64,
        }),
        /interrupted/,
      );
      assert.ok(checks >= 3, "the signal was polled per band");
      assert.deepEqual(await treeOf(path.dirname(out)), [], `${workers} workers: nothing left`);
    }
  } finally {
    store.close();
  }
});

Deno.test("a chunk that fails to decode mid-file: exit 1, no file and no temp file left", async () => {
  const copy = await fx.copyStore("torn.zarr");
  const chunk = path.join(copy, "2556", SKYCELL_A, "r_wt", "c", "2", "1");
  const bytes = await Deno.readFile(chunk);
  await Deno.writeFile(chunk, bytes.subarray(0, bytes.length >> 1)); // a torn write
  const out = path.join(fx.dir, "torn_out");
  for (const compress of [[], ["--compress", "gzip"]]) {
    const r = await captured(() =>
      main(["--zarr-path", copy, ...S, "--band", "r", "--weight", "--output-dir", out, ...compress])
    );
    assert.equal(r.value, 1, r.stderr);
    assert.match(r.stderr, /^zarr_to_fits: error: .*r_wt\/c\/2\/1/);
    assert.deepEqual(await treeOf(out), [], "no file left behind");
  }
});
