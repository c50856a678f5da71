/**
 * The download job: fetch the PS1 skycells a TESS sector/camera/CCD needs (or any skycell list) into the
 * Zarr store, resumable, polite to the archive and bounded in memory.
 *
 * Per array: the source is the local mirror (when asked and readable) or the archive; a download streams
 * to a spool file beside the store (never held in memory), its headers are checked, then a worker of the
 * ingest pool decodes it band by band into a temp array (checking `DATASUM`/`CHECKSUM`), and the array is
 * committed atomically with its header and provenance. A body that fails those checks is fetched again.
 * At most `maxConnections` HTTP requests are in flight across the run (the archive client's limit), at
 * most `numWorkers` skycells are open at once, and spooled files wait for a decoder in a bounded queue.
 *
 * @example
 * ```ts ignore
 * const result = await downloadAndStorePs1Data({ sector: 20, camera: 3, ccd: 3 });
 * if (result.status !== "completed") console.error(result.message);
 * ```
 * @module
 */

import * as fs from "node:fs/promises";
import * as path from "node:path";
import { cpuUsage } from "node:process";
import { type ImageGeometry, peekImage } from "../fits/peek.ts";
import { Semaphore } from "../semaphore.ts";
import { type Logger, silentLogger } from "../cli/log.ts";
import {
  ArchiveClient,
  DEFAULT_MAX_FILE_SIZE,
  FetchAbortedError,
  NotFoundError,
} from "../ps1/archive_client.ts";
import { checkIdentity } from "../ps1/identity.ts";
import { MappingCsvError } from "../ps1/mapping.ts";
import { parseSkycell } from "../ps1/skycell.ts";
import { archiveBaseUrl, archiveUrl, type FileKind, localPath } from "../ps1/urls.ts";
import { defaultChunks } from "../zarr/metadata.ts";
import {
  DEFAULT_BANDS,
  DEFAULT_LOCAL_DATA_PATH,
  DEFAULT_OUTPUT_DIR,
  dtypeOf,
  skycellGroupPath,
  STORE_NAME,
} from "../store/layout.ts";
import { isTempName, joinNodePath, ownerToken, parseOwnerToken, parseTempName } from "../zarr/names.ts";
import { isOrphanTemp, isOwnerGone, registerOwner } from "../zarr/owner.ts";
import { WorkerPool } from "../zarr/pool.ts";
import { type ArrayBuild, ZarrStore } from "../zarr/store.ts";
import type { IngestDone, IngestTask } from "./ingest_worker.ts";
import {
  type ArrayJob,
  checkDownloadBands,
  DownloadOptionError,
  parseShard,
  planSkycell,
  resolveSkycellList,
  type Shard,
  shardSkycells,
  skycellJobs,
  type SkycellPlan,
} from "./plan.ts";

/** A file that is not the skycell, band or kind asked for (its header says so). */
export class IdentityMismatchError extends Error {
  /** @param message one line naming the file and the mismatch */
  constructor(message: string) {
    super(message);
    this.name = "IdentityMismatchError";
  }
}

/**
 * True when an error is the store's, not the file's (a full or read-only disk, a store that cannot be
 * written): no other array can succeed either, so the run stops instead of fetching again. Worker errors
 * keep their class name and system code (see `WorkerTaskError`).
 */
export function isStoreFailure(err: unknown): boolean {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code;
  if (code === "ENOSPC" || code === "EROFS" || code === "EDQUOT") return true;
  return e?.name === "StoreError" || e?.name === "UnreadableError" || e?.name === "DamagedNodeError";
}

