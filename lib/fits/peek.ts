/**
 * The size of a FITS file's image from its headers alone, reading only the header blocks (a few KB of a
 * 70 MB file): the HDU the toolkit reads (extension 1 when present, else the primary), its width and
 * height (`ZNAXISn` for a tile-compressed image) and whether the file is long enough to hold it.
 *
 * @example
 * ```ts ignore
 * const info = await peekImage("rings.v3.skycell.2556.080.stk.r.unconv.fits");
 * info.width; info.height; info.compression; // 6300 6284 "RICE_1"
 * ```
 * @module
 */

import { FitsError, fitsMessage } from "./errors.ts";
import { dataLength } from "./hdu.ts";
import { BLOCK_LENGTH, CARD_LENGTH, FitsHeader } from "./header.ts";

/** What the headers say about the image. */
export interface ImageGeometry {
  /** NAXIS1 of the image. */
  width: number;
  /** NAXIS2 of the image (1 for a 1-D image). */
  height: number;
  /** HDU index read (0 or 1). */
  hdu: number;
  /** `ZCMPTYPE` of a tile-compressed image, else null. */
  compression: string | null;
  /** File size in bytes. */
  fileBytes: number;
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function hasEnd(block: Uint8Array): boolean {
  for (let p = 0; p < block.length; p += CARD_LENGTH) {
    if (block[p] === 0x45 && block[p + 1] === 0x4e && block[p + 2] === 0x44) {
      let blank = true;
      for (let i = 3; i < CARD_LENGTH && blank; i++) blank = block[p + i] === 0x20;
      if (blank) return true;
    }
  }
  return false;
}

/** Reads the header starting at `offset`; null at end of file. */
async function readHeader(
  file: Deno.FsFile,
  offset: number,
  source: string,
): Promise<{ header: FitsHeader; end: number } | null> {
  const blocks: Uint8Array[] = [];
  for (let pos = offset;; pos += BLOCK_LENGTH) {
    const block = await readAt(file, pos, BLOCK_LENGTH);
    if (block.length === 0 && blocks.length === 0) return null;
    if (block.length < BLOCK_LENGTH) {
      throw new FitsError(fitsMessage(source, `truncated file: header at byte ${offset} has no END card`));
    }
    blocks.push(block);
    if (hasEnd(block)) break;
    if (blocks.length > 10_000) throw new FitsError(fitsMessage(source, "header without END card"));
  }
  const bytes = new Uint8Array(blocks.length * BLOCK_LENGTH);
  blocks.forEach((b, i) => bytes.set(b, i * BLOCK_LENGTH));
  const { header, end } = FitsHeader.parse(bytes, 0, source);
  return { header, end: offset + end };
}

/**
 * Reads the headers of `path` and returns the image geometry. Throws {@link FitsError} naming the file for
 * something that is not FITS (e.g. an HTML error page), a truncated file, or an HDU that is not an image.
 */
export async function peekImage(path: string, source: string = path): Promise<ImageGeometry> {
  const file = await Deno.open(path, { read: true });
  try {
    const fileBytes = (await file.stat()).size;
    const start = new TextDecoder("latin1").decode(await readAt(file, 0, 9));
    if (start !== "SIMPLE  =") {
      throw new FitsError(fitsMessage(source, `not a FITS file (starts with ${JSON.stringify(start)})`));
    }
    const primary = (await readHeader(file, 0, source))!;
    const primaryEnd = primary.end +
      Math.ceil(dataLength(primary.header, source) / BLOCK_LENGTH) * BLOCK_LENGTH;
    const ext = primaryEnd < fileBytes ? await readHeader(file, primaryEnd, source) : null;
    const chosen = ext ?? primary;
    const h = chosen.header;
    const compressed = h.get("ZIMAGE") === true;
    if (ext && !compressed && h.getString("XTENSION")?.trim() !== "IMAGE") {
      throw new FitsError(fitsMessage(source, `extension 1 is not an image`));
    }
    const axis = (i: number) => h.getNumber(compressed ? `ZNAXIS${i}` : `NAXIS${i}`);
    const naxis = h.getNumber(compressed ? "ZNAXIS" : "NAXIS") ?? 0;
    const width = axis(1);
    const height = naxis >= 2 ? axis(2) : 1;
    if (naxis < 1 || naxis > 2 || !(width! > 0) || !(height! > 0)) {
      throw new FitsError(fitsMessage(source, `no 2-D image (NAXIS ${naxis})`));
    }
    const need = chosen.end + dataLength(h, source);
    if (need > fileBytes) {
      throw new FitsError(fitsMessage(source, `truncated file: needs ${need} bytes, has ${fileBytes}`));
    }
    return {
      width: width!,
      height: height!,
      hdu: ext ? 1 : 0,
      compression: compressed ? (h.getString("ZCMPTYPE")?.trim() ?? "?") : null,
      fileBytes,
    };
  } finally {
    file.close();
  }
}
