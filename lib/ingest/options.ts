/**
 * The download's options: what a caller may set, their one set of defaults, and the one place they are
 * checked, in the library's words (the CLI only turns flag text into numbers and passes them on). An
 * option is named in messages by its flag (`--camera`), since that is how most users meet it.
 *
 * @example
 * ```ts
 * import { DOWNLOAD_DEFAULTS, resolveOptions } from "./options.ts";
 * const options = resolveOptions({ sector: 21, bands: ["r", "i"] });
 * options.maxConnections === DOWNLOAD_DEFAULTS.maxConnections; // true
 * ```
 * @module
 */

import * as path from "node:path";
import type { Logger } from "../cli/log.ts";
import { DEFAULT_MAX_FILE_SIZE } from "../ps1/archive_client.ts";
import { archiveBaseUrl, namedArchiveUrl } from "../ps1/urls.ts";
import {
  BandListError,
  checkBands,
  DEFAULT_BANDS,
  DEFAULT_LOCAL_DATA_PATH,
  DEFAULT_OUTPUT_DIR,
  STORE_NAME,
} from "../store/layout.ts";
import type { Cone } from "../sky/list.ts";
import type { DownloadProgress } from "./result.ts";

/** A bad option or input of a download run (one line naming it). */
export class DownloadOptionError extends Error {
  /** @param message one line naming the option and value */
  constructor(message: string) {
    super(message);
    this.name = "DownloadOptionError";
  }
}

/** A 1/N share of the skycell list: index K (0-based) of N. */
export interface Shard {
  /** This share, 0 <= index < count. */
  index: number;
  /** Number of shares. */
  count: number;
}

/** Parses `K/N` (0 <= K < N); throws {@link DownloadOptionError}. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 0 && index < count)) {
    throw new DownloadOptionError(
      `--shard: expected K/N with 0 <= K < N (e.g. 0/4), got ${JSON.stringify(text)}`,
    );
  }
  return { index, count };
}

/** Options of `downloadAndStorePs1Data`, mirroring the CLI flags. */
export interface DownloadOptions {
  /** TESS sector (default 20). */
  sector?: number;
  /** TESS camera, 1-4 (default 3). */
  camera?: number;
  /** TESS CCD, 1-4 (default 3). */
  ccd?: number;
  /** Skycells processed in parallel (default 2). */
  numWorkers?: number;
  /** Output dir holding the store (default `data/ps1_skycells_zarr`); its parent is the data root. */
  zarrOutputDir?: string;
  /** Read the local mirror first. */
  useLocalFiles?: boolean;
  /** Root of the local mirror (default `data/ps1_skycells`). */
  localDataPath?: string;
  /** Replace arrays that are already complete. */
  overwrite?: boolean;
  /** A mapping CSV to read instead of looking under the data root. */
  skycellsCsv?: string;
  /** Explicit skycell names (instead of a CSV). */
  skycells?: string[];
  /** The TESS CCD's computed footprint (lib/sky) instead of its mapping CSV. Without a mapping CSV and
   * with no other source named, the computed footprint is used anyway (with a warning). */
  footprint?: boolean;
  /** A FITS image whose celestial WCS (TAN, TAN-SIP) gives the footprint. */
  footprintFits?: string;
  /** A cone on the sky, degrees. */
  cone?: Cone;
  /** Bands (default r, i, z, y). */
  bands?: string[];
  /** Archive base URL (default: `PS1_ARCHIVE_URL`, else the PS1 archive). */
  archiveUrl?: string;
  /** A named copy of the archive instead of a URL: `stsci` (the default) or `aws` (see `NAMED_ARCHIVES`). */
  archive?: string;
  /** HTTP requests in flight at most (default 8). */
  maxConnections?: number;
  /** Retries per request after the first attempt (default 5). */
  retries?: number;
  /** Idle timeout of a request, seconds (default 60). */
  timeout?: number;
  /** Largest file accepted from the archive, bytes (default 1 GiB): refused from its Content-Length, and
   * aborted once a body passes it. */
  maxFileSize?: number;
  /** Plan only: say what would be fetched, change nothing. */
  dryRun?: boolean;
  /** Take share K of N of the skycell list (`{ index, count }` or `"K/N"`). */
  shard?: Shard | string;
  /** Decoding workers (default: the number of cores). */
  decodeWorkers?: number;
  /** Aborts the run (result `interrupted`). */
  signal?: AbortSignal;
  /** Called as the run progresses (often; throttle display yourself). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Log messages (default: none). */
  logger?: Logger;
  /** First retry delay, ms (default 1000; tests make it small). */
  backoffMs?: number;
}