/** Options of {@link downloadAndStorePs1Data}, mirroring the CLI flags. */
export interface DownloadOptions {
  /** TESS sector (default 20). */
  sector?: number;
  /** TESS camera (default 3). */
  camera?: number;
  /** TESS CCD (default 3). */
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
  /** Bands (default r, i, z, y). */
  bands?: string[];
  /** Archive base URL (default: `PS1_ARCHIVE_URL`, else the PS1 archive). */
  archiveUrl?: string;
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

/** A progress snapshot. */
export interface DownloadProgress {
  /** Skycells finished (all arrays done, skipped or failed). */
  skycellsDone: number;
  /** Skycells in the run. */
  skycellsTotal: number;
  /** Arrays written, skipped or missing upstream so far. */
  arraysDone: number;
  /** Arrays to fetch in the planned skycells so far. */
  arraysToFetch: number;
  /** Arrays written this run. */
  arraysWritten: number;
  /** Arrays that failed. */
  failures: number;
  /** Body bytes downloaded. */
  bytesDownloaded: number;
  /** Seconds since the start. */
  elapsedSeconds: number;
}

/** One array's outcome. */
export interface Artifact {
  /** Skycell name. */
  skycell: string;
  /** Band. */
  band: string;
  /** Image, mask or weight. */
  kind: FileKind;
  /** Store path of the array. */
  array: string;
  /** What happened. */
  action: "written" | "skipped" | "kept" | "missingUpstream" | "failed" | "planned";
  /** URL or local path the pixels came from. */
  source?: string;
  /** Source file size. */
  bytes?: number;
}

/** An array that could not be stored. */
export interface Failure {
  /** Skycell name. */
  skycell: string;
  /** Band. */
  band: string;
  /** Image, mask or weight. */
  kind: FileKind;
  /** URL or local path tried last. */
  source: string;
  /** Why, one line. */
  error: string;
}

/** A file the archive does not have (HTTP 404). */
export interface MissingFile {
  /** Skycell name. */
  skycell: string;
  /** Band. */
  band: string;
  /** Image, mask or weight. */
  kind: FileKind;
  /** The URL asked for. */
  url: string;
}

/** Counters of a run. */
export interface DownloadStats {
  /** Wall time, seconds. */
  elapsedSeconds: number;
  /** CPU time of the process (all threads), seconds. */
  cpuSeconds: number;
  /** Body bytes received from the archive. */
  bytesDownloaded: number;
  /** Source bytes read from the local mirror. */
  bytesLocal: number;
  /** Decoded bytes of the arrays written. */
  bytesDecoded: number;
  /** Compressed bytes written to the store. */
  bytesStored: number;
  /** Arrays written. */
  arraysWritten: number;
  /** Arrays skipped as already complete (or kept: another process finished them first). */
  arraysSkipped: number;
  /** HTTP requests made. */
  requests: number;
  /** Retries (HTTP and re-downloads of bodies that failed checks). */
  retries: number;
  /** Peak resident memory of the process during the run (all threads), bytes: sampled every 250 ms, or the
   * kernel's exact peak when readable. */
  peakRssBytes: number;
  /** Decoded MB per second of wall time. */
  decodedMBps: number;
}

/** The result of {@link downloadAndStorePs1Data}. */
export interface DownloadResult {
  /** `completed`: the end-of-run check finds every expected array complete (or missing upstream);
   * `incomplete`: it does not; `error`: nothing could be done, or the store failed; `interrupted`: aborted. */
  status: "completed" | "incomplete" | "error" | "interrupted";
  /** One line saying what happened. */
  message: string;
  /** Rows of the skycell list: the mapping CSV's data rows, or the names given (the pipeline's
   * `skycells_found`). */
  skycellsFound: number;
  /** Unique skycells this run processes, padding included, after `shard` (`unique_images`). */
  uniqueImages: number;
  /** The store path, as given (`{zarrOutputDir}/ps1_skycells.zarr`). */
  zarrPath: string;
  /** Skycells whose arrays for the requested bands are all complete now (`produced_skycells`). */
  producedSkycells: string[];
  /** Number of produced skycells (`produced_count`). */
  producedCount: number;
  /** Skycells expected: `uniqueImages` (`expected_count`). */
  expectedCount: number;
  /** The produced skycells' group paths in the store (`artifacts`). */
  artifacts: string[];
  /** Per-array outcomes of this run. */
  arrays: Artifact[];
  /** Expected arrays complete at the end (skycells x bands x 3 at most). */
  arraysPresent: number;
  /** Arrays expected: skycells x bands x 3. */
  arraysExpected: number;
  /** Arrays that could not be stored. */
  failures: Failure[];
  /** Files the archive does not have. */
  missingUpstream: MissingFile[];
  /** Counters. */
  stats: DownloadStats;
  /** With `dryRun`: per skycell, arrays to fetch and already complete, and bytes expected where known. */
  plan?: { skycell: string; fetch: string[]; complete: string[]; bytesExpected: number | null }[];
}

/**
 * The result as the pipeline's Python port of `download_and_store_ps1_data` returns it (its key names,
 * snake_case: `skycells_found`, `unique_images`, `produced_count`, ...), with this toolkit's extras after
 * them, for `--json`.
 */
export function resultForPython(r: DownloadResult): Record<string, unknown> {
  return {
    status: r.status,
    message: r.message,
    skycells_found: r.skycellsFound,
    unique_images: r.uniqueImages,
    zarr_path: r.zarrPath,
    produced_skycells: r.producedSkycells,
    produced_count: r.producedCount,
    expected_count: r.expectedCount,
    artifacts: r.artifacts,
    arrays: r.arrays,
    arrays_present: r.arraysPresent,
    arrays_expected: r.arraysExpected,
    failures: r.failures,
    missing_upstream: r.missingUpstream,
    stats: r.stats,
    ...(r.plan ? { plan: r.plan } : {}),
  };
}

interface Resolved {
  sector: number;
  camera: number;
  ccd: number;
  numWorkers: number;
  outputDir: string;
  storePath: string;
  dataRoot: string;
  localRoot: string;
  bands: string[];
  baseUrl: string;
  maxConnections: number;
  retries: number;
  timeoutMs: number;
  maxFileSize: number;
  zarrPath: string;
  shard?: Shard;
  decodeWorkers: number;
}

function positiveInt(name: string, v: number | undefined, fallback: number, min = 1): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < min) {
    throw new DownloadOptionError(`${name}: expected an integer >= ${min}, got ${v}`);
  }
  return n;
}

