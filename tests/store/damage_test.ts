/**
 * Damaged and hostile stores against the three CLIs, each run in a child process with a deadline and its
 * peak memory measured there: every case ends in one line or a reported state, within seconds, under
 * 1 GB, and nothing that could be healthy is removed. The one verdict (`lib/store/state.ts`) is what the
 * inventory, `--list`, the extractor and the download's plan all follow, so they agree.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { arrayStateAt } from "../../lib/store/state.ts";
import { skycellGroupPath } from "../../lib/store/layout.ts";
import { planSkycell } from "../../lib/ingest/plan.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { lockPathOf } from "../../lib/zarr/lock.ts";
import { ownersDir, registerOwner } from "../../lib/zarr/owner.ts";
import { tempName } from "../../lib/zarr/names.ts";
import { editMetadata, makeStore, tempDir, treeSnapshot } from "../inventory/_store.ts";

const A = "skycell.2556.080";
const GROUP = skycellGroupPath(A);
const MEASURED = fileURLToPath(new URL("./_measured.ts", import.meta.url));
const GB = 1 << 30;
const DEADLINE_MS = 60_000;

interface ChildRun {
  code: number;
  stdout: string;
  stderr: string;
  peakRss: number;
}

/** Runs a script's `main` in a child Deno with a deadline; `asUser` drops the file-access override. */
async function runScript(
  script: string,
  args: string[],
  opts: { unprivileged?: boolean } = {},
): Promise<ChildRun> {
  const deno = [Deno.execPath(), "run", "-A", MEASURED, script, ...args];
  // Root reads everything; without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH it meets permission bits as any
  // user of a shared group store does (another user meets them anyway).
  const argv = opts.unprivileged && Deno.uid() === 0
    ? [
      "setpriv",
      "--bounding-set",
      "-dac_override,-dac_read_search",
      "--inh-caps",
      "-dac_override,-dac_read_search",
      ...deno,
    ]
    : deno;
  const child = new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), DEADLINE_MS);
  try {
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderrAll = new TextDecoder().decode(out.stderr).trimEnd().split("\n");
    const last = stderrAll.at(-1) ?? "";
    const m = /^peak-rss-bytes (\d+)$/.exec(last);
    assert.ok(
      m,
      `${script} ${args.join(" ")}: no memory line (killed at the deadline?); stderr: ${
        stderrAll.join("\n")
      }`,
    );
    return { code: out.code, stdout, stderr: stderrAll.slice(0, -1).join("\n"), peakRss: Number(m[1]) };
  } finally {
    clearTimeout(timer);
  }
}

/** A store of one skycell (200 x 199 arrays, 64 x 64 chunks) in a fresh folder. */
async function withStore(fn: (ctx: { dir: string; store: ZarrStore; storePath: string }) => Promise<void>) {
  const { dir, remove } = await tempDir();
  const store = await makeStore(dir, [A]);
  try {
    await fn({ dir, store, storePath: store.root });
  } finally {
    store.close();
    await Deno.chmod(dir, 0o755).catch(() => {});
    await chmodTree(dir);
    await remove();
  }
}

async function chmodTree(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const p = path.join(dir, e.name);
    if (e.isDirectory) {
      await Deno.chmod(p, 0o755).catch(() => {});
      await chmodTree(p);
    }
  }
}

function oneLine(text: string): string {
  const lines = text.trim().split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `one line expected, got:\n${text}`);
  assert.doesNotMatch(lines[0], /^\s+at |Uncaught|stack/i);
  return lines[0];
}

function assertBounded(run: ChildRun, what: string): void {
  assert.ok(run.peakRss < GB, `${what}: peak memory ${(run.peakRss / 2 ** 20).toFixed(0)} MiB (limit 1 GiB)`);
}

