/**
 * Checking a FITS file's own integrity cards: `DATASUM` (the data unit's ones' complement sum) and
 * `CHECKSUM` (the whole HDU sums to negative zero). A file without them passes: the cards are optional.
 * For a tile-compressed HDU the cards of the table itself are checked (`ZDATASUM`/`ZHECKSUM` describe the
 * uncompressed image and are not checked here).
 *
 * @example
 * ```ts ignore
 * verifyChecksums(bytes, scanHdus(bytes, "x.fits"), "x.fits"); // throws FitsError on a mismatch
 * ```
 * @module
 */

import { checksumOf } from "./checksum.ts";
import { FitsError, fitsMessage } from "./errors.ts";
import type { Hdu } from "./hdu.ts";

/** What {@link verifyChecksums} checked. */
export interface ChecksumReport {
  /** HDUs whose `DATASUM` was checked. */
  datasums: number;
  /** HDUs whose `CHECKSUM` was checked. */
  checksums: number;
}

/** Throws {@link FitsError} naming the HDU when a `DATASUM` or `CHECKSUM` card does not match the bytes. */
export function verifyChecksums(bytes: Uint8Array, hdus: Hdu[], source?: string): ChecksumReport {
  const report: ChecksumReport = { datasums: 0, checksums: 0 };
  for (const hdu of hdus) {
    const datasum = hdu.header.getString("DATASUM") ?? hdu.header.get("DATASUM");
    const hasChecksum = hdu.header.has("CHECKSUM");
    if (datasum === undefined && !hasChecksum) continue;
    const dataSum = checksumOf(bytes.subarray(hdu.dataStart, hdu.end));
    if (datasum !== undefined) {
      const expected = Number(String(datasum).trim());
      if (Number.isFinite(expected) && expected !== dataSum) {
        throw new FitsError(
          fitsMessage(
            source,
            `HDU ${hdu.index} data do not match DATASUM (${expected}, computed ${dataSum})`,
          ),
        );
      }
      report.datasums++;
    }
    if (hasChecksum) {
      const headerSum = checksumOf(bytes.subarray(hdu.headerStart, hdu.dataStart));
      const total = (headerSum + dataSum) > 0xffffffff
        ? (headerSum + dataSum - 0xffffffff) >>> 0
        : (headerSum + dataSum) >>> 0;
      if (total !== 0xffffffff && total !== 0) {
        throw new FitsError(fitsMessage(source, `HDU ${hdu.index} does not match its CHECKSUM`));
      }
      report.checksums++;
    }
  }
  return report;
}