function resolveOptions(o: DownloadOptions): Resolved {
  const outputDir = path.resolve(o.zarrOutputDir ?? DEFAULT_OUTPUT_DIR);
  const timeout = o.timeout ?? 60;
  if (!(timeout > 0)) throw new DownloadOptionError(`--timeout: expected seconds > 0, got ${o.timeout}`);
  return {
    sector: positiveInt("--sector", o.sector, 20),
    camera: positiveInt("--camera", o.camera, 3),
    ccd: positiveInt("--ccd", o.ccd, 3),
    numWorkers: positiveInt("--num-workers", o.numWorkers, 2),
    outputDir,
    storePath: path.join(outputDir, STORE_NAME),
    dataRoot: path.dirname(outputDir),
    localRoot: path.resolve(o.localDataPath ?? DEFAULT_LOCAL_DATA_PATH),
    bands: checkDownloadBands(o.bands ?? DEFAULT_BANDS),
    baseUrl: archiveBaseUrl(o.archiveUrl),
    maxConnections: positiveInt("--max-connections", o.maxConnections, 8),
    retries: positiveInt("--retries", o.retries, 5, 0),
    timeoutMs: timeout * 1000,
    maxFileSize: positiveInt("--max-file-size", o.maxFileSize, DEFAULT_MAX_FILE_SIZE, 2880),
    zarrPath: path.join(o.zarrOutputDir ?? DEFAULT_OUTPUT_DIR, STORE_NAME),
    shard: typeof o.shard === "string" ? parseShard(o.shard) : o.shard,
    decodeWorkers: positiveInt("decodeWorkers", o.decodeWorkers, navigator.hardwareConcurrency || 1),
  };
}

/** The kernel's peak RSS of this process (VmHWM; readable only with all permissions), else 0. */
function kernelPeakRss(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples the process RSS (all threads) a few times a second; `peak` is the most seen. */
class RssSampler {
  peak = Deno.memoryUsage().rss;
  #timer = setInterval(() => this.sample(), 250);
  sample(): void {
    this.peak = Math.max(this.peak, Deno.memoryUsage().rss);
  }
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return Math.max(this.peak, kernelPeakRss());
  }
}

