/**
 * Helpers for the FITS read fixtures: the manifest written by tests/fixtures/generate_fits_fixtures.py and
 * the pixel digest it records (SHA-256 of the little-endian float32/uint16 output, NaN canonical).
 * @module
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { openImage, type PixelType } from "../../lib/fits/image.ts";

/** One fixture case. */
export interface FixtureCase {
  name: string;
  file: string;
  type: PixelType;
  width: number;
  height: number;
  sha256: string;
  header: string;
  note: string;
}

/** The committed fixture directory. */
export const FIXTURE_DIR: string = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "fits",
);

/** Reads the manifest of a fixture directory. */
export function readManifest(dir: string = FIXTURE_DIR): FixtureCase[] {
  return JSON.parse(Deno.readTextFileSync(path.join(dir, "manifest.json")));
}

/** SHA-256 (hex) of pixels as little-endian bytes, every NaN written as the canonical 0x7fc00000. */
export function pixelDigest(pixels: Float32Array | Uint16Array): string {
  const hash = createHash("sha256");
  if (pixels instanceof Float32Array) {
    const copy = new Float32Array(pixels);
    const u = new Uint32Array(copy.buffer);
    for (let i = 0; i < u.length; i++) {
      if ((u[i] & 0x7f800000) === 0x7f800000 && (u[i] & 0x7fffff) !== 0) u[i] = 0x7fc00000;
    }
    hash.update(new Uint8Array(copy.buffer));
  } else hash.update(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
  return hash.digest("hex");
}

/** Decodes a fixture in row bands of `band` rows into one reused band buffer; returns the whole image. */
export function decodeFixture(
  dir: string,
  c: FixtureCase,
  band = 37,
): { pixels: Float32Array | Uint16Array; header: string } {
  const reader = openImage(Deno.readFileSync(path.join(dir, c.file)), { source: c.file });
  const all = c.type === "float32"
    ? new Float32Array(c.width * c.height)
    : new Uint16Array(c.width * c.height);
  const buf = c.type === "float32" ? new Float32Array(band * c.width) : new Uint16Array(band * c.width);
  for (let y = 0; y < c.height; y += band) {
    const y1 = Math.min(c.height, y + band);
    const got = reader.readRows(y, y1, c.type, buf);
    all.set(got.subarray(0, (y1 - y) * c.width), y * c.width);
  }
  return { pixels: all, header: reader.storeHeader(c.type) };
}
