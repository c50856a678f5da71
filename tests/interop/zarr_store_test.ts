/**
 * The store against the references: zarr-python 3.1.6 opens, lists and reads bit-exact a store we wrote
 * (with astropy parsing the header attribute) and numcodecs decodes our chunk files; our `zarr.json` files
 * are byte-identical to zarr-python's for the same array and attributes; we read bit-exact what zarr-python
 * writes, in the current layout (format 3, with absent all-fill chunks) and the legacy
 * `projections/{PPPP}/{skycell}` layout (format 2 with zstd, blosc and `/` chunk keys, header on the group);
 * and the store lock excludes a Python process taking the same `flock` (`filelock` is not in the reference
 * environment, so the Python side calls `fcntl.flock` on the lock file, which is what filelock's
 * UnixFileLock does).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { pythonPath, runPython, runTool } from "./_python.ts";
import type { StoreTypedArray } from "../../lib/zarr/chunks.ts";
import { findSkycell, headerOf, listStore } from "../../lib/store/layout.ts";
import {
  arrayMetadataJson,
  type ArraySpec,
  defaultChunks,
  groupMetadataJson,
} from "../../lib/zarr/metadata.ts";
import { listChunkFiles, openArrayReader } from "../../lib/zarr/read.ts";
import { ZarrStore } from "../../lib/zarr/store.ts";
import { MARKER_KEY } from "../../lib/zarr/verify.ts";
import { StoreLock } from "../../lib/zarr/lock.ts";
import { assertSameBits, LineReader, testImage, window, withTempDir, writeImage } from "../zarr/_helpers.ts";

/** A FITS header as astropy's `Header.tostring()` gives it: 80-character cards, END, blank-padded to 2880. */
function fitsHeader(extra: [string, string][] = []): string {
  const cards: [string, string][] = [
    ["SIMPLE", "T"],
    ["BITPIX", "-32"],
    ["NAXIS", "2"],
    ["NAXIS1", "1050"],
    ["NAXIS2", "1100"],
    ["EXPTIME", "123.5"],
    ["BOFFSET", "2.25"],
    ["BSOFTEN", "10.0"],
    ["CTYPE1", "'RA---TAN'"],
    ...extra,
  ];
  const text = cards.map(([k, v]) => `${k.padEnd(8)}= ${v.padStart(20)}`.padEnd(80)).join("") +
    "END".padEnd(80);
  return text.padEnd(Math.ceil(text.length / 2880) * 2880);
}

