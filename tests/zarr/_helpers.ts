/**
 * Shared helpers of the store tests: temporary stores, deterministic test images, writing a whole image
 * through an {@link ArrayBuild}, bit-exact comparison, and child `deno run` processes.
 * @module
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { StoreTypedArray } from "../../lib/zarr/chunks.ts";
import type { ArraySpec, StoreDtype } from "../../lib/zarr/metadata.ts";
import { type CommitResult, type Provenance, ZarrStore } from "../../lib/zarr/store.ts";
import { seededRandom } from "../../lib/archive/faults.ts";

/** Absolute path of the repository root. */
export const REPO_ROOT: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A seeded PRNG (mulberry32) giving floats in [0, 1). */
export const rng: (seed: number) => () => number = seededRandom;

/** Options of {@link testImage}. */
export interface ImageOptions {
  /** PRNG seed. */
  seed?: number;
  /** Width of a border of fill values (NaN or 0) around the data. */
  border?: number;
}

/**
 * A deterministic test image: float32 quantized sky noise, or uint16 mask bits, with an optional border
 * of the fill value (NaN / 0) like the edge of a skycell.
 */
export function testImage(
  dtype: StoreDtype,
  height: number,
  width: number,
  opts: ImageOptions = {},
): StoreTypedArray {
  const next = rng(opts.seed ?? 1);
  const border = opts.border ?? 0;
  const out = dtype === "float32" ? new Float32Array(height * width) : new Uint16Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const inside = y >= border && y < height - border && x >= border && x < width - border;
      if (dtype === "float32") {
        out[i] = inside ? Math.round((100 + (next() - 0.5) * 40) * 16) / 16 : NaN;
      } else {
        out[i] = inside ? (next() < 0.9 ? 0 : 1 << Math.floor(next() * 16)) : 0;
      }
    }
  }
  return out;
}

/** Asserts that two typed arrays hold the same bytes (NaN payloads included), naming the first difference. */
export function assertSameBits(actual: StoreTypedArray, expected: StoreTypedArray, what = "array"): void {
  assert.equal(actual.constructor, expected.constructor, `${what}: element type`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      const el = Math.floor(i / actual.BYTES_PER_ELEMENT);
      assert.fail(`${what}: element ${el} differs: ${actual[el]} != ${expected[el]}`);
    }
  }
}

/** The window [y0, y1) x [x0, x1) of a row-major image of width `width`. */
export function window(
  image: StoreTypedArray,
  width: number,
  y0: number,
  y1: number,
  x0: number,
  x1: number,
): StoreTypedArray {
  const w = x1 - x0;
  const out = image instanceof Float32Array
    ? new Float32Array((y1 - y0) * w)
    : new Uint16Array((y1 - y0) * w);
  for (let y = y0; y < y1; y++) out.set(image.subarray(y * width + x0, y * width + x1), (y - y0) * w);
  return out;
}

/** Writes a whole image as array `name` of `group`, by the worker pool or on this thread, and commits it. */
export async function writeImage(
  store: ZarrStore,
  group: string,
  name: string,
  spec: ArraySpec,
  image: StoreTypedArray,
  opts: {
    attributes?: Record<string, unknown>;
    provenance?: Provenance;
    keepComplete?: boolean;
  } = {},
): Promise<CommitResult> {
  const build = await store.beginArray(group, name, spec);
  const width = spec.shape[1];
  for (let row = 0; row < build.chunkRows; row++) {
    const [y0, y1] = build.rowsOf(row);
    const band = build.takeBand(row);
    band.set(image.subarray(y0 * width, y1 * width));
    build.writeChunkRow(row, band);
  }
  return await build.commit(opts.attributes ?? { header: "" }, opts.provenance ?? {}, {
    keepComplete: opts.keepComplete,
  });
}

/** Runs `fn` with a fresh store in a temporary directory, removed afterwards. */
export async function withStore<T>(
  fn: (store: ZarrStore, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "zarr_test_" });
  const store = await ZarrStore.open(path.join(dir, "s.zarr"), { create: true });
  try {
    return await fn(store, dir);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "zarr_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every file and directory under `dir`, as sorted relative paths (directories end in `/`). */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(path.join(dir, rel))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.push(p + "/");
        await walk(p);
      } else out.push(p);
    }
  };
  await walk("");
  return out.sort();
}

/** Path of the child process script used by the multi-process tests. */
export const CHILD_SCRIPT: string = path.join(REPO_ROOT, "tests", "zarr", "_child.ts");

/** Starts `deno run` on the child script with `args` (stdout piped, stderr to ours). */
export function spawnChild(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      `--config=${path.join(REPO_ROOT, "deno.json")}`,
      "--allow-read",
      "--allow-write",
      "--allow-env",
      CHILD_SCRIPT,
      ...args,
    ],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Reads a child's stdout line by line. */
export class LineReader {
  /** Every line read so far. */
  readonly lines: string[] = [];
  #reader: ReadableStreamDefaultReader<string>;
  #buffered = "";
  #pending: string[] = [];

  /**
   * Reads lines from `stream`.
   * @param stream the child's stdout
   */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next line, or null at the end of the output. */
  async next(): Promise<string | null> {
    while (this.#pending.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) {
        if (this.#buffered === "") return null;
        this.#pending.push(this.#buffered);
        this.#buffered = "";
        break;
      }
      const parts = (this.#buffered + value).split("\n");
      this.#buffered = parts.pop()!;
      this.#pending.push(...parts);
    }
    const line = this.#pending.shift()!;
    this.lines.push(line);
    return line;
  }

  /** Reads lines until one matches; throws when the output ends first. */
  async waitFor(predicate: (line: string) => boolean): Promise<string> {
    while (true) {
      const line = await this.next();
      if (line === null) throw new Error(`child output ended; it printed:\n${this.lines.join("\n")}`);
      if (predicate(line)) return line;
    }
  }

  /** Reads the rest of the output (so the pipe is drained and closed). */
  async rest(): Promise<string[]> {
    const out: string[] = [];
    for (let line = await this.next(); line !== null; line = await this.next()) out.push(line);
    return out;
  }
}
