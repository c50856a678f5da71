/**
 * Splitting a FITS file into its header-data units (HDUs): where each header and data part starts and
 * how long the data is, with clear errors for truncated files, bad block sizes and non-FITS bytes.
 *
 * @example
 * ```ts ignore
 * import { scanHdus } from "./hdu.ts";
 * const hdus = scanHdus(await Deno.readFile("x.fits"), "x.fits");
 * hdus[1]?.header.get("ZIMAGE");
 * ```
 * @module
 */

import { FitsError, fitsMessage } from "./errors.ts";
import { BLOCK_LENGTH, FitsHeader } from "./header.ts";

/** One header-data unit. */
export interface Hdu {
  /** 0 for the primary HDU, n for extension n. */
  index: number;
  /** The HDU's header. */
  header: FitsHeader;
  /** Byte offset of the header. */
  headerStart: number;
  /** Byte offset of the data part (after the header's blocks). */
  dataStart: number;
  /** Length of the data in bytes, without padding. */
  dataLength: number;
  /** Byte offset after the padded data (start of the next HDU). */
  end: number;
}

/**
 * Describes the first bytes of something that is not FITS, for error messages: "an HTML/XML page (starts
 * with '<!DOCTYPE html>...')" or "starts with '...'" (non-printable bytes as dots).
 */
export function describeStart(bytes: Uint8Array): string {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 64)).replace(/[^\x20-\x7e]/g, ".");
  if (/^\s*<(!doctype|html|\?xml|head|body)/i.test(head)) {
    return `an HTML/XML page (starts with '${head.trim().slice(0, 30)}')`;
  }
  return `starts with '${head.slice(0, 30)}'`;
}

/** Data length in bytes (without padding) from BITPIX, NAXISn, PCOUNT and GCOUNT; throws {@link FitsError}. */
export function dataLength(header: FitsHeader, source: string | undefined): number {
  const bitpix = header.getNumber("BITPIX");
  const naxis = header.getNumber("NAXIS");
  if (bitpix === undefined || ![8, 16, 32, 64, -32, -64].includes(bitpix)) {
    throw new FitsError(fitsMessage(source, `invalid BITPIX ${header.get("BITPIX")}`));
  }
  if (naxis === undefined || naxis < 0 || naxis > 999 || !Number.isInteger(naxis)) {
    throw new FitsError(fitsMessage(source, `invalid NAXIS ${header.get("NAXIS")}`));
  }
  if (naxis === 0) return 0;
  let n = 1;
  for (let i = 1; i <= naxis; i++) {
    const len = header.getNumber(`NAXIS${i}`);
    if (len === undefined || len < 0 || !Number.isInteger(len)) {
      throw new FitsError(fitsMessage(source, `invalid NAXIS${i} ${header.get(`NAXIS${i}`)}`));
    }
    n *= len;
  }
  const pcount = header.getNumber("PCOUNT", 0)!;
  const gcount = header.getNumber("GCOUNT", 1)!;
  return (Math.abs(bitpix) / 8) * gcount * (pcount + n);
}

/**
 * Scans all HDUs of a FITS file. Throws {@link FitsError} naming `source` when the file is not FITS (e.g. an
 * HTML error page), a header or data part is truncated, or the file length is not a whole number of
 * 2880-byte blocks. Bytes after the last HDU that do not start an extension are ignored.
 */
export function scanHdus(bytes: Uint8Array, source?: string): Hdu[] {
  const name = source ?? "FITS data";
  if (bytes.length === 0) throw new FitsError(fitsMessage(name, "empty file, not FITS"));
  const start = new TextDecoder("latin1").decode(bytes.subarray(0, 9));
  if (start !== "SIMPLE  =") {
    throw new FitsError(fitsMessage(name, `not a FITS file: ${describeStart(bytes)}`));
  }
  const hdus: Hdu[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (hdus.length > 0) {
      const tag = new TextDecoder("latin1").decode(bytes.subarray(pos, pos + 9));
      if (tag !== "XTENSION=") break;
    }
    const { header, end } = FitsHeader.parse(bytes, pos, name);
    if (end > bytes.length) {
      throw new FitsError(
        fitsMessage(
          name,
          `truncated file: header of HDU ${hdus.length} needs ${end} bytes, file has ${bytes.length}`,
        ),
      );
    }
    const len = dataLength(header, name);
    const padded = Math.ceil(len / BLOCK_LENGTH) * BLOCK_LENGTH;
    if (end + len > bytes.length) {
      throw new FitsError(
        fitsMessage(
          name,
          `truncated file: HDU ${hdus.length} data needs ${len} bytes from byte ${end}, file has ${bytes.length}`,
        ),
      );
    }
    if (end + padded > bytes.length) {
      throw new FitsError(
        fitsMessage(
          name,
          `bad block size: file has ${bytes.length} bytes, not a multiple of ${BLOCK_LENGTH}`,
        ),
      );
    }
    hdus.push({
      index: hdus.length,
      header,
      headerStart: pos,
      dataStart: end,
      dataLength: len,
      end: end + padded,
    });
    pos = end + padded;
  }
  return hdus;
}
