/**
 * The inventory's HTML page in a real browser: `zarr_inventory.ts --html` on a small store (complete,
 * incomplete and corrupt skycells), then headless Chromium, offline (every host name unresolvable, no
 * background networking), renders `inventory_latest.html` from a file URL. The rendered DOM must name
 * every skycell with its state on the sky map (path, `data-*` attributes and hover title), and the
 * screenshot must be a PNG of the window's size. Chromium is required: without it the test fails
 * (`.ci/run` installs Debian's `chromium`).
 * @module
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { skycellGroupPath } from "../../lib/store/layout.ts";
import { main } from "../../zarr_inventory.ts";
import { editMetadata, makeStore, tempDir, writeSkycell } from "../inventory/_store.ts";

const A = "skycell.2556.080";
const B = "skycell.2556.081";
const C = "skycell.2557.001";
const CHROMIUM = "chromium";
const DEADLINE_MS = 90_000;

/** Runs headless Chromium with `args` (offline, throwaway profile); fails the test when it is missing. */
async function chromium(
  profile: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--disable-gpu",
      "--no-sandbox",
      `--user-data-dir=${profile}`,
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-extensions",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--host-resolver-rules=MAP * ~NOTFOUND",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(DEADLINE_MS),
  });
  let out: Deno.CommandOutput;
  try {
    out = await cmd.output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      assert.fail(`${CHROMIUM} is not installed: .ci/run installs it (apt-get install chromium)`);
    }
    throw err;
  }
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `main` in this process, quietly. */
async function inventoryCli(args: string[]): Promise<number> {
  const { log, error } = console;
  console.log = () => {};
  console.error = () => {};
  try {
    return await main(args);
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("the inventory page renders offline in headless Chromium: every skycell on the map with its state", async () => {
  const { dir, remove } = await tempDir();
  try {
    const store = await makeStore(dir, [A]);
    try {
      await writeSkycell(store, B, { kinds: ["image", "mask"] }); // no weights: incomplete
      await writeSkycell(store, C);
      await editMetadata(store, `${skycellGroupPath(C)}/r`, (d) => void (d.data_type = "float64")); // corrupt
    } finally {
      store.close();
    }
    const reports = path.join(dir, "reports");
    const code = await inventoryCli([
      "--zarr-path",
      path.join(dir, "ps1_skycells_zarr", "ps1_skycells.zarr"),
      "--output-dir",
      reports,
      "--html",
    ]);
    assert.equal(code, 1, "problems found");
    const page = path.join(reports, "inventory_latest.html");
    const url = pathToFileURL(page).href;

    const dom = await chromium(path.join(dir, "profile-dom"), ["--dump-dom", url]);
    assert.equal(dom.code, 0, dom.stderr);
    assert.match(dom.stdout, /<svg[^>]*class="skymap"/, "the sky map was rendered");
    const found = new Map<string, { state: string; title: string }>();
    for (const m of dom.stdout.matchAll(/<path\b([^>]*)>\s*<title>([^<]*)<\/title>\s*<\/path>/g)) {
      const attr = (name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(m[1])?.[1];
      const name = attr("data-skycell");
      if (name === undefined) continue;
      assert.ok(!found.has(name), `one path for ${name}`);
      found.set(name, { state: attr("data-state") ?? "", title: m[2] });
    }
    const want = { [A]: "complete", [B]: "incomplete", [C]: "corrupt" };
    assert.deepEqual(Object.fromEntries([...found].map(([n, v]) => [n, v.state])), want);
    for (const [name, state] of Object.entries(want)) {
      assert.equal(found.get(name)!.title, `${name}: ${state}`, "hover title");
    }
    assert.match(dom.stdout, /data-count="total">3</);
    assert.match(dom.stdout, /<td>skycell\.2557\.001<\/td><td class="state">corrupt<\/td>/);

    const png = path.join(dir, "inventory.png");
    const shot = await chromium(path.join(dir, "profile-shot"), [
      `--screenshot=${png}`,
      "--window-size=1200,900",
      url,
    ]);
    assert.equal(shot.code, 0, shot.stderr);
    const bytes = await Deno.readFile(png);
    assert.deepEqual(
      [...bytes.subarray(0, 8)],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      "PNG signature",
    );
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    assert.equal(String.fromCharCode(...bytes.subarray(12, 16)), "IHDR");
    assert.deepEqual([view.getUint32(16), view.getUint32(20)], [1200, 900], "the window's size");
    assert.ok(bytes.length > 5000, `a real picture (${bytes.length} bytes)`);
  } finally {
    await remove();
  }
});