const cpuSeconds = () => {
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** What the store holds at the end of a run (see `#produced`). */
interface Produced {
  skycells: string[];
  count: number;
  missingUpstream: number;
}

/** Consecutive download failures (not 404) that stop the run: the archive is down or blocking us. */
function breakerLimit(maxConnections: number): number {
  return Math.max(8, 2 * maxConnections);
}

/**
 * Downloads the skycells of a TESS sector/camera/CCD (or of `skycells`/`skycellsCsv`) into the store.
 * Never throws for run-time problems and never prints: the result says what happened.
 */
export async function downloadAndStorePs1Data(options: DownloadOptions = {}): Promise<DownloadResult> {
  return await new DownloadRun(options).run();
}

class DownloadRun {
  #o: DownloadOptions;
  #log: Logger;
  #started = performance.now();
  #cpu0 = cpuSeconds();
  #artifacts: Artifact[] = [];
  #failures: Failure[] = [];
  #missing: MissingFile[] = [];
  #stats = {
    bytesDownloaded: 0,
    bytesLocal: 0,
    bytesDecoded: 0,
    bytesStored: 0,
    arraysWritten: 0,
    arraysSkipped: 0,
    redownloads: 0,
  };
  #progress: DownloadProgress = {
    skycellsDone: 0,
    skycellsTotal: 0,
    arraysDone: 0,
    arraysToFetch: 0,
    arraysWritten: 0,
    failures: 0,
    bytesDownloaded: 0,
    elapsedSeconds: 0,
  };
  #cfg?: Resolved;
  #client?: ArchiveClient;
  #pool?: WorkerPool<IngestTask, IngestDone>;
  #store?: ZarrStore;
  #spool = "";
  #stop = new AbortController();
  #consecutiveFailures = 0;
  #anySuccess = false;
  #breakerMessage = "";
  #storeMessage = "";
  #rows = 0;
  #archiveDown = false;
  #skycells: string[] = [];
  #rss?: RssSampler;
  #peakRss = 0;

  constructor(o: DownloadOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
  }

  /** The whole run; whatever goes wrong becomes a result with one line, never an exception. */
  async run(): Promise<DownloadResult> {
    try {
      return await this.#run();
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      const zarrPath = this.#cfg?.zarrPath ?? "";
      if (this.#o.signal?.aborted) return this.#result("interrupted", `interrupted: ${message}`, zarrPath);
      return this.#result("error", `stopped: ${message.split("\n")[0]}`, zarrPath);
    }
  }

  async #run(): Promise<DownloadResult> {
    let cfg: Resolved;
    try {
      cfg = this.#cfg = resolveOptions(this.#o);
    } catch (err) {
      return this.#result("error", (err as Error).message, "");
    }

    let list;
    try {
      list = await resolveSkycellList({
        ...cfg,
        skycells: this.#o.skycells,
        skycellsCsv: this.#o.skycellsCsv,
      });
    } catch (err) {
      if (err instanceof MappingCsvError || err instanceof DownloadOptionError) {
        return this.#result("error", err.message, cfg.zarrPath);
      }
      return this.#result("error", `cannot read the skycell list: ${(err as Error).message}`, cfg.zarrPath);
    }
    this.#rows = list.rows;
    for (const w of list.warnings) this.#log.warn(w);
    if (list.csvPath) {
      this.#log.info(
        `skycell list: ${list.csvPath} (${list.source} path): ${list.mainCount} main + ${list.paddingCount} padding`,
      );
    }
    this.#skycells = shardSkycells(list.skycells, cfg.shard);
    if (cfg.shard) {
      this.#log.info(
        `shard ${cfg.shard.index}/${cfg.shard.count}: ${this.#skycells.length} of ${list.skycells.length} skycells`,
      );
    }
    this.#progress.skycellsTotal = this.#skycells.length;
    if (this.#skycells.length === 0) {
      return this.#result("completed", "no skycells to download", cfg.zarrPath);
    }
    try {
      await fs.mkdir(cfg.outputDir, { recursive: true });
      this.#store = await ZarrStore.open(cfg.storePath, {
        create: !this.#o.dryRun,
        lock: {
          onWait: (p) => this.#log.info(`waiting for the store lock ${p} (another process holds it)`),
          signal: this.#runSignal(),
        },
      });
    } catch (err) {
      if (this.#o.dryRun && (err as Error).name === "NodeNotFoundError") {
        return await this.#dryRun(null);
      }
      if (this.#o.signal?.aborted) {
        return this.#result("interrupted", `interrupted: ${(err as Error).message}`, cfg.zarrPath);
      }
      return this.#result("error", `cannot open the store: ${(err as Error).message}`, cfg.zarrPath);
    }
    try {
      if (this.#o.dryRun) return await this.#dryRun(this.#store);
      return await this.#download();
    } finally {
      this.#store.close();
    }
  }

  #makeClient(signal: AbortSignal, retries = this.#cfg!.retries): ArchiveClient {
    const cfg = this.#cfg!;
    return new ArchiveClient({
      maxConnections: cfg.maxConnections,
      retries,
      timeoutMs: cfg.timeoutMs,
      connectTimeoutMs: Math.min(cfg.timeoutMs, 30_000),
      maxFileSize: cfg.maxFileSize,
      backoffMs: this.#o.backoffMs,
      signal,
      onEvent: (e) => {
        if (e.type === "retry") {
          this.#log.warn(`retry ${e.attempt} in ${(e.delayMs / 1000).toFixed(1)} s: ${e.url}: ${e.reason}`);
        } else if (e.type === "done") {
          this.#log.debug(`fetched ${e.url} (${e.bytes} bytes, ${e.attempts} attempts)`);
        }
      },
    });
  }

  async #dryRun(store: ZarrStore | null): Promise<DownloadResult> {
    const cfg = this.#cfg!;
    // Sizes come from HEAD requests (one retry: a dry run should not wait out a dead host).
    const client = this.#makeClient(this.#o.signal ?? this.#stop.signal, Math.min(1, cfg.retries));
    const plan: NonNullable<DownloadResult["plan"]> = [];
    try {
      for (const skycell of this.#skycells) {
        const p = store
          ? await planSkycell(store, skycell, cfg.bands, this.#o.overwrite ?? false)
          : { skycell, fetch: skycellJobs(skycell, cfg.bands), complete: [], orphans: [], temps: 0 };
        const sizes = await Promise.all(p.fetch.map((job) => this.#expectedBytes(job, client)));
        const known = sizes.every((s) => s !== null);
        plan.push({
          skycell,
          fetch: p.fetch.map((j) => j.name),
          complete: p.complete.map((j) => j.name),
          bytesExpected: known ? sizes.reduce((a: number, b) => a + (b ?? 0), 0) : null,
        });
        for (const job of p.complete) this.#artifact(job, "skipped");
        for (const job of p.fetch) this.#artifact(job, "planned");
      }
    } finally {
      client?.close();
    }
    const toFetch = plan.reduce((a, p) => a + p.fetch.length, 0);
    const bytes = plan.reduce((a, p) => a + (p.bytesExpected ?? 0), 0);
    const result = this.#result(
      "completed",
      `dry run: ${toFetch} arrays to fetch (${(bytes / 1e6).toFixed(1)} MB where known), ${
        plan.reduce((a, p) => a + p.complete.length, 0)
      } already complete, in ${plan.length} skycells`,
      cfg.zarrPath,
    );
    result.plan = plan;
    return result;
  }

  async #expectedBytes(job: ArrayJob, client: ArchiveClient | null): Promise<number | null> {
    const cfg = this.#cfg!;
    if (this.#o.useLocalFiles) {
      const st = await fs.stat(localPath(cfg.localRoot, job.skycell, job.band, job.kind)).catch(() => null);
      if (st?.isFile()) return st.size;
    }
    if (!client) return null;
    try {
      return (await client.head(archiveUrl(cfg.baseUrl, job.skycell, job.band, job.kind))).contentLength;
    } catch {
      return null;
    }
  }

  /** The caller's signal and the run's own stop, as one. */
  #runSignal(): AbortSignal {
    return this.#o.signal ? AbortSignal.any([this.#o.signal, this.#stop.signal]) : this.#stop.signal;
  }

  async #download(): Promise<DownloadResult> {
    const cfg = this.#cfg!;
    const signal = this.#runSignal();
    this.#client = this.#makeClient(signal);
    this.#rss = new RssSampler();
    this.#pool = new WorkerPool(new URL("./ingest_worker.ts", import.meta.url), cfg.decodeWorkers);
    this.#spool = await this.#makeSpool();
    await this.#recoverOrphans(await this.#upperOrphans());
    // Arrays in flight (downloading, spooled or decoding): bounds the spool and the decoder queue.
    const arraySlots = new Semaphore(cfg.maxConnections + cfg.decodeWorkers);
    let next = 0;
    const planned = new Map<string, SkycellPlan>();
    try {
      await Promise.all(Array.from({ length: Math.min(cfg.numWorkers, this.#skycells.length) }, async () => {
        while (next < this.#skycells.length && !signal.aborted) {
          const skycell = this.#skycells[next++];
          let plan = await planSkycell(this.#store!, skycell, cfg.bands, this.#o.overwrite ?? false);
          if (plan.orphans.length > 0) {
            await this.#recoverOrphans(plan.orphans);
            plan = await planSkycell(this.#store!, skycell, cfg.bands, this.#o.overwrite ?? false);
          }
          planned.set(skycell, plan);
          await this.#runSkycell(plan, arraySlots, signal);
        }
      }));
    } finally {
      this.#peakRss = this.#rss.stop();
      this.#pool.close();
      this.#client.close();
      await fs.rm(this.#spool, { recursive: true, force: true }).catch(() => {});
    }
    const interrupted = this.#o.signal?.aborted ?? false;
    const produced = await this.#produced();
    const temps = [...planned.values()].reduce((a, p) => a + p.temps, 0);
    if (temps > 0) {
      this.#log.warn(
        `${temps} temp arrays of other hosts or running processes seen; if no download is running, ` +
          `remove them with zarr_inventory.ts --cleanup-temp`,
      );
    }
    const expected = this.#skycells.length * cfg.bands.length * 3;
    const done = `${produced.count}/${expected} arrays present, ${this.#stats.arraysWritten} written, ` +
      `${this.#stats.arraysSkipped} already complete`;
    const missing = this.#missing.length ? `, ${this.#missing.length} missing upstream` : "";
    if (interrupted) {
      return this.#result("interrupted", `interrupted: ${done}${missing}`, cfg.zarrPath, produced);
    }
    if (this.#storeMessage) {
      return this.#result("error", `${this.#storeMessage}; ${done}`, cfg.zarrPath, produced);
    }
    // The status follows what the store holds now, not what this run wrote: arrays another process
    // removed meanwhile make the run incomplete even when every write succeeded.
    const absent = expected - produced.count - produced.missingUpstream;
    if (this.#breakerMessage && !this.#archiveDown) {
      const status = this.#anySuccess || produced.count > 0 ? "incomplete" : "error";
      return this.#result(status, `${this.#breakerMessage}; ${done}`, cfg.zarrPath, produced);
    }
    if (absent > 0) {
      const why = this.#failures.length > 0
        ? `${this.#failures.length} arrays failed`
        : `${absent} arrays expected are not complete at the end (removed or damaged by another process?)`;
      const archive = this.#archiveDown ? ` (${this.#breakerMessage})` : "";
      return this.#result("incomplete", `${why}${archive}: ${done}${missing}`, cfg.zarrPath, produced);
    }
    return this.#result("completed", `completed: ${done}${missing}`, cfg.zarrPath, produced);
  }

  /**
   * Orphan temp nodes above skycell level (a projection or skycell group being created or deleted by a
   * process that died): at the store root and in the projection groups of this run's skycells. Only
   * directory names are read.
   */
  async #upperOrphans(): Promise<string[]> {
    const store = this.#store!;
    const found: string[] = [];
    const projections = [...new Set(this.#skycells.map((s) => parseSkycell(s).projection))];
    for (const group of ["", ...projections]) {
      const names = await fs.readdir(store.fsPath(group)).catch(() => [] as string[]);
      for (const name of names) {
        if (isTempName(name) && await isOrphanTemp(store.root, name)) found.push(joinNodePath(group, name));
      }
    }
    return found;
  }

  /**
   * Finishes the work of processes that died in this store: new arrays whose build completed are
   * installed, old arrays moved aside by an interrupted replace are restored, the rest is removed. New
   * builds go first, so a finished replacement wins over the array it replaced.
   */
  async #recoverOrphans(orphans: string[]): Promise<void> {
    const order = (p: string) => (parseTempName(p.split("/").pop()!)?.purpose === "new" ? 0 : 1);
    for (const orphan of [...orphans].sort((a, b) => order(a) - order(b))) {
      try {
        const outcome = await this.#store!.recoverTemp(orphan);
        this.#log.info(`${orphan} (left by a process that no longer runs): ${outcome}`);
      } catch (err) {
        this.#log.warn(`${orphan}: ${(err as Error).message}`);
      }
    }
  }

  async #runSkycell(plan: SkycellPlan, slots: Semaphore, signal: AbortSignal): Promise<void> {
    const t0 = performance.now();
    this.#progress.arraysToFetch += plan.fetch.length;
    for (const job of plan.complete) {
      this.#artifact(job, "skipped");
      this.#stats.arraysSkipped++;
      this.#progress.arraysDone++;
    }
    for (const { reason } of plan.damaged) this.#log.warn(`${reason}; fetching it again`);
    // An array this process cannot read may be healthy: it is never replaced (that would remove it).
    for (const { job, reason } of plan.unreadable) {
      this.#fail(job, this.#cfg!.storePath, `${reason}; left as it is (not replaced)`);
    }
    let written = 0;
    let failed = 0;
    await Promise.all(plan.fetch.map(async (job) => {
      await slots.acquire();
      try {
        if (signal.aborted) return;
        const outcome = await this.#storeArray(job, signal);
        if (outcome === "written") written++;
        if (outcome === "failed") failed++;
      } finally {
        slots.release();
        this.#emitProgress();
      }
    }));
    if (signal.aborted) return;
    this.#progress.skycellsDone++;
    this.#log.info(
      `${plan.skycell}: ${written} written, ${plan.complete.length} already complete` +
        `${failed ? `, ${failed} failed` : ""} (${((performance.now() - t0) / 1000).toFixed(1)} s) ` +
        `[${this.#progress.skycellsDone}/${this.#progress.skycellsTotal}]`,
    );
    this.#emitProgress();
  }

  /** Gets one array into the store and records the outcome; never throws. */
  async #storeArray(job: ArrayJob, signal: AbortSignal): Promise<Artifact["action"] | "aborted"> {
    const cfg = this.#cfg!;
    const url = archiveUrl(cfg.baseUrl, job.skycell, job.band, job.kind);
    if (this.#o.useLocalFiles) {
      const local = localPath(cfg.localRoot, job.skycell, job.band, job.kind);
      const st = await fs.stat(local).catch(() => null);
      if (st?.isFile()) {
        try {
          const { done, action } = await this.#ingest(job, local, local);
          this.#stats.bytesLocal += done.sourceBytes;
          return action;
        } catch (err) {
          if (signal.aborted) return "aborted";
          if (isStoreFailure(err)) return this.#storeFailed(job, local, err as Error);
          const what = err instanceof IdentityMismatchError ? "not the file asked for" : "unreadable";
          this.#log.warn(`${local}: ${what} (${(err as Error).message}); fetching from the archive`);
        }
      } else {
        this.#log.debug(`${local}: not in the local mirror; fetching from the archive`);
      }
    }
    if (this.#archiveDown) {
      this.#fail(
        job,
        url,
        `not in the local mirror, and the archive is not asked again (${this.#breakerMessage})`,
      );
      return "failed";
    }
    // A body that passes the HTTP checks but fails the FITS checksum or decode is fetched again.
    const attempts = 1 + Math.min(2, cfg.retries);
    let lastError = "";
    for (let attempt = 1; attempt <= attempts && !signal.aborted; attempt++) {
      const spoolFile = path.join(this.#spool, `${job.skycell}.${job.name}.${attempt}.fits`);
      let geometry: ImageGeometry | undefined;
      let finalUrl = "";
      try {
        ({ finalUrl } = await this.#client!.fetchToFile(url, spoolFile, {
          signal,
          onBytes: (n) => {
            this.#stats.bytesDownloaded += n;
            this.#progress.bytesDownloaded += n;
          },
          validate: async (p) => void (geometry = await peekImage(p, url)),
        }));
      } catch (err) {
        if (err instanceof FetchAbortedError || signal.aborted) return "aborted";
        if (err instanceof NotFoundError) {
          this.#missing.push({ skycell: job.skycell, band: job.band, kind: job.kind, url });
          this.#artifact(job, "missingUpstream", url);
          this.#progress.arraysDone++;
          this.#log.warn(`not in the archive (HTTP ${err.status}): ${url}`);
          return "missingUpstream";
        }
        this.#downloadFailed(job, url, (err as Error).message);
        return "failed";
      }
      this.#consecutiveFailures = 0;
      this.#anySuccess = true;
      try {
        return (await this.#ingest(job, spoolFile, finalUrl || url, geometry)).action;
      } catch (err) {
        if (signal.aborted) return "aborted";
        if (isStoreFailure(err)) return this.#storeFailed(job, url, err as Error);
        lastError = (err as Error).message;
        // The archive serving another file under this name will serve it again: no second try.
        if (err instanceof IdentityMismatchError) break;
        if (attempt < attempts) {
          this.#stats.redownloads++;
          this.#log.warn(`${url}: ${lastError}; fetching again`);
        }
      } finally {
        await fs.rm(spoolFile, { force: true });
      }
    }
    if (signal.aborted) return "aborted";
    this.#fail(job, url, lastError);
    return "failed";
  }

  /** A failure of the store itself: recorded, and the whole run stops (status `error`). */
  #storeFailed(job: ArrayJob, source: string, err: Error): "failed" {
    this.#fail(job, source, err.message);
    if (!this.#storeMessage) {
      this.#storeMessage = `stopped: the store cannot take more (${err.message})`;
      this.#log.error(this.#storeMessage);
      this.#stop.abort();
    }
    return "failed";
  }

  #downloadFailed(job: ArrayJob, url: string, message: string): void {
    this.#fail(job, url, message);
    if (++this.#consecutiveFailures >= breakerLimit(this.#cfg!.maxConnections) && !this.#breakerMessage) {
      this.#breakerMessage = `${this.#consecutiveFailures} downloads in a row failed ` +
        `(archive ${this.#cfg!.baseUrl} unreachable or refusing: ${message})`;
      if (this.#o.useLocalFiles) {
        // Local first means local first: stop asking the archive, keep ingesting the mirror's files.
        this.#archiveDown = true;
        this.#log.error(`${this.#breakerMessage}; the archive is not asked again, local files still are`);
      } else {
        this.#breakerMessage = `stopped after ${this.#breakerMessage}`;
        this.#log.error(this.#breakerMessage);
        this.#stop.abort();
      }
    }
  }

  #fail(job: ArrayJob, source: string, error: string): void {
    this.#failures.push({ skycell: job.skycell, band: job.band, kind: job.kind, source, error });
    this.#artifact(job, "failed", source);
    this.#progress.failures++;
    this.#log.error(`${job.skycell} ${job.name}: ${error}`);
  }

  /** Decodes a FITS file into a temp array and commits it. Throws when the file is bad. */
  async #ingest(
    job: ArrayJob,
    file: string,
    source: string,
    known?: ImageGeometry,
  ): Promise<{ done: IngestDone; action: "written" | "kept" }> {
    // The headers of a download were read by its validation; a local file's are read here.
    const geometry = known ?? await peekImage(file, source);
    const mismatch = checkIdentity(geometry.identity, {
      skycell: job.skycell,
      band: job.band,
      kind: job.kind,
    });
    if (mismatch) throw new IdentityMismatchError(`${source}: ${mismatch}`);
    const shape: [number, number] = [geometry.height, geometry.width];
    const spec = { shape, dtype: dtypeOf(job.kind), chunks: defaultChunks(shape) };
    const build: ArrayBuild = await this.#store!.beginArray(job.group, job.name, spec);
    let done: IngestDone;
    try {
      done = await this.#pool!.run({ fitsPath: file, source, build: build.handle() });
    } catch (err) {
      await build.abort();
      throw err;
    }
    build.addWritten(done);
    for (const w of done.warnings) this.#log.warn(w);
    const committed = await build.commit({ header: done.header }, {
      source,
      source_bytes: done.sourceBytes,
      source_digest: done.digest,
      ...(done.warnings.length > 0 ? { warnings: done.warnings } : {}),
    }, { keepComplete: !this.#o.overwrite });
    this.#stats.bytesDecoded += done.decodedBytes;
    this.#stats.bytesStored += done.bytes;
    const action = committed.kept ? "kept" : "written";
    if (committed.kept) {
      this.#stats.arraysSkipped++;
      this.#log.info(`${committed.path}: completed meanwhile by another process; kept that copy`);
    } else {
      this.#stats.arraysWritten++;
      this.#progress.arraysWritten++;
    }
    this.#artifact(job, action, source, done.sourceBytes);
    this.#progress.arraysDone++;
    return { done, action };
  }

  #artifact(job: ArrayJob, action: Artifact["action"], source?: string, bytes?: number): void {
    this.#artifacts.push({
      skycell: job.skycell,
      band: job.band,
      kind: job.kind,
      array: `${job.group}/${job.name}`,
      action,
      ...(source !== undefined ? { source } : {}),
      ...(bytes !== undefined ? { bytes } : {}),
    });
  }

  #emitProgress(): void {
    if (!this.#o.onProgress) return;
    this.#progress.elapsedSeconds = (performance.now() - this.#started) / 1000;
    this.#o.onProgress({ ...this.#progress });
  }

  async #makeSpool(): Promise<string> {
    const root = path.join(this.#cfg!.outputDir, ".download_spool");
    await fs.mkdir(root, { recursive: true });
    const storeRoot = this.#store!.root;
    await registerOwner(storeRoot);
    // Spool folders of processes that no longer run are leftovers of a kill.
    for (const entry of await fs.readdir(root).catch(() => [] as string[])) {
      const owner = parseOwnerToken(entry);
      if (owner && await isOwnerGone(storeRoot, owner.host, owner.pid)) {
        await fs.rm(path.join(root, entry), { recursive: true, force: true }).catch(() => {});
      }
    }
    const dir = path.join(root, ownerToken());
    await fs.mkdir(dir);
    return dir;
  }

  /**
   * What the store holds at the end, by the store layer's verdict: the skycells whose arrays for the
   * requested bands are all complete, the count of complete arrays, and of expected arrays the archive
   * does not have (those cannot be complete, and do not make the run incomplete).
   */
  async #produced(): Promise<Produced> {
    const cfg = this.#cfg!;
    const missing = new Set(this.#missing.map((m) => `${m.skycell}/${m.band}/${m.kind}`));
    const out: Produced = { skycells: [], count: 0, missingUpstream: 0 };
    for (const skycell of this.#skycells) {
      const plan = await planSkycell(this.#store!, skycell, cfg.bands, false);
      out.count += plan.complete.length;
      out.missingUpstream += plan.fetch.filter((j) => missing.has(`${j.skycell}/${j.band}/${j.kind}`)).length;
      if (plan.complete.length === cfg.bands.length * 3) out.skycells.push(skycell);
    }
    return out;
  }

  #result(
    status: DownloadResult["status"],
    message: string,
    zarrPath: string,
    produced: Produced = { skycells: [], count: 0, missingUpstream: 0 },
  ): DownloadResult {
    const bands = this.#cfg?.bands.length ?? 0;
    const elapsed = (performance.now() - this.#started) / 1000;
    const client = this.#client?.stats();
    return {
      status,
      message,
      skycellsFound: this.#rows,
      uniqueImages: this.#skycells.length,
      zarrPath,
      producedSkycells: produced.skycells,
      producedCount: produced.skycells.length,
      expectedCount: this.#skycells.length,
      artifacts: produced.skycells.map((s) => skycellGroupPath(s)),
      arrays: this.#artifacts,
      arraysPresent: produced.count,
      arraysExpected: this.#skycells.length * bands * 3,
      failures: this.#failures,
      missingUpstream: this.#missing,
      stats: {
        elapsedSeconds: elapsed,
        cpuSeconds: cpuSeconds() - this.#cpu0,
        bytesDownloaded: this.#stats.bytesDownloaded,
        bytesLocal: this.#stats.bytesLocal,
        bytesDecoded: this.#stats.bytesDecoded,
        bytesStored: this.#stats.bytesStored,
        arraysWritten: this.#stats.arraysWritten,
        arraysSkipped: this.#stats.arraysSkipped,
        requests: client?.requests ?? 0,
        retries: (client?.retries ?? 0) + this.#stats.redownloads,
        peakRssBytes: this.#peakRss || Deno.memoryUsage().rss,
        decodedMBps: elapsed > 0 ? this.#stats.bytesDecoded / 1e6 / elapsed : 0,
      },
    };
  }
}