Deno.test("a chunk removed after completion: extraction refuses naming it, --list and the inventory agree, the plan fetches it again", async () => {
  await withStore(async ({ dir, store, storePath }) => {
    await Deno.remove(path.join(store.fsPath(`${GROUP}/r`), "c", "1", "1"));
    const out = path.join(dir, "r.fits");
    const extract = await runScript("zarr_to_fits.ts", [
      "--zarr-path",
      storePath,
      "--skycell",
      A,
      "--band",
      "r",
      "--output",
      out,
    ]);
    assert.equal(extract.code, 2);
    const line = oneLine(extract.stderr);
    assert.match(line, /2556\/skycell\.2556\.080\/r is damaged: .*c\/1\/1/);
    assert.equal(await Deno.stat(out).then(() => true, () => false), false, "no FITS file written");
    assertBounded(extract, "extraction");

    const list = await runScript("zarr_to_fits.ts", ["--zarr-path", storePath, "--list"]);
    assert.match(list.stdout, /11\/12/);
    assert.match(list.stdout, /chunk_missing|recorded by the completion marker are gone/);

    const inv = await runScript("zarr_inventory.ts", [
      "--zarr-path",
      storePath,
      "--output-dir",
      path.join(dir, "reports"),
    ]);
    assert.equal(inv.code, 1);
    assert.match(inv.stdout, /1 corrupt/);
    assert.match(inv.stdout, /chunk_missing/);

    const verdict = arrayStateAt(store, `${GROUP}/r`, { kind: "image" });
    assert.equal(verdict.state, "corrupt");
    assert.deepEqual(verdict.problems.map((p) => p.code), ["chunk_missing"]);
    const plan = await planSkycell(store, A, ["r", "i", "z", "y"], false);
    assert.deepEqual(plan.fetch.map((j) => j.name), ["r"], "the download fetches the damaged array again");
    assert.equal(plan.complete.length, 11);
  });
});

Deno.test("unreadable arrays (a strict umask on a shared store) are reported, never removed by --cleanup-corrupt", async () => {
  await withStore(async ({ dir, store, storePath }) => {
    const reports = path.join(dir, "reports");
    await Deno.mkdir(reports, { mode: 0o777 });
    await Deno.chmod(reports, 0o777);
    await Deno.chmod(store.fsPath(`${GROUP}/r`), 0o000);
    await Deno.chmod(path.join(store.fsPath(`${GROUP}/i`), "c", "1"), 0o000);
    const before = await treeSnapshotAsRoot(store.root);
    const run = await runScript(
      "zarr_inventory.ts",
      ["--zarr-path", storePath, "--output-dir", reports, "--cleanup-corrupt"],
      { unprivileged: true },
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /unreadable/);
    assert.doesNotMatch(run.stdout, /removed 2556/);
    assert.deepEqual(await treeSnapshotAsRoot(store.root), before, "nothing removed");
    assertBounded(run, "inventory");
  });
});

/** treeSnapshot, with every directory made readable for the look and restored after. */
async function treeSnapshotAsRoot(root: string): Promise<string[]> {
  // As root (this process) the permission bits do not stop the walk.
  return await treeSnapshot(root);
}

Deno.test("a zstd bomb chunk (KBs that inflate to GBs) is corrupt for --deep and refused by extraction, in bounded memory", async () => {
  await withStore(async ({ dir, store, storePath }) => {
    const chunk = path.join(store.fsPath(`${GROUP}/r`), "c", "0", "1");
    await Deno.writeFile(chunk, await zstdOfZeros(2 * GB));
    assert.ok((await Deno.stat(chunk)).size < 1 << 20, "the bomb is small on disk");
    const deep = await runScript("zarr_inventory.ts", [
      "--zarr-path",
      storePath,
      "--output-dir",
      path.join(dir, "rep"),
      "--deep",
      "--json",
    ]);
    assert.equal(deep.code, 1);
    assert.match(deep.stdout, /"chunk_undecodable"/);
    assert.match(deep.stdout, /c\/0\/1: decodes to more than 16384 bytes/);
    assertBounded(deep, "inventory --deep");
    const extract = await runScript("zarr_to_fits.ts", [
      "--zarr-path",
      storePath,
      "--skycell",
      A,
      "--band",
      "r",
      "--output",
      path.join(dir, "r.fits"),
    ]);
    assert.notEqual(extract.code, 0);
    assert.match(oneLine(extract.stderr), /c\/0\/1/);
    assertBounded(extract, "extraction");
  });
});

