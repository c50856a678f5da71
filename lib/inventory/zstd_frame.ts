/**
 * A structural check of zstd chunk files, without decompressing: the bytes must be whole zstd frames, each
 * ending with its last block (and content checksum when the frame declares one), with nothing after them.
 *
 * The decoder alone does not catch every torn file: `node:zlib`'s `zstdDecompressSync` returns what it
 * could decode from a frame cut short, and a frame cut inside its last block can still yield the full
 * length. Walking the block headers catches any cut. The frame content size, when recorded, is returned
 * so the caller can compare it with the chunk size.
 *
 * @example
 * ```ts
 * import zlib from "node:zlib";
 * import { checkZstdFrames } from "./zstd_frame.ts";
 * const frame = zlib.zstdCompressSync(new Uint8Array(1000));
 * checkZstdFrames(frame).error; // undefined
 * checkZstdFrames(frame.subarray(0, frame.length - 1)).error; // "frame 1 is cut short ..."
 * ```
 * @module
 */

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/** What {@link checkZstdFrames} found. */
export interface ZstdFrameCheck {
  /** Why the bytes are not whole zstd frames (undefined when they are). */
  error?: string;
  /** Sum of the frames' recorded content sizes, or null when a frame does not record it. */
  contentSize: number | null;
  /** Number of zstd frames (skippable frames not counted). */
  frames: number;
}

/** Checks that `bytes` is a sequence of complete zstd frames (see the module doc). */
export function checkZstdFrames(bytes: Uint8Array): ZstdFrameCheck {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = 0;
  let frames = 0;
  let contentSize: number | null = 0;
  const fail = (error: string): ZstdFrameCheck => ({ error, contentSize: null, frames });
  if (n === 0) return fail("empty file, not a zstd frame");
  while (pos < n) {
    if (pos + 4 > n) return fail(`${n - pos} stray bytes after frame ${frames}`);
    const magic = view.getUint32(pos, true);
    if ((magic & SKIPPABLE_MASK) === SKIPPABLE_MAGIC) {
      if (pos + 8 > n) return fail("skippable frame cut short");
      const size = view.getUint32(pos + 4, true);
      pos += 8 + size;
      if (pos > n) return fail("skippable frame cut short");
      continue;
    }
    if (magic !== ZSTD_MAGIC) {
      return fail(frames === 0 ? "not a zstd frame (bad magic number)" : `garbage after frame ${frames}`);
    }
    frames++;
    const where = `frame ${frames}`;
    pos += 4;
    if (pos >= n) return fail(`${where} is cut short in its header`);
    const fhd = bytes[pos++];
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd >> 5) & 1;
    const checksum = (fhd >> 2) & 1;
    const dictFlag = fhd & 3;
    if ((fhd >> 3) & 1) return fail(`${where}: reserved bit set in the frame header`);
    const dictBytes = [0, 1, 2, 4][dictFlag];
    const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag];
    const headerRest = (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
    if (pos + headerRest > n) return fail(`${where} is cut short in its header`);
    pos += (singleSegment ? 0 : 1) + dictBytes;
    if (fcsBytes === 0) contentSize = null;
    else {
      let fcs: number;
      if (fcsBytes === 1) fcs = bytes[pos];
      else if (fcsBytes === 2) fcs = view.getUint16(pos, true) + 256;
      else if (fcsBytes === 4) fcs = view.getUint32(pos, true);
      else fcs = Number(view.getBigUint64(pos, true));
      if (contentSize !== null) contentSize += fcs;
    }
    pos += fcsBytes;
    for (let last = 0; !last;) {
      if (pos + 3 > n) return fail(`${where} is cut short (no last block)`);
      const bh = bytes[pos] | (bytes[pos + 1] << 8) | (bytes[pos + 2] << 16);
      pos += 3;
      last = bh & 1;
      const type = (bh >> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) return fail(`${where}: reserved block type`);
      pos += type === 1 ? 1 : size;
      if (pos > n) return fail(`${where} is cut short (a block runs past the end of the file)`);
    }
    if (checksum) {
      pos += 4;
      if (pos > n) return fail(`${where} is cut short (content checksum missing)`);
    }
  }
  return { contentSize, frames };
}
