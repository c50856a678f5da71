/**
 * Checking a FITS file's own integrity cards: `DATASUM` (the data unit's ones' complement sum) and
 * `CHECKSUM` (the whole HDU sums to negative zero). A file without them passes: the cards are optional.
 * For a tile-compressed HDU the cards of the table itself are checked (`ZDATASUM`/`ZHECKSUM` describe the
 * uncompressed image and are not checked here).
 *
 * @example
 * ```ts ignore
 * const { warnings } = verifyChecksums(bytes, scanHdus(bytes, "x.fits"), "x.fits"); // throws on bad data
 * for (const w of warnings) console.warn(w); // a header edited after sealing
 * ```
 * @module
 */

import { checksumOf, onesComplementAdd } from "./checksum.ts";
import { FitsError, fitsMessage } from "./errors.ts";
import type { Hdu } from "./hdu.ts";

/** What {@link verifyChecksums} checked. */
export interface ChecksumReport {
  /** HDUs whose `DATASUM` was checked (and matched). */
  datasums: number;
  /** HDUs whose `CHECKSUM` was checked and matched. */
  checksums: number;
  /**
   * One line per accepted oddity, naming the file and HDU: a `CHECKSUM` that does not match while the
   * `DATASUM` of the same HDU does (the header was edited after the checksum was written; the data are
   * intact), or a `DATASUM` that is not a number. Empty for a clean file.
   */
  warnings: string[];
}

/**
 * Checks the `DATASUM` and `CHECKSUM` cards of every HDU against the bytes, as fitsverify does.
 *
 * - `DATASUM` wrong: the data are corrupt; throws {@link FitsError} naming the HDU, with or without a
 *   `CHECKSUM` card.
 * - `CHECKSUM` wrong while `DATASUM` is present and right: only the header changed after sealing (fitsverify
 *   warns too); accepted with a line in `warnings`.
 * - `CHECKSUM` wrong without a usable `DATASUM`: nothing says the data are intact; throws.
 */
export function verifyChecksums(bytes: Uint8Array, hdus: Hdu[], source?: string): ChecksumReport {
  const report: ChecksumReport = { datasums: 0, checksums: 0, warnings: [] };
  for (const hdu of hdus) {
    const datasum = hdu.header.getString("DATASUM") ?? hdu.header.get("DATASUM");
    const hasChecksum = hdu.header.has("CHECKSUM");
    if (datasum === undefined && !hasChecksum) continue;
    const dataSum = checksumOf(bytes.subarray(hdu.dataStart, hdu.end));
    let dataVerified = false;
    if (datasum !== undefined) {
      const text = String(datasum).trim();
      const expected = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isFinite(expected)) {
        report.warnings.push(
          fitsMessage(
            source,
            `HDU ${hdu.index} DATASUM ${JSON.stringify(text)} is not a number, not checked`,
          ),
        );
      } else if (expected !== dataSum) {
        throw new FitsError(
          fitsMessage(
            source,
            `HDU ${hdu.index} data do not match DATASUM (${expected}, computed ${dataSum})`,
          ),
        );
      } else {
        dataVerified = true;
        report.datasums++;
      }
    }
    if (hasChecksum) {
      const headerSum = checksumOf(bytes.subarray(hdu.headerStart, hdu.dataStart));
      const total = onesComplementAdd(headerSum, dataSum);
      if (total === 0xffffffff || total === 0) report.checksums++;
      else if (dataVerified) {
        report.warnings.push(
          fitsMessage(
            source,
            `HDU ${hdu.index} header does not match its CHECKSUM, but the data match DATASUM ` +
              `(header edited after the checksum was written); accepted`,
          ),
        );
      } else {
        throw new FitsError(fitsMessage(source, `HDU ${hdu.index} does not match its CHECKSUM`));
      }
    }
  }
  return report;
}