/** A zstd stream of `n` zero bytes, made in slices (the frame records no content size). */
async function zstdOfZeros(n: number): Promise<Uint8Array> {
  const z = zlib.createZstdCompress();
  const parts: Uint8Array[] = [];
  z.on("data", (d: Uint8Array) => parts.push(d));
  const done = new Promise((resolve) => z.on("end", resolve));
  const slice = new Uint8Array(64 << 20);
  for (let sent = 0; sent < n; sent += slice.length) {
    if (!z.write(slice)) await new Promise((resolve) => z.once("drain", resolve));
  }
  z.end();
  await done;
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

Deno.test("a zarr.json that is a link to /dev/zero, a FIFO chunk and a FIFO zarr.json end in a state or one line, within the deadline", async () => {
  await withStore(async ({ dir, store, storePath }) => {
    const r = store.fsPath(`${GROUP}/r`);
    await Deno.remove(path.join(r, "zarr.json"));
    await Deno.symlink("/dev/zero", path.join(r, "zarr.json"));
    const i = store.fsPath(`${GROUP}/i`);
    await Deno.remove(path.join(i, "c", "0", "1"));
    await mkfifo(path.join(i, "c", "0", "1"));
    const z = store.fsPath(`${GROUP}/z`);
    await Deno.remove(path.join(z, "zarr.json"));
    await mkfifo(path.join(z, "zarr.json"));
    const inv = await runScript("zarr_inventory.ts", [
      "--zarr-path",
      storePath,
      "--output-dir",
      path.join(dir, "rep"),
      "--deep",
      "--json",
    ]);
    assert.equal(inv.code, 1);
    assert.match(inv.stdout, /leading out of the store/);
    assert.match(inv.stdout, /a FIFO/);
    assertBounded(inv, "inventory");
    const list = await runScript("zarr_to_fits.ts", ["--zarr-path", storePath, "--list"]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /9\/12/);
    for (const band of ["r", "i", "z"]) {
      const run = await runScript("zarr_to_fits.ts", [
        "--zarr-path",
        storePath,
        "--skycell",
        A,
        "--band",
        band,
        "--output",
        path.join(dir, `${band}.fits`),
      ]);
      assert.notEqual(run.code, 0, band);
      oneLine(run.stderr);
      assertBounded(run, `extraction of ${band}`);
    }
  });
});

async function mkfifo(file: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [file] }).output();
  assert.equal(out.code, 0, "mkfifo");
}

Deno.test("a chunk-key separator that leads out of the array, absurd and negative shapes: corrupt at once, never read or looped over", async () => {
  await withStore(async ({ dir, store, storePath }) => {
    await editMetadata(store, `${GROUP}/r`, (doc) => {
      doc.chunk_key_encoding = { name: "default", configuration: { separator: "/../../.." } };
    });
    await editMetadata(store, `${GROUP}/i`, (doc) => (doc.shape = [1e15, 1e15]));
    await editMetadata(store, `${GROUP}/z`, (doc) => {
      doc.chunk_grid = { name: "regular", configuration: { chunk_shape: [-64, 64] } };
    });
    for (
      const [name, why] of [["r", /separator/], ["i", /grid of .* chunks/], ["z", /chunk shape/]] as const
    ) {
      const verdict = arrayStateAt(store, `${GROUP}/${name}`, { kind: "image" });
      assert.equal(verdict.state, "corrupt", name);
      assert.match(verdict.problems[0].message, why);
    }
    const inv = await runScript("zarr_inventory.ts", [
      "--zarr-path",
      storePath,
      "--output-dir",
      path.join(dir, "rep"),
      "--deep",
    ]);
    assert.equal(inv.code, 1);
    assertBounded(inv, "inventory");
    const run = await runScript("zarr_to_fits.ts", [
      "--zarr-path",
      storePath,
      "--skycell",
      A,
      "--band",
      "r",
      "--output",
      path.join(dir, "r.fits"),
    ]);
    assert.equal(run.code, 2);
    assert.match(oneLine(run.stderr), /separator/);
  });
});

Deno.test("a store reached through a symlinked path takes the same lock and owner records, so a cleanup there keeps a live build", async () => {
  await withStore(async ({ dir, store }) => {
    const alias = path.join(dir, "alias");
    await Deno.symlink(path.dirname(store.root), alias);
    const viaAlias = await ZarrStore.open(path.join(alias, "ps1_skycells.zarr"));
    assert.equal(viaAlias.root, store.root);
    assert.equal(viaAlias.lock.path, lockPathOf(store.root));
    assert.equal(ownersDir(viaAlias.root), ownersDir(store.root));
    // A build of this live process, through the real path; a cleanup through the alias must keep it.
    await registerOwner(store.root);
    const temp = tempName("r");
    await Deno.mkdir(path.join(store.fsPath(GROUP), temp));
    const run = await runScript("zarr_inventory.ts", [
      "--zarr-path",
      path.join(alias, "ps1_skycells.zarr"),
      "--output-dir",
      path.join(dir, "rep"),
      "--cleanup-temp",
      "--temp-min-age",
      "0",
    ]);
    assert.ok(
      await Deno.stat(path.join(store.fsPath(GROUP), temp)).then(() => true, () => false),
      run.stdout,
    );
    assert.match(run.stdout, /kept|running|live/i);
  });
});
