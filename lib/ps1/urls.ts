/**
 * File names, archive URLs and local mirror paths of PS1 stack skycell files:
 *
 * ```
 * {base}/{PPPP}/{CCC}/rings.v3.skycell.{PPPP}.{CCC}.stk.{band}.unconv[.mask|.wt].fits
 * ```
 *
 * The local mirror (`--local-data-path`) uses the same tree under its root.
 *
 * @example
 * ```ts
 * import { archiveUrl, DEFAULT_ARCHIVE_URL } from "./urls.ts";
 * archiveUrl(DEFAULT_ARCHIVE_URL, "skycell.2556.080", "r", "mask");
 * // "http://ps1images.stsci.edu/rings.v3.skycell/2556/080/rings.v3.skycell.2556.080.stk.r.unconv.mask.fits"
 * ```
 * @module
 */

import * as path from "node:path";
import { parseSkycell } from "./skycell.ts";

/** The three files of a skycell and band. */
export type FileKind = "image" | "mask" | "weight";

/** The PS1 archive's skycell tree. */
export const DEFAULT_ARCHIVE_URL = "http://ps1images.stsci.edu/rings.v3.skycell";

/** Environment variable that overrides {@link DEFAULT_ARCHIVE_URL} (a `--archive-url` flag wins over it). */
export const ARCHIVE_URL_ENV = "PS1_ARCHIVE_URL";

/** The PS1 bands, in wavelength order. */
export const PS1_BANDS = ["g", "r", "i", "z", "y"] as const;

/** A band that PS1 does not have, or an unknown file kind. */
export class BandError extends Error {
  /** @param message one line naming the bad band or kind */
  constructor(message: string) {
    super(message);
    this.name = "BandError";
  }
}

/** An archive base URL that is not an http(s) URL. */
export class ArchiveUrlError extends Error {
  /** @param message one line naming the bad URL */
  constructor(message: string) {
    super(message);
    this.name = "ArchiveUrlError";
  }
}

const KIND_SUFFIX: Record<FileKind, string> = { image: "", mask: ".mask", weight: ".wt" };

function checkBand(band: string): void {
  if (!(PS1_BANDS as readonly string[]).includes(band)) {
    throw new BandError(`unknown PS1 band ${JSON.stringify(band)} (expected one of ${PS1_BANDS.join(",")})`);
  }
}

/** The archive file name, e.g. `rings.v3.skycell.2556.080.stk.r.unconv.wt.fits`. */
export function fileName(skycell: string, band: string, kind: FileKind): string {
  const { projection, cell } = parseSkycell(skycell);
  checkBand(band);
  const suffix = KIND_SUFFIX[kind];
  if (suffix === undefined) throw new BandError(`unknown file kind ${JSON.stringify(kind)}`);
  return `rings.v3.skycell.${projection}.${cell}.stk.${band}.unconv${suffix}.fits`;
}

/** The path of a file relative to the archive base or mirror root: `PPPP/CCC/<file name>`. */
export function relativePath(skycell: string, band: string, kind: FileKind): string {
  const { projection, cell } = parseSkycell(skycell);
  return `${projection}/${cell}/${fileName(skycell, band, kind)}`;
}

/** The archive URL of a file under `base` (trailing slashes of `base` ignored). */
export function archiveUrl(base: string, skycell: string, band: string, kind: FileKind): string {
  return `${base.replace(/\/+$/, "")}/${relativePath(skycell, band, kind)}`;
}

/** The path of a file in a local mirror rooted at `root`. */
export function localPath(root: string, skycell: string, band: string, kind: FileKind): string {
  const { projection, cell } = parseSkycell(skycell);
  return path.join(root, projection, cell, fileName(skycell, band, kind));
}

/**
 * The two public copies of the archive, by name (`--archive`): `stsci`, MAST's image server (the
 * default), and `aws`, the open-data copy on Amazon S3 with the same layout (fast from cloud machines in
 * us-east-1, and no MAST load).
 */
export const NAMED_ARCHIVES: Readonly<Record<"stsci" | "aws", string>> = {
  stsci: "http://ps1images.stsci.edu/rings.v3.skycell",
  aws: "https://stpubdata.s3.amazonaws.com/panstarrs/ps1/public/rings.v3.skycell",
};

/** The base URL of a named archive copy (`stsci`, `aws`); throws {@link ArchiveUrlError} for another name. */
export function namedArchiveUrl(name: string): string {
  const url = (NAMED_ARCHIVES as Record<string, string>)[name];
  if (!url) {
    throw new ArchiveUrlError(
      `unknown archive ${JSON.stringify(name)} (use ${Object.keys(NAMED_ARCHIVES).join(" or ")})`,
    );
  }
  return url;
}

/**
 * The archive base URL to use: `flag` when given, else the `PS1_ARCHIVE_URL` environment variable, else
 * {@link DEFAULT_ARCHIVE_URL}. Throws {@link ArchiveUrlError} for anything but an http(s) URL; trailing
 * slashes are removed.
 */
export function archiveBaseUrl(flag?: string): string {
  let value = flag;
  if (value === undefined || value === "") {
    try {
      value = Deno.env.get(ARCHIVE_URL_ENV) || undefined;
    } catch {
      // Without env permission the variable cannot be read; the default applies.
      value = undefined;
    }
  }
  value ??= DEFAULT_ARCHIVE_URL;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ArchiveUrlError(`invalid archive URL ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ArchiveUrlError(`archive URL must be http or https: ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, "");
}