function bytesOf(a: StoreTypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

async function readRaw(file: string, dtype: string): Promise<StoreTypedArray> {
  const bytes = await Deno.readFile(file);
  const buf = new Uint8Array(bytes).buffer;
  return dtype === "float32" ? new Float32Array(buf) : new Uint16Array(buf);
}

// Opens our store with zarr-python, lists it, reads every array in the manifest and compares with the raw
// bytes, parses the header with astropy, and decodes each chunk file with numcodecs against the padded
// expected chunk.
const READ_OURS = String.raw`
import glob, json, os, sys
import numpy as np, numcodecs, zarr
from astropy.io import fits
store, manifest = sys.argv[1], json.load(open(sys.argv[2]))
root = zarr.open_group(store, mode="r")
members = sorted([k, "array" if isinstance(v, zarr.Array) else "group"] for k, v in root.members(max_depth=None))
arrays = {}
zstd = numcodecs.Zstd()
for item in manifest:
    a = root[item["path"]]
    raw = np.fromfile(item["raw"], dtype="<f4" if item["dtype"] == "float32" else "<u2").reshape(item["shape"])
    data = a[:]
    ch, cw = a.chunks
    chunk_files = sorted(os.path.relpath(p, os.path.join(store, item["path"]))
                         for p in glob.glob(os.path.join(store, item["path"], "c", "*", "*")))
    bad_chunks = []
    for key in chunk_files:
        _, r, c = key.split("/")
        r, c = int(r), int(c)
        expected = np.full((ch, cw), a.fill_value, dtype=raw.dtype)
        part = raw[r * ch:(r + 1) * ch, c * cw:(c + 1) * cw]
        expected[:part.shape[0], :part.shape[1]] = part
        with open(os.path.join(store, item["path"], key), "rb") as f:
            decoded = np.frombuffer(zstd.decode(f.read()), dtype=raw.dtype)
        if decoded.size != ch * cw or decoded.tobytes() != expected.tobytes():
            bad_chunks.append(key)
    header = a.attrs["header"]
    arrays[item["path"]] = {
        "dtype": str(a.dtype),
        "shape": list(a.shape),
        "chunks": list(a.chunks),
        "fill_value": "nan" if np.isnan(a.fill_value) else int(a.fill_value),
        "bit_exact": data.dtype == raw.dtype and data.tobytes() == raw.tobytes(),
        "header_equal": header == item["header"],
        "exptime": fits.Header.fromstring(header)["EXPTIME"],
        "chunk_files": chunk_files,
        "bad_chunks": bad_chunks,
    }
print(json.dumps({"members": members, "arrays": arrays}))
`;

Deno.test("zarr-python lists and reads bit-exact a store we wrote, and numcodecs decodes our chunks", async () => {
  await withTempDir(async (dir) => {
    const root = path.join(dir, "ps1_skycells.zarr");
    const store = await ZarrStore.open(root, { create: true });
    const header = fitsHeader();
    const manifest: { path: string; raw: string; dtype: string; shape: number[]; header: string }[] = [];
    const arrays: [string, string, ArraySpec, StoreTypedArray][] = [];
    for (const [group, seed] of [["2556/skycell.2556.080", 1], ["2557/skycell.2557.011", 2]] as const) {
      const shape: [number, number] = [2100, 2080];
      const chunks = defaultChunks(shape);
      arrays.push(
        [
          group,
          "r",
          { shape, dtype: "float32", chunks },
          testImage("float32", ...shape, { seed, border: 60 }),
        ],
        [
          group,
          "r_mask",
          { shape, dtype: "uint16", chunks },
          testImage("uint16", ...shape, { seed, border: 60 }),
        ],
        [
          group,
          "r_wt",
          { shape, dtype: "float32", chunks },
          testImage("float32", ...shape, { seed: seed + 9 }),
        ],
      );
    }
    arrays.push([
      "2556/skycell.2556.080",
      "i",
      { shape: [700, 900], dtype: "float32", chunks: [700, 900] },
      testImage("float32", 700, 900, { seed: 5, border: 3 }),
    ]);
    try {
      for (const [group, name, spec, image] of arrays) {
        await writeImage(store, group, name, spec, image, {
          attributes: { header },
          provenance: { source: "/data/caf\u00e9/x.fits" },
        });
        const raw = path.join(dir, `${group.replaceAll("/", "_")}_${name}.raw`);
        await Deno.writeFile(raw, bytesOf(image));
        manifest.push({ path: `${group}/${name}`, raw, dtype: spec.dtype, shape: spec.shape, header });
      }
    } finally {
      store.close();
    }
    await Deno.writeTextFile(path.join(dir, "manifest.json"), JSON.stringify(manifest));
    const result = JSON.parse(await runPython(READ_OURS, [root, path.join(dir, "manifest.json")]));
    assert.deepEqual(result.members, [
      ["2556", "group"],
      ["2556/skycell.2556.080", "group"],
      ["2556/skycell.2556.080/i", "array"],
      ["2556/skycell.2556.080/r", "array"],
      ["2556/skycell.2556.080/r_mask", "array"],
      ["2556/skycell.2556.080/r_wt", "array"],
      ["2557", "group"],
      ["2557/skycell.2557.011", "group"],
      ["2557/skycell.2557.011/r", "array"],
      ["2557/skycell.2557.011/r_mask", "array"],
      ["2557/skycell.2557.011/r_wt", "array"],
    ]);
    for (const item of manifest) {
      const got = result.arrays[item.path];
      assert.equal(got.bit_exact, true, `${item.path}: zarr-python reads what we wrote`);
      assert.equal(got.header_equal, true, `${item.path}: header attribute`);
      assert.equal(got.exptime, 123.5);
      assert.equal(got.dtype, item.dtype);
      assert.deepEqual(got.shape, item.shape);
      assert.deepEqual(got.chunks, defaultChunks(item.shape as [number, number]));
      assert.equal(got.fill_value, item.dtype === "float32" ? "nan" : 0);
      assert.ok(got.chunk_files.length > 0);
      assert.deepEqual(got.bad_chunks, [], `${item.path}: chunks numcodecs decodes differently`);
    }
    // The NaN border leaves the last chunk row and column unwritten: 4 of the 9 chunks are stored.
    assert.deepEqual(result.arrays["2556/skycell.2556.080/r"].chunk_files, [
      "c/0/0",
      "c/0/1",
      "c/1/0",
      "c/1/1",
    ]);
    assert.equal(result.arrays["2556/skycell.2556.080/r_wt"].chunk_files.length, 9);
    // Every frame records its decoded size (numcodecs before 0.13 cannot decode frames without it).
    const files = result.arrays["2556/skycell.2556.080/r_wt"].chunk_files.map((k: string) =>
      path.join(root, "2556/skycell.2556.080/r_wt", k)
    );
    const listing = await runTool("zstd", ["-lv", ...files]);
    const sizes = [...listing.stdout.matchAll(/Decompressed Size: .*\((\d+) B\)/g)].map((m) => Number(m[1]));
    assert.deepEqual(sizes, files.map(() => 1024 * 1024 * 4));
  });
});

// Creates arrays with zarr-python exactly as the Python tools do and prints each zarr.json text.
const METADATA = String.raw`
import json, sys
import numpy as np, zarr
store, cases = sys.argv[1], json.load(open(sys.argv[2]))
root = zarr.open_group(store, mode="w")
sub = root.require_group("2556").require_group("skycell.2556.080")
out = {"groups": [open(store + "/zarr.json").read(), open(store + "/2556/skycell.2556.080/zarr.json").read()]}
for i, case in enumerate(cases):
    h, w = case["shape"]
    dtype = np.float32 if case["dtype"] == "float32" else np.uint16
    data = np.zeros((h, w), dtype=dtype)
    a = sub.create_array(f"a{i}", data=data, chunks=(min(1024, h), min(1024, w)),
                         compressors=[{"name": "zstd", "configuration": {"level": 3}}],
                         fill_value=np.nan if dtype == np.float32 else 0)
    for key, value in case["attributes"].items():
        a.attrs[key] = value
    out[f"a{i}"] = open(f"{store}/2556/skycell.2556.080/a{i}/zarr.json").read()
print(json.dumps(out))
`;

Deno.test("our zarr.json files are byte-identical to zarr-python's for the same arrays and attributes", async () => {
  await withTempDir(async (dir) => {
    // One array written through our whole build path: its attributes (header and completion marker, with
    // a non-ASCII path and a float) are given to zarr-python to set on the same array.
    const root = path.join(dir, "ours.zarr");
    const store = await ZarrStore.open(root, { create: true });
    const spec: ArraySpec = { shape: [1100, 1050], dtype: "float32", chunks: defaultChunks([1100, 1050]) };
    try {
      await writeImage(store, "2556/skycell.2556.080", "r", spec, testImage("float32", 1100, 1050), {
        attributes: { header: fitsHeader() },
        provenance: {
          source: "/data/caf\u00e9/rings.v3.skycell.2556.080.stk.r.unconv.fits",
          source_bytes: 123456,
          ratio: 1.5e-7,
        },
      });
    } finally {
      store.close();
    }
    const ours = await Deno.readTextFile(path.join(root, "2556/skycell.2556.080/r/zarr.json"));
    const cases = [
      { shape: [1100, 1050], dtype: "float32", attributes: JSON.parse(ours).attributes },
      { shape: [6243, 6300], dtype: "float32", attributes: { header: fitsHeader() } },
      { shape: [6300, 6243], dtype: "uint16", attributes: { header: fitsHeader([["BLANK", "0"]]) } },
      { shape: [1024, 1024], dtype: "uint16", attributes: { header: "" } },
      {
        shape: [700, 1500],
        dtype: "float32",
        attributes: { header: 'x\u00e9\u{1f600}\t"\\', n: [1, 2.5, -0.0001, 1e-5, null, true], o: {} },
      },
    ];
    await Deno.writeTextFile(path.join(dir, "cases.json"), JSON.stringify(cases));
    const python = JSON.parse(
      await runPython(METADATA, [path.join(dir, "theirs.zarr"), path.join(dir, "cases.json")]),
    );
    assert.equal(ours, python.a0, "the zarr.json our build wrote");
    cases.forEach((c, i) => {
      const text = arrayMetadataJson(
        {
          shape: c.shape as [number, number],
          dtype: c.dtype as "float32",
          chunks: defaultChunks(c.shape as [number, number]),
        },
        c.attributes,
      );
      assert.equal(text, python[`a${i}`], `case ${i}: ${JSON.stringify(c.shape)} ${c.dtype}`);
    });
    assert.equal(groupMetadataJson(), python.groups[0]);
    assert.equal(groupMetadataJson(), python.groups[1]);
    assert.equal(await Deno.readTextFile(path.join(root, "zarr.json")), python.groups[0]);
    assert.equal(
      await Deno.readTextFile(path.join(root, "2556/skycell.2556.080/zarr.json")),
      python.groups[1],
    );
  });
});

// Writes a store as the Python tools do (current layout, format 3) plus a legacy format 2 layout, saving
// each array's pixels as raw bytes; prints a manifest.
const WRITE_THEIRS = String.raw`
import json, os, sys
import numpy as np, numcodecs, zarr
store, rawdir, header = sys.argv[1], sys.argv[2], sys.argv[3]
rng = np.random.default_rng(7)
def image(shape, border, dtype):
    if dtype == "float32":
        a = (np.round(rng.normal(100.0, 12.0, shape) * 16) / 16).astype("<f4")
        a[:border] = np.nan; a[-border:] = np.nan; a[:, :border] = np.nan; a[:, -border:] = np.nan
        a[5, 5:9] = [np.inf, -np.inf, -0.0, np.float32(1e-42)] if border < 5 else a[5, 5:9]
    else:
        a = np.where(rng.random(shape) < 0.9, 0, 1 << rng.integers(0, 16, shape)).astype("<u2")
        a[:border] = 0; a[-border:] = 0; a[:, :border] = 0; a[:, -border:] = 0
    return a
manifest = []
def save(path, a, layout, fmt, header_on):
    raw = os.path.join(rawdir, path.replace("/", "_") + ".raw")
    a.tofile(raw)
    files = sorted(os.path.relpath(os.path.join(d, f), os.path.join(store, path))
                   for d, _, fs in os.walk(os.path.join(store, path)) for f in fs if not f.startswith(".") and f != "zarr.json")
    manifest.append({"path": path, "raw": raw, "dtype": str(a.dtype), "shape": list(a.shape), "layout": layout,
                     "format": fmt, "header_on": header_on, "chunk_files": files})
zstd3 = [{"name": "zstd", "configuration": {"level": 3}}]
root = zarr.open_group(store, mode="w")
for skycell, shape, border in [("skycell.2556.080", (2100, 2080), 60), ("skycell.2556.081", (1100, 1050), 2)]:
    g = root.require_group("2556").require_group(skycell)
    for name, dtype in [("r", "float32"), ("r_mask", "uint16"), ("r_wt", "float32")]:
        a = image(shape, border, dtype)
        arr = g.create_array(name, data=a, chunks=(min(1024, shape[0]), min(1024, shape[1])), compressors=zstd3,
                             fill_value=np.nan if dtype == "float32" else 0)
        arr.attrs["header"] = header
        save(f"2556/{skycell}/{name}", a, "current", 3, "array")
legacy = zarr.open_group(store, mode="a", path="projections", zarr_format=2)
g = legacy.require_group("2557").require_group("skycell.2557.010")
g.attrs["header"] = header
shape = (700, 650)
variants = [
    ("r", "float32", dict(compressors=numcodecs.Zstd(level=3))),
    ("i", "float32", dict(compressors=numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE),
                          chunk_key_encoding={"name": "v2", "separator": "/"})),
    ("z", "float32", dict(compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE), order="F")),
    ("r_mask", "uint16", dict(compressors=numcodecs.Zstd(level=3), chunk_key_encoding={"name": "v2", "separator": "/"})),
]
for name, dtype, opts in variants:
    a = image(shape, 260, dtype)
    g.create_array(name, data=a, chunks=(256, 256), fill_value=np.nan if dtype == "float32" else 0, **opts)
    save(f"projections/2557/skycell.2557.010/{name}", a, "legacy", 2, "group")
print(json.dumps(manifest))
`;

Deno.test("we read bit-exact what zarr-python writes, current format 3 and legacy format 2 layouts", async () => {
  await withTempDir(async (dir) => {
    const root = path.join(dir, "ps1_skycells.zarr");
    const header = fitsHeader();
    const manifest = JSON.parse(await runPython(WRITE_THEIRS, [root, dir, header])) as {
      path: string;
      raw: string;
      dtype: string;
      shape: [number, number];
      layout: "current" | "legacy";
      format: number;
      header_on: "array" | "group";
      chunk_files: string[];
    }[];
    assert.equal(manifest.length, 10);
    const store = await ZarrStore.open(root);
    try {
      const listing = await listStore(store);
      assert.deepEqual(listing.skycells.map((s) => [s.name, s.layout, s.arrays.length]), [
        ["skycell.2556.080", "current", 3],
        ["skycell.2556.081", "current", 3],
        ["skycell.2557.010", "legacy", 4],
      ]);
      assert.deepEqual([listing.temps, listing.unexpected], [[], []]);
      for (const item of manifest) {
        const expected = await readRaw(item.raw, item.dtype);
        const reader = await openArrayReader(store, item.path);
        assert.equal(reader.info.format, item.format);
        assert.equal(reader.info.plainZstd, item.format === 3, `${item.path}: read path`);
        assertSameBits(await reader.readRegion(0, item.shape[0]), expected, item.path);
        const [h, w] = item.shape;
        for (
          const [y0, y1, x0, x1] of [[250, 520, 200, 300], [h - 3, h, 0, w], [
            1000,
            Math.min(h, 1100),
            1000,
            Math.min(w, 1030),
          ]]
        ) {
          if (y0 >= y1 || x0 >= x1 || y1 > h) continue;
          assertSameBits(
            await reader.readRegion(y0, y1, x0, x1),
            window(expected, w, y0, y1, x0, x1),
            `${item.path} window`,
          );
        }
        // Absent all-fill chunks are absent for us too.
        const files = await listChunkFiles(reader.root, reader.dir, reader.info);
        assert.deepEqual(files.map((f) => f.key).sort(), item.chunk_files, `${item.path}: chunk files`);
        const skycell = await findSkycell(store, item.path.split("/").at(-2)!);
        assert.equal(skycell?.layout, item.layout);
        const arrayNode = skycell!.arrays.find((a) => a.path === item.path)!;
        assert.equal(headerOf(arrayNode.info, skycell!.group), header, `${item.path}: header`);
        assert.equal(reader.header, item.header_on === "array" ? header : undefined);
      }
      // The all-NaN border of the big array really left chunks out.
      const big = manifest.find((m) => m.path === "2556/skycell.2556.080/r")!;
      assert.deepEqual(big.chunk_files, ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]);
      assert.ok(manifest.filter((m) => m.layout === "legacy").every((m) => m.chunk_files.length < 9));
    } finally {
      store.close();
    }
  });
});

