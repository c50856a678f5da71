import assert from "node:assert/strict";
import * as path from "node:path";
import {
  escapeHtml,
  medianRa,
  renderInventoryHtml,
  skyMap,
  writeHtmlReport,
} from "../../lib/inventory/html.ts";
import { inventory } from "../../lib/inventory/mod.ts";
import { summarize } from "../../lib/inventory/inventory.ts";
import type { ExpectedReport, Inventory, SkycellRecord, SkycellState } from "../../lib/inventory/records.ts";
import { skycellName, ZONES } from "../../lib/sky/rings.ts";
import { skycellGroupPath } from "../../lib/store/layout.ts";
import { main } from "../../zarr_inventory.ts";
import { editMetadata, makeStore, tempDir, writeSkycell } from "./_store.ts";
import { captured } from "../extract/_store.ts";

const A = "skycell.2556.080";
const B = "skycell.2556.081";
const C = "skycell.2557.001";
const ODD = `<img src=x onerror="alert('x')">&amp;`;

/** The sky-map paths of a page: name, state and the `d` outline. */
function mapPaths(html: string): Array<{ name: string; state: string; d: string }> {
  const re = /<path class="sc s-(\w+)" data-skycell="([^"]*)" data-state="(\w+)"[^>]* d="([^"]*)">/g;
  return [...html.matchAll(re)].map((m) => {
    assert.equal(m[1], m[3], "class and data-state agree");
    return { name: m[2], state: m[3], d: m[4] };
  });
}

/** Runs `main` in this process, capturing what it prints. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { value: code, stdout, stderr } = await captured(() => main(args));
  return { code, stdout, stderr };
}

/** Asserts nothing on the page reaches outside it: no script, no external resource. */
function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<link\b/i);
  // Store text is escaped, so every "<" starts a real tag: none may load anything.
  for (const [tag] of html.matchAll(/<[a-z][^>]*>/gi)) {
    assert.doesNotMatch(tag, /\b(src|href|xlink:href)\s*=/i, tag);
  }
  const css = /<style>([^<]*)<\/style>/.exec(html)![1];
  assert.doesNotMatch(css, /url\(|@import/i);
  assert.doesNotMatch(html, /https?:\/\//i);
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<style>/);
}

Deno.test("escapeHtml: the five characters that matter, in text and attributes", () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  assert.equal(escapeHtml("skycell.2556.080"), "skycell.2556.080");
});

Deno.test("medianRa: cut at the largest gap, so a set straddling RA 0 is centred near 0", () => {
  assert.equal(medianRa([359, 1, 358, 2, 0]), 0);
  assert.equal(medianRa([10, 20, 30]), 20);
  assert.ok(Math.abs(medianRa([359.5, 0.5]) % 360) < 1e-9);
  assert.equal(medianRa([350, 355, 5]), 355);
  assert.equal(medianRa([]), 0);
});

Deno.test("a store's page: one path per skycell with its state, the summary's numbers, escaped reasons", async () => {
  const { dir, remove } = await tempDir();
  const store = await makeStore(dir, [A]);
  try {
    await writeSkycell(store, B, { kinds: ["image", "mask"] }); // no weights: incomplete
    await writeSkycell(store, C);
    // Damage: a wrong dtype on one array of C, and an unexpected node with an odd name in its group.
    await editMetadata(store, `${skycellGroupPath(C)}/r`, (d) => void (d.data_type = "float64"));
    await Deno.mkdir(path.join(store.fsPath(skycellGroupPath(C)), ODD));
    const inv = await inventory(store, { workers: 1 });
    assert.deepEqual(
      inv.skycells.map((s) => [s.name, s.state]),
      [[A, "complete"], [B, "incomplete"], [C, "corrupt"]],
    );
    const html = renderInventoryHtml(inv);
    assertSelfContained(html);
    // One path per skycell, with its state.
    const paths = mapPaths(html);
    assert.deepEqual(
      paths.map((p) => [p.name, p.state]).sort(),
      [[A, "complete"], [B, "incomplete"], [C, "corrupt"]],
    );
    for (const p of paths) assert.match(p.d, /^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){3}Z$/, "four corners");
    assert.match(html, new RegExp(`<title>${A.replaceAll(".", "\\.")}: complete</title>`));
    // The summary's numbers.
    const k = inv.summary.skycells;
    for (const [key, n] of Object.entries({ total: k.total, complete: 1, incomplete: 1, corrupt: 1 })) {
      assert.match(html, new RegExp(`data-count="${key}">${n}<`), key);
    }
    assert.match(html, /Skycells: 3 = 1 complete \+ 1 incomplete \+ 1 corrupt/);
    assert.match(html, new RegExp(`data-count="arrays-healthy">${inv.summary.arrays.healthy}<`));
    for (const [band, c] of Object.entries(inv.summary.bandCompleteness)) {
      assert.match(
        html,
        new RegExp(`<tr data-band="${band}"><td>${band}</td><td>${c.complete}</td><td>${c.total}</td>`),
      );
    }
    // Problems with reasons, store text escaped.
    assert.match(html, /<td>skycell\.2556\.081<\/td><td class="state">incomplete<\/td>.*missing r_wt, i_wt/);
    assert.match(html, /<td>skycell\.2557\.001<\/td><td class="state">corrupt<\/td>.*r corrupt: .*float64/);
    assert.ok(!html.includes(ODD), "the odd node name is not in the page raw");
    assert.ok(html.includes(escapeHtml(ODD)), "the odd node name is there escaped");
    assert.equal(html.match(/<img/g), null);
  } finally {
    store.close();
    await remove();
  }
});

