/**
 * The files of the writers' round-trip tests, built in one place so that the same bytes are checked by our
 * own reader (tests/fits/write_roundtrip_test.ts, no Python) and by the references
 * (tests/interop/write_roundtrip_test.ts: astropy bit-exact, fitsverify clean): plain float32 and uint16
 * (in memory and streamed), RICE_1 int16, GZIP_1 uint16, and quantized RICE_1 float32 (in memory and
 * streamed).
 * @module
 */
import { formatCard } from "../../lib/fits/card.ts";
import { FitsStreamWriter, writeFits } from "../../lib/fits/write.ts";
import { CompressedFitsWriter, compressImage } from "../../lib/fits/compress.ts";

/** A deterministic uniform generator in [0, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A noisy sky with a gradient, an all-NaN first row and a blank (NaN) left border. */
export function sky(width: number, height: number, seed: number): Float32Array {
  const rand = lcg(seed);
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    out[i] = 100 + (rand() + rand() + rand() - 1.5) * 8 + (i % width) * 0.01;
  }
  out.fill(NaN, 0, width); // an all-NaN first row
  for (let y = 0; y < height; y++) out.fill(NaN, y * width, y * width + 3); // a blank left border
  return out;
}

/** The stored header cards every file carries. */
export const STORED = [
  formatCard("OBJECT", "round trip"),
  formatCard("EXPTIME", 1234.5, "seconds"),
  formatCard("BSOFTEN", 221.9),
  formatCard("HISTORY", "kept in order"),
].join("");

/** One written file and what it was written from. */
export interface RoundtripFile {
  name: string;
  bytes: Uint8Array;
  width: number;
  height: number;
  /** The pixels given to the writer. */
  source: Float32Array | Uint16Array | Int16Array;
  /** Cards the file must carry. */
  cards: string;
  /** null for a plain file. */
  compression: "RICE_1" | "GZIP_1" | null;
  /** Quantized floats: lossy, within half a tile's step; rows listed in `exactRows` are stored exactly. */
  quantized: boolean;
  exactRows: number[];
}

/** Builds every round-trip file (streamed ones through a temp file, removed again). */
export async function roundtripFiles(): Promise<RoundtripFile[]> {
  const files: RoundtripFile[] = [];
  const plain = (name: string, bytes: Uint8Array, w: number, h: number, source: Float32Array | Uint16Array) =>
    files.push({
      name,
      bytes,
      width: w,
      height: h,
      source,
      cards: STORED,
      compression: null,
      quantized: false,
      exactRows: [],
    });

  {
    const width = 57, height = 23;
    const f = sky(width, height, 1);
    f[100] = Infinity;
    f[101] = -0;
    const u = new Uint16Array(width * height).map((_, i) => (i * 2654435761) >>> 16);
    plain("f32", writeFits(STORED, f, width, height, "float32"), width, height, f);
    plain("u16_ck", writeFits(STORED, u, width, height, "uint16", { checksum: true }), width, height, u);
  }
  {
    const width = 130, height = 77;
    const f = sky(width, height, 2);
    const file = await Deno.makeTempFile({ suffix: ".fits" });
    try {
      const w = await FitsStreamWriter.create(file, STORED, width, height, "float32", { checksum: true });
      for (let y = 0; y < height; y += 16) {
        await w.writeRows(f.subarray(y * width, Math.min(height, y + 16) * width));
      }
      await w.close();
      plain("f32_streamed", await Deno.readFile(file), width, height, f);
    } finally {
      await Deno.remove(file);
    }
  }
  {
    const width = 90, height = 31;
    const rand = lcg(3);
    const ints = new Int16Array(width * height).map(() => Math.round((rand() - 0.5) * 60000));
    files.push({
      name: "i16_rice",
      bytes: compressImage([], width, height, ints, { compression: "RICE_1", bitpix: 16 }),
      width,
      height,
      source: ints,
      cards: "",
      compression: "RICE_1",
      quantized: false,
      exactRows: [],
    });
    const mask = new Uint16Array(width * height).map(() =>
      (rand() < 0.1 ? 0x20 : 0) | (rand() < 0.01 ? 0x8000 : 0)
    );
    const maskCards = formatCard("MASKINFO", "bits");
    files.push({
      name: "u16_gzip",
      bytes: compressImage([maskCards], width, height, mask, {
        compression: "GZIP_1",
        bitpix: 16,
        tileRows: 4,
      }),
      width,
      height,
      source: mask,
      cards: maskCards,
      compression: "GZIP_1",
      quantized: false,
      exactRows: [],
    });
  }
  {
    const width = 120, height = 20;
    const f = sky(width, height, 4);
    f.fill(42.25, 5 * width, 6 * width); // constant row: stored losslessly
    const quantized = (name: string, bytes: Uint8Array) =>
      files.push({
        name,
        bytes,
        width,
        height,
        source: f,
        cards: "",
        compression: "RICE_1",
        quantized: true,
        exactRows: [5],
      });
    quantized(
      "f32_rice_q",
      compressImage([], width, height, f, { compression: "RICE_1", bitpix: -32, ditherSeed: 9 }),
    );
    const file = await Deno.makeTempFile({ suffix: ".fits" });
    try {
      const w = await CompressedFitsWriter.create(file, [], width, height, {
        compression: "RICE_1",
        bitpix: -32,
        ditherSeed: 9,
      });
      for (let y = 0; y < height; y += 7) {
        await w.writeRows(f.subarray(y * width, Math.min(height, y + 7) * width));
      }
      await w.close();
      quantized("f32_rice_q_streamed", await Deno.readFile(file));
    } finally {
      await Deno.remove(file);
    }
  }
  return files;
}
