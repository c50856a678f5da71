/**
 * Where the FITS HDUs of a file end, found by reading only their headers by position (a few KB of a 70 MB
 * file). A download can carry bytes after the last HDU (a proxy's error page appended, a resumed transfer
 * that wrote too much); a caller reads only `[0, end)` and warns about the rest instead of holding it in
 * memory.
 *
 * The walk is one generator that asks for byte ranges; {@link readFitsExtent} answers it with async reads
 * and {@link readFitsExtentSync} with sync reads (for Workers that read synchronously).
 *
 * @example
 * ```ts ignore
 * import { readFitsExtent } from "./extent.ts";
 * const extent = await readFitsExtent("stk.fits");
 * if (extent.warning) console.warn(extent.warning);
 * const bytes = new Uint8Array(extent.end); // read only the HDUs
 * ```
 * @module
 */

import { FitsError, fitsMessage } from "./errors.ts";
import { dataLength, describeStart, type Hdu } from "./hdu.ts";
import { BLOCK_LENGTH, CARD_LENGTH, FitsHeader } from "./header.ts";

/**
 * The most 2880-byte blocks one header may have (28.8 MB, about 360,000 cards): a header that goes on
 * without `END` is refused instead of being read to the end of a large file.
 */
export const MAX_HEADER_BLOCKS = 10_000;

/** The HDUs of a file and where they end. */
export interface FitsExtent {
  /** The HDUs in order, with the same headers and offsets `scanHdus` gives for `[0, end)`. */
  hdus: Hdu[];
  /** Byte offset after the padded data of the last HDU: read `[0, end)`. */
  end: number;
  /** Size of the file in bytes. */
  fileBytes: number;
  /** Bytes after the last HDU (`fileBytes - end`), ignored. */
  trailingBytes: number;
  /** One line naming the file and the ignored bytes when `trailingBytes > 0`, else null. */
  warning: string | null;
}

/** A byte range the walk needs. */
interface ReadRequest {
  offset: number;
  length: number;
}

/** The one-line warning about `trailing` bytes after the HDUs of `source`, which end at byte `end`. */
export function trailingBytesWarning(source: string, end: number, fileBytes: number): string {
  const trailing = fileBytes - end;
  return fitsMessage(
    source,
    `${trailing} bytes after the last HDU ignored (the FITS data end at byte ${end} of ${fileBytes})`,
  );
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function hasEndCard(block: Uint8Array): boolean {
  for (let p = 0; p < block.length; p += CARD_LENGTH) {
    if (block[p] === 0x45 && block[p + 1] === 0x4e && block[p + 2] === 0x44) {
      let blank = true;
      for (let i = 3; i < CARD_LENGTH && blank; i++) blank = block[p + i] === 0x20;
      if (blank) return true;
    }
  }
  return false;
}

/**
 * Walks the HDUs of a file of `fileBytes` bytes, yielding the byte ranges it needs and receiving their
 * bytes. Errors match `scanHdus` for the same damage.
 */
function* walkHdus(fileBytes: number, source: string): Generator<ReadRequest, FitsExtent, Uint8Array> {
  if (fileBytes === 0) throw new FitsError(fitsMessage(source, "empty file, not FITS"));
  const start = yield { offset: 0, length: Math.min(64, fileBytes) };
  if (latin1(start.subarray(0, 9)) !== "SIMPLE  =") {
    throw new FitsError(fitsMessage(source, `not a FITS file: ${describeStart(start)}`));
  }
  const hdus: Hdu[] = [];
  let pos = 0;
  while (pos < fileBytes) {
    if (hdus.length > 0) {
      const tag = yield { offset: pos, length: Math.min(9, fileBytes - pos) };
      if (latin1(tag) !== "XTENSION=") break;
    }
    const blocks: Uint8Array[] = [];
    for (let at = pos;; at += BLOCK_LENGTH) {
      const block = at + BLOCK_LENGTH <= fileBytes ? yield { offset: at, length: BLOCK_LENGTH } : null;
      if (!block || block.length < BLOCK_LENGTH) {
        throw new FitsError(
          fitsMessage(
            source,
            `truncated file: header of HDU ${hdus.length} at byte ${pos} has no END card (file has ${fileBytes} bytes)`,
          ),
        );
      }
      blocks.push(block);
      if (hasEndCard(block)) break;
      if (blocks.length >= MAX_HEADER_BLOCKS) {
        throw new FitsError(
          fitsMessage(source, `header of HDU ${hdus.length} has no END card in ${MAX_HEADER_BLOCKS} blocks`),
        );
      }
    }
    const bytes = new Uint8Array(blocks.length * BLOCK_LENGTH);
    blocks.forEach((b, i) => bytes.set(b, i * BLOCK_LENGTH));
    const { header, end } = FitsHeader.parse(bytes, 0, source);
    const dataStart = pos + end;
    const len = dataLength(header, source);
    const padded = Math.ceil(len / BLOCK_LENGTH) * BLOCK_LENGTH;
    if (dataStart + len > fileBytes) {
      throw new FitsError(
        fitsMessage(
          source,
          `truncated file: HDU ${hdus.length} data needs ${len} bytes from byte ${dataStart}, file has ${fileBytes}`,
        ),
      );
    }
    if (dataStart + padded > fileBytes) {
      throw new FitsError(
        fitsMessage(source, `bad block size: file has ${fileBytes} bytes, not a multiple of ${BLOCK_LENGTH}`),
      );
    }
    hdus.push({
      index: hdus.length,
      header,
      headerStart: pos,
      dataStart,
      dataLength: len,
      end: dataStart + padded,
    });
    pos = dataStart + padded;
  }
  return {
    hdus,
    end: pos,
    fileBytes,
    trailingBytes: fileBytes - pos,
    warning: fileBytes > pos ? trailingBytesWarning(source, pos, fileBytes) : null,
  };
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

function readAtSync(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  file.seekSync(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = file.readSync(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Runs the walk over an open file with async reads. */
export async function fitsExtentOf(file: Deno.FsFile, source: string): Promise<FitsExtent> {
  const walk = walkHdus((await file.stat()).size, source);
  let step = walk.next();
  while (!step.done) step = walk.next(await readAt(file, step.value.offset, step.value.length));
  return step.value;
}

/**
 * The HDUs of the FITS file at `path` and the byte where they end, reading only the headers (seek and
 * read). Bytes after the last HDU that do not start an `XTENSION` are counted in `trailingBytes` and
 * described in `warning`, not read. Throws {@link FitsError} naming `source` for something that is not
 * FITS (e.g. an HTML page), a header without `END`, or HDU data that the file is too short to hold.
 */
export async function readFitsExtent(path: string, source: string = path): Promise<FitsExtent> {
  const file = await Deno.open(path, { read: true });
  try {
    return await fitsExtentOf(file, source);
  } finally {
    file.close();
  }
}

/** {@link readFitsExtent} with synchronous reads, for Workers that read files synchronously. */
export function readFitsExtentSync(path: string, source: string = path): FitsExtent {
  const file = Deno.openSync(path, { read: true });
  try {
    const walk = walkHdus(file.statSync().size, source);
    let step = walk.next();
    while (!step.done) step = walk.next(readAtSync(file, step.value.offset, step.value.length));
    return step.value;
  } finally {
    file.close();
  }
}