Deno.test("zarr_inventory --html writes inventory_{ts}.html and inventory_latest.html beside the CSVs", async () => {
  const { dir, remove } = await tempDir();
  const store = await makeStore(dir, [A]);
  store.close();
  try {
    const storePath = path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr");
    const out = path.join(dir, "reports");
    const plain = await run(["--zarr-path", storePath, "--output-dir", out]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(![...Deno.readDirSync(out)].some((e) => e.name.endsWith(".html")), "no page without --html");
    const res = await run(["--zarr-path", storePath, "--output-dir", out, "--html"]);
    assert.equal(res.code, 0, res.stderr);
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    const stamped = names.filter((n) => /^inventory_\d{8}_\d{6}\.html$/.test(n));
    assert.equal(stamped.length, 1, names.join(" "));
    assert.ok(names.includes("inventory_latest.html"));
    const page = await Deno.readTextFile(path.join(out, stamped[0]));
    assert.equal(page, await Deno.readTextFile(path.join(out, "inventory_latest.html")));
    assert.match(res.stderr, /report .*inventory_latest\.html/);
    assert.deepEqual(mapPaths(page).map((p) => [p.name, p.state]), [[A, "complete"]]);
    const json = JSON.parse(
      (await run(["--zarr-path", storePath, "--output-dir", out, "--html", "--json"])).stdout,
    );
    assert.match(json.html.latest, /inventory_latest\.html$/);
  } finally {
    await remove();
  }
});

Deno.test("writeHtmlReport names the page like the CSV reports", async () => {
  const { dir, remove } = await tempDir();
  try {
    const inv = synthetic(4);
    const date = new Date(2024, 0, 2, 3, 4, 5);
    const paths = await writeHtmlReport(inv, path.join(dir, "out"), { date, suffix: "_after_cleanup" });
    assert.equal(path.basename(paths.html), "inventory_20240102_030405_after_cleanup.html");
    assert.equal(path.basename(paths.latest!), "inventory_latest.html");
    const noLatest = await writeHtmlReport(inv, path.join(dir, "out2"), { date, latest: false });
    assert.equal(noLatest.latest, undefined);
    assert.deepEqual([...Deno.readDirSync(path.join(dir, "out2"))].map((e) => e.name), [
      "inventory_20240102_030405.html",
    ]);
  } finally {
    await remove();
  }
});

const STATES: SkycellState[] = ["complete", "complete", "complete", "incomplete", "corrupt", "unreadable"];

/**
 * A synthetic inventory of `cells * 100` skycells on both sides of RA 0 (the first and last projection
 * cells of zones from Dec 14 upwards), states cycling; with 20 expected-but-absent skycells further north.
 */
function synthetic(cells: number): Inventory {
  const skycells: SkycellRecord[] = [];
  for (let c = 0; c < cells; c++) {
    const zone = ZONES[26 + Math.floor(c / 2)];
    const projection = c % 2 === 0 ? zone.firstCell : zone.firstCell + zone.cells - 1;
    for (let i = 0; i < 100; i++) {
      const name = skycellName(projection, Math.floor(i / 10), i % 10);
      const state = STATES[skycells.length % STATES.length];
      const expected = ["r", "r_mask", "r_wt"];
      skycells.push({
        name,
        projection: name.slice(8, 12),
        cell: name.slice(13),
        layout: "current",
        path: `${name.slice(8, 12)}/${name}`,
        state,
        groupFormat: 3,
        groupProblems: state === "corrupt" ? [`group ${name}: <no zarr.json> & "more"`] : [],
        groupHeaderLength: 0,
        expected,
        present: state === "incomplete" ? ["r"] : expected,
        missing: state === "incomplete" ? ["r_mask", "r_wt"] : [],
        corrupt: [],
        unreadable: [],
        otherBand: [],
        temps: [],
        unexpected: [],
        bytesOnDisk: 1000,
        decodedBytes: 4000,
      });
    }
  }
  const parts = {
    store: "/data/<store> & co",
    bands: ["r"],
    deep: false,
    skycells,
    arrays: [],
    temps: [],
    unexpected: [],
  };
  const north = ZONES[26 + Math.ceil(cells / 2)];
  const names = Array.from(
    { length: 20 },
    (_, i) => skycellName(north.firstCell, Math.floor(i / 10), i % 10),
  );
  const expected: ExpectedReport = {
    csvPath: "list.csv",
    source: "given",
    sector: null,
    camera: null,
    ccd: null,
    total: names.length,
    complete: 0,
    incomplete: 0,
    corrupt: 0,
    unreadable: 0,
    absent: names.length,
    skycells: names.map((name) => ({
      name,
      role: "main",
      state: "absent",
      missing: ["r", "r_mask", "r_wt"],
      corrupt: [],
      layout: null,
    })),
    warnings: [],
  };
  return {
    store: parts.store,
    bands: parts.bands,
    deep: false,
    startedAt: "2024-01-02T03:04:05.000Z",
    skycells,
    arrays: [],
    temps: [],
    unexpected: [],
    summary: summarize(parts, [], 1.5),
    expected,
  };
}

Deno.test("1000 skycells straddling RA 0: one path each, drawn in one piece, small page", () => {
  const inv = synthetic(10);
  assert.equal(inv.skycells.length, 1000);
  const t0 = performance.now();
  const html = renderInventoryHtml(inv);
  const ms = performance.now() - t0;
  const bytes = new TextEncoder().encode(html).length;
  console.log(
    `1000 skycells (+${inv.expected!.absent} absent): ${(bytes / 1024).toFixed(0)} KiB, ${ms.toFixed(0)} ms`,
  );
  assertSelfContained(html);
  const paths = mapPaths(html);
  const stored = paths.filter((p) => p.state !== "absent");
  assert.equal(stored.length, 1000);
  assert.equal(new Set(stored.map((p) => p.name)).size, 1000);
  for (const s of inv.skycells) {
    assert.ok(html.includes(`data-skycell="${s.name}" data-state="${s.state}"`), s.name);
  }
  assert.equal(paths.filter((p) => p.state === "absent").length, inv.expected!.absent);
  // Centred near RA 0 and narrow: the two sides of 0/360 are neighbours, not 360 degrees apart.
  const centre = Number(/data-ra-centre="([\d.]+)"/.exec(html)![1]);
  const span = Number(/data-ra-span="([\d.]+)"/.exec(html)![1]);
  assert.ok(centre < 5 || centre > 355, `centre ${centre}`);
  assert.ok(span < 20, `span ${span}`);
  // Every outline is inside the drawing.
  const viewBox = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(html)!;
  for (const p of paths) {
    for (const [, x, y] of p.d.matchAll(/([\d.]+) ([\d.]+)/g)) {
      assert.ok(Number(x) <= Number(viewBox[1]) && Number(y) <= Number(viewBox[2]), p.name);
    }
  }
  // The summary and the problems, escaped.
  assert.match(html, /data-count="total">1000</);
  assert.match(html, new RegExp(`data-count="corrupt">${inv.summary.skycells.corrupt}<`));
  assert.ok(html.includes("&lt;no zarr.json&gt; &amp; &quot;more&quot;"));
  assert.ok(!html.includes("<no zarr.json>"));
  assert.ok(html.includes("/data/&lt;store&gt; &amp; co"));
  // One path element per skycell: nothing else per skycell in the map.
  assert.equal(html.match(/<path class="sc /g)!.length, 1000 + inv.expected!.absent);
});

Deno.test("skyMap: names without a RINGS.V3 WCS are listed, not drawn", () => {
  const map = skyMap([
    { name: A, state: "complete", layout: "current" },
    { name: "skycell.9999.000", state: "corrupt", layout: "current" },
    { name: "not-a-skycell", state: "incomplete", layout: "legacy" },
  ]);
  assert.equal(map.drawn, 1);
  assert.deepEqual(map.unplaced, ["skycell.9999.000", "not-a-skycell"]);
  assert.equal(mapPaths(map.svg).length, 1);
});