/** The defaults, the one copy the library and the CLI's help share. */
export const DOWNLOAD_DEFAULTS = {
  sector: 20,
  camera: 3,
  ccd: 3,
  numWorkers: 2,
  maxConnections: 8,
  retries: 5,
  timeoutSeconds: 60,
  maxFileSize: DEFAULT_MAX_FILE_SIZE,
} as const;

/** The options of a run, checked, with every default filled in and every path absolute. */
export interface ResolvedOptions {
  /** TESS sector. */
  sector: number;
  /** TESS camera. */
  camera: number;
  /** TESS CCD. */
  ccd: number;
  /** Skycells in parallel. */
  numWorkers: number;
  /** The output dir (absolute). */
  outputDir: string;
  /** The store (absolute). */
  storePath: string;
  /** The store path as the caller gave it (for the result's `zarrPath`). */
  zarrPath: string;
  /** The data root, where the mapping CSVs are looked for. */
  dataRoot: string;
  /** The local mirror's root. */
  localRoot: string;
  /** Bands, checked and unique. */
  bands: string[];
  /** Archive base URL. */
  baseUrl: string;
  /** HTTP requests in flight at most. */
  maxConnections: number;
  /** Retries per request. */
  retries: number;
  /** Idle timeout, ms. */
  timeoutMs: number;
  /** Largest file accepted, bytes. */
  maxFileSize: number;
  /** This run's share of the list, if any. */
  shard?: Shard;
  /** Decoding workers. */
  decodeWorkers: number;
}

/** An integer option in [min, max] (default `fallback`), named by its flag. */
function integer(name: string, v: number | undefined, fallback: number, min: number, max = Infinity): number {
  const n = v ?? fallback;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max < Infinity ? `(${min}-${max})` : `(>= ${min})`;
    throw new DownloadOptionError(`${name}: expected an integer ${range}, got ${v}`);
  }
  return n;
}

/** The archive base URL: `archive` by name or `archiveUrl`, not both; else the environment or default. */
function baseUrlOf(o: DownloadOptions): string {
  if (o.archive !== undefined && o.archiveUrl !== undefined) {
    throw new DownloadOptionError("--archive and --archive-url: give one, not both");
  }
  try {
    return o.archive !== undefined ? namedArchiveUrl(o.archive) : archiveBaseUrl(o.archiveUrl);
  } catch (err) {
    throw new DownloadOptionError(
      `${o.archive !== undefined ? "--archive" : "--archive-url"}: ${(err as Error).message}`,
    );
  }
}

/** Checks the options and fills in the defaults; throws {@link DownloadOptionError} naming the option. */
export function resolveOptions(o: DownloadOptions): ResolvedOptions {
  const d = DOWNLOAD_DEFAULTS;
  const outputDir = path.resolve(o.zarrOutputDir ?? DEFAULT_OUTPUT_DIR);
  const timeout = o.timeout ?? d.timeoutSeconds;
  if (!(timeout > 0) || !Number.isFinite(timeout)) {
    throw new DownloadOptionError(`--timeout: expected seconds > 0, got ${o.timeout}`);
  }
  let bands: string[];
  try {
    bands = checkBands(o.bands ?? DEFAULT_BANDS);
  } catch (err) {
    if (err instanceof BandListError) throw new DownloadOptionError(`--bands: ${err.message}`);
    throw err;
  }
  return {
    sector: integer("--sector", o.sector, d.sector, 1),
    camera: integer("--camera", o.camera, d.camera, 1, 4),
    ccd: integer("--ccd", o.ccd, d.ccd, 1, 4),
    numWorkers: integer("--num-workers", o.numWorkers, d.numWorkers, 1, 64),
    outputDir,
    storePath: path.join(outputDir, STORE_NAME),
    zarrPath: path.join(o.zarrOutputDir ?? DEFAULT_OUTPUT_DIR, STORE_NAME),
    dataRoot: path.dirname(outputDir),
    localRoot: path.resolve(o.localDataPath ?? DEFAULT_LOCAL_DATA_PATH),
    bands,
    baseUrl: baseUrlOf(o),
    maxConnections: integer("--max-connections", o.maxConnections, d.maxConnections, 1, 64),
    retries: integer("--retries", o.retries, d.retries, 0, 100),
    timeoutMs: timeout * 1000,
    maxFileSize: integer("--max-file-size", o.maxFileSize, d.maxFileSize, 2880),
    shard: typeof o.shard === "string" ? parseShard(o.shard) : o.shard,
    decodeWorkers: integer("decodeWorkers", o.decodeWorkers, navigator.hardwareConcurrency || 1, 1, 256),
  };
}