const PY_HOLD = String.raw`
import fcntl, os, sys
with open(sys.argv[1], "a") as f:
    fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()  # held until the test says "release"
    # What the store holds at the last moment of the hold: the array must not be in place yet.
    state = "present" if os.path.exists(sys.argv[2]) else "absent"
    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    print(f"released, array {state} while held", flush=True)
`;

// Tries the lock without blocking: "timeout" after a failed first round, "blocked" at the first failed try
// of the second round (the test releases only then), and at last the number of failed tries before it got
// the lock. No clock decides anything: the test's ordering does.
const PY_TRY = String.raw`
import fcntl, sys, time
def try_lock(f):
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
with open(sys.argv[1], "a") as f:
    print("trying", flush=True)
    print("acquired" if try_lock(f) else "timeout", flush=True)
    failed = 0
    while not try_lock(f):
        failed += 1
        if failed == 1:
            print("blocked", flush=True)
        if failed > 6000:
            print("gave up", flush=True)
            sys.exit(1)
        time.sleep(0.01)
    print(f"acquired after {failed} failed tries", flush=True)
`;

const LINE_DEADLINE_MS = 30_000;

/** `promise`, or a failure naming `what` when it has not settled within 30 s. */
async function beforeDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: not done within ${LINE_DEADLINE_MS} ms`)),
      LINE_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function spawnPython(
  source: string,
  args: string[],
): { child: Deno.ChildProcess; lines: LineReader; say(line: string): Promise<void>; end(): Promise<void> } {
  const child = new Deno.Command(pythonPath(), {
    args: ["-c", source, ...args],
    stdout: "piped",
    stderr: "inherit",
    stdin: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  let open = true;
  const closeStdin = async () => {
    if (open) {
      open = false;
      await writer.close().catch(() => {});
    }
  };
  return {
    child,
    lines: new LineReader(child.stdout),
    say: async (line) => {
      await writer.write(new TextEncoder().encode(line + "\n"));
      await closeStdin();
    },
    // Ends the child if it is still running (a failed test) and releases its pipes.
    end: async () => {
      await closeStdin();
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** Waits for a line of the child's output matching `predicate`, for at most 30 s. */
function line(lines: LineReader, predicate: (l: string) => boolean, what: string): Promise<string> {
  return beforeDeadline(lines.waitFor(predicate), `Python printing ${what} (it printed ${lines.lines})`);
}

Deno.test("a Python process holding flock on {store}.lock blocks our writer until it releases", async () => {
  await withTempDir(async (dir) => {
    const root = path.join(dir, "ps1_skycells.zarr");
    let waited!: () => void;
    const waiting = new Promise<void>((resolve) => (waited = resolve));
    const store = await ZarrStore.open(root, { create: true, lock: { pollMs: 20, onWait: () => waited() } });
    const spec: ArraySpec = { shape: [300, 300], dtype: "float32", chunks: [300, 300] };
    const build = await store.beginArray("2556/skycell.2556.080", "r", spec);
    build.writeChunkRow(0, testImage("float32", 300, 300) as Float32Array<ArrayBuffer>);
    const final = path.join(root, "2556", "skycell.2556.080", "r", "zarr.json");
    const py = spawnPython(PY_HOLD, [`${root}.lock`, final]);
    try {
      await line(py.lines, (l) => l === "locked", "locked");
      await assert.rejects(
        () => new StoreLock(root, { timeoutMs: 200 }).run(() => {}),
        new RegExp(`${root}\\.lock: store lock still held by another process after 200 ms`),
      );
      // The order of events, not their times: the commit finds Python's lock and waits; while Python holds
      // it the array is not in place; once Python releases, the commit ends with the array complete.
      let committed = false;
      const commit = build.commit({ header: "" }).then(() => (committed = true));
      await beforeDeadline(waiting, "the commit meeting Python's lock");
      // Give the waiting commit many polls (pollMs 20) to get through if the lock failed to stop it; the
      // assertions are on what happened before the release, not on how long anything took.
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(committed, false, "the commit waits while Python holds the lock");
      await py.say("release");
      assert.equal(
        await line(py.lines, (l) => l.startsWith("released"), "released"),
        "released, array absent while held",
      );
      await beforeDeadline(commit, "the commit after Python released");
      assert.notEqual((await store.readArray("2556/skycell.2556.080/r")).attributes[MARKER_KEY], undefined);
      assert.equal((await beforeDeadline(py.child.status, "Python's exit")).code, 0);
    } finally {
      await py.end();
      store.close();
    }
  });
});

Deno.test("our held store lock makes Python's flock attempt fail, and Python gets it once we release", async () => {
  await withTempDir(async (dir) => {
    const root = path.join(dir, "ps1_skycells.zarr");
    const lock = new StoreLock(root);
    const py = spawnPython(PY_TRY, [`${root}.lock`]);
    try {
      let released = false;
      await lock.run(async () => {
        await line(py.lines, (l) => l === "trying", "trying");
        assert.equal(await beforeDeadline(py.lines.next(), "Python's first try"), "timeout");
        // Python is retrying and has failed at least once more while we hold the lock; only now release.
        await line(py.lines, (l) => l === "blocked", "blocked");
        released = true;
      });
      assert.ok(released);
      const acquired = await line(py.lines, (l) => l.startsWith("acquired after"), "acquired");
      const failed = Number(/acquired after (\d+) failed tries/.exec(acquired)?.[1]);
      assert.ok(failed >= 1, `Python failed while we held the lock, then got it: ${acquired}`);
      await beforeDeadline(py.lines.rest(), "the end of Python's output");
      assert.equal((await beforeDeadline(py.child.status, "Python's exit")).code, 0);
    } finally {
      await py.end();
    }
  });
});
