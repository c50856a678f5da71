/**
 * Hand-made tile-compressed FITS files for the hostile-input tests: any claimed size, any tiling, tiles
 * given as raw bytes (a gzip bomb, a table of empty descriptors), and a gzip stream that inflates to
 * gigabytes from a few megabytes.
 * @module
 */
import { formatCard, headerBytes, headerText } from "../../lib/fits/card.ts";

/** What a crafted compressed image claims. */
export interface CraftOptions {
  /** ZNAXIS1 x ZNAXIS2. */
  width: number;
  height: number;
  /** ZTILE1 x ZTILE2 (default: one row per tile). */
  tileWidth?: number;
  tileHeight?: number;
  /** ZCMPTYPE (default GZIP_1). */
  compression?: string;
  /** ZBITPIX (default 16). */
  bitpix?: number;
  /** Table rows (default: the number of tiles the tiling needs). */
  rows?: number;
  /** The heap bytes of tile 0 (default none: every descriptor is empty). */
  firstTile?: Uint8Array;
}

function block(bytes: number): number {
  return Math.ceil(bytes / 2880) * 2880;
}

/** A primary HDU and a BINTABLE tile-compressed image with 1PB descriptors, as described by `opts`. */
export function craftCompressed(opts: CraftOptions): Uint8Array {
  const tw = opts.tileWidth ?? opts.width;
  const th = opts.tileHeight ?? 1;
  const rows = opts.rows ?? Math.ceil(opts.width / tw) * Math.ceil(opts.height / th);
  const heap = opts.firstTile ?? new Uint8Array(0);
  const primary = headerBytes(headerText([
    formatCard("SIMPLE", true),
    formatCard("BITPIX", 8),
    formatCard("NAXIS", 0),
    formatCard("EXTEND", true),
  ]));
  const table = headerBytes(headerText([
    formatCard("XTENSION", "BINTABLE"),
    formatCard("BITPIX", 8),
    formatCard("NAXIS", 2),
    formatCard("NAXIS1", 8),
    formatCard("NAXIS2", rows),
    formatCard("PCOUNT", heap.length),
    formatCard("GCOUNT", 1),
    formatCard("TFIELDS", 1),
    formatCard("TTYPE1", "COMPRESSED_DATA"),
    formatCard("TFORM1", `1PB(${heap.length})`),
    formatCard("ZIMAGE", true),
    formatCard("ZBITPIX", opts.bitpix ?? 16),
    formatCard("ZNAXIS", 2),
    formatCard("ZNAXIS1", opts.width),
    formatCard("ZNAXIS2", opts.height),
    formatCard("ZTILE1", tw),
    formatCard("ZTILE2", th),
    formatCard("ZCMPTYPE", opts.compression ?? "GZIP_1"),
  ]));
  const dataBytes = rows * 8 + heap.length;
  const out = new Uint8Array(primary.length + table.length + block(dataBytes));
  out.set(primary, 0);
  out.set(table, primary.length);
  const dataStart = primary.length + table.length;
  const view = new DataView(out.buffer);
  if (heap.length > 0) view.setInt32(dataStart, heap.length); // tile 0: count, offset 0
  out.set(heap, dataStart + rows * 8);
  return out;
}

/**
 * A gzip member whose deflate stream inflates to about `1032 * zeroBytes` zero bytes: one dynamic Huffman
 * block where a length-258, distance-1 match costs two bits (both codes one bit long, both `0`), so its
 * body is just zero bytes. The gzip trailer is left wrong: an inflater that stops at a size limit never
 * reaches it, and one that does not has already spent gigabytes.
 */
export function gzipBomb(zeroBytes: number): Uint8Array {
  const bits: number[] = [];
  const put = (value: number, n: number) => { // LSB first, for header fields
    for (let i = 0; i < n; i++) bits.push((value >> i) & 1);
  };
  const code = (s: string) => { // Huffman codes MSB first
    for (const c of s) bits.push(c === "1" ? 1 : 0);
  };
  put(1, 1); // BFINAL
  put(2, 2); // dynamic Huffman
  put(29, 5); // HLIT: 286 literal/length codes
  put(0, 5); // HDIST: 1 distance code
  // HCLEN: all 19 code length code lengths (18 would do; 19 makes the header's bit count even, so that
  // the two-bit codes after it can reach a byte boundary).
  put(15, 4);
  // Symbol 18 gets 1 bit, symbols 1 and 2 get 2 bits.
  const clOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
  const clLen: Record<number, number> = { 18: 1, 1: 2, 2: 2 };
  for (const s of clOrder) put(clLen[s] ?? 0, 3);
  // Canonical codes: 18 -> 0, 1 -> 10, 2 -> 11.
  const len = (n: 1 | 2) => code(n === 1 ? "10" : "11");
  const zeros = (n: number) => {
    code("0");
    put(n - 11, 7);
  };
  len(2); // literal 0
  zeros(138);
  zeros(117); // literals 1..255
  len(2); // 256 (end of block)
  zeros(28); // 257..284
  len(1); // 285 (length 258)
  len(1); // distance code 0 (distance 1)
  // Literal/length codes: 285 -> 0, 0 -> 10, 256 -> 11; distance 0 -> 0.
  code("10"); // one literal zero to copy from
  while (bits.length % 8 !== 0) code("00"); // matches up to the byte boundary
  if (bits.length % 8 !== 0) throw new Error("gzipBomb: header bits not byte aligned");
  const head = new Uint8Array(bits.length / 8);
  for (let i = 0; i < bits.length; i++) head[i >> 3] |= bits[i] << (i & 7);
  const gz = new Uint8Array(10 + head.length + zeroBytes + 1 + 8);
  gz.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  gz.set(head, 10);
  // zeroBytes bytes of matches (four per byte), then the end-of-block code '11' and padding.
  gz[10 + head.length + zeroBytes] = 0b11;
  return gz;
}
