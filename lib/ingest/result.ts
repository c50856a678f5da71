/**
 * What a download run reports: the result with the meanings of the pipeline's port of
 * `download_and_store_ps1_data` (and its snake_case form for `--json`), the per-array outcomes, failures
 * and counters, and the {@link RunLedger} in which the stages record them as they go. The report stage
 * of the run builds the result from the ledger and from what the store holds at the end.
 *
 * @example
 * ```ts ignore
 * const ledger = new RunLedger(onProgress);
 * ledger.record(job, "written", url, bytes);
 * const result = ledger.result("completed", "completed: ...", context);
 * ```
 * @module
 */

import { cpuUsage } from "node:process";
import type { FileKind } from "../ps1/urls.ts";
import { skycellGroupPath } from "../store/layout.ts";
import type { ArrayJob } from "./plan.ts";

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

/** The result of `downloadAndStorePs1Data`. */
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

/** What the store holds at the end of a run (the report stage looks). */
export interface Produced {
  /** Skycells whose arrays for the requested bands are all complete. */
  skycells: string[];
  /** Expected arrays complete. */
  count: number;
  /** Expected arrays the archive does not have (404/410). */
  missingUpstream: number;
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
export class RssSampler {
  /** The most seen so far, bytes. */
  peak: number = Deno.memoryUsage().rss;
  #timer = setInterval(() => this.sample(), 250);
  /** Takes one sample now. */
  sample(): void {
    this.peak = Math.max(this.peak, Deno.memoryUsage().rss);
  }
  /** Stops sampling; the peak seen, or the kernel's exact peak when readable. */
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return Math.max(this.peak, kernelPeakRss());
  }
}

function cpuSeconds(): number {
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** What the report needs beside the ledger. */
export interface ResultContext {
  /** The store path as given. */
  zarrPath: string;
  /** Rows of the skycell list. */
  rows: number;
  /** The skycells of this run (after the shard). */
  skycells: readonly string[];
  /** Bands of this run. */
  bands: number;
  /** What the store holds at the end. */
  produced?: Produced;
  /** The archive client's counters, when one ran. */
  client?: { requests: number; retries: number };
  /** Peak RSS measured during the run, bytes. */
  peakRss?: number;
}

/** Where the stages of a run record what happened: outcomes, failures, counters, progress. */
export class RunLedger {
  /** Per-array outcomes, in the order they happened. */
  readonly arrays: Artifact[] = [];
  /** Arrays that could not be stored. */
  readonly failures: Failure[] = [];
  /** Files the archive does not have. */
  readonly missing: MissingFile[] = [];
  /** Byte and array counters. */
  readonly counters = {
    bytesDownloaded: 0,
    bytesLocal: 0,
    bytesDecoded: 0,
    bytesStored: 0,
    arraysWritten: 0,
    arraysSkipped: 0,
    redownloads: 0,
  };
  /** The progress snapshot handed to `onProgress`. */
  readonly progress: DownloadProgress = {
    skycellsDone: 0,
    skycellsTotal: 0,
    arraysDone: 0,
    arraysToFetch: 0,
    arraysWritten: 0,
    failures: 0,
    bytesDownloaded: 0,
    elapsedSeconds: 0,
  };
  #started = performance.now();
  #cpu0 = cpuSeconds();
  #onProgress?: (progress: DownloadProgress) => void;

  /** @param onProgress called with a copy of the progress on {@link emit} */
  constructor(onProgress?: (progress: DownloadProgress) => void) {
    this.#onProgress = onProgress;
  }

  /** Records one array's outcome. */
  record(job: ArrayJob, action: Artifact["action"], source?: string, bytes?: number): void {
    this.arrays.push({
      skycell: job.skycell,
      band: job.band,
      kind: job.kind,
      array: `${job.group}/${job.name}`,
      action,
      ...(source !== undefined ? { source } : {}),
      ...(bytes !== undefined ? { bytes } : {}),
    });
    if (action === "skipped" || action === "kept") this.counters.arraysSkipped++;
    if (action === "written") {
      this.counters.arraysWritten++;
      this.progress.arraysWritten++;
    }
    if (action !== "planned" && action !== "failed") this.progress.arraysDone++;
  }

  /** Records an array that could not be stored. */
  fail(job: ArrayJob, source: string, error: string): void {
    this.failures.push({ skycell: job.skycell, band: job.band, kind: job.kind, source, error });
    this.record(job, "failed", source);
    this.progress.failures++;
  }

  /** Records a file the archive does not have. */
  missingUpstream(job: ArrayJob, url: string): void {
    this.missing.push({ skycell: job.skycell, band: job.band, kind: job.kind, url });
    this.record(job, "missingUpstream", url);
  }

  /** Counts body bytes received. */
  downloaded(bytes: number): void {
    this.counters.bytesDownloaded += bytes;
    this.progress.bytesDownloaded += bytes;
  }

  /** Hands the progress to the caller. */
  emit(): void {
    if (!this.#onProgress) return;
    this.progress.elapsedSeconds = (performance.now() - this.#started) / 1000;
    this.#onProgress({ ...this.progress });
  }

  /** The run's result (see {@link DownloadResult} for each field's meaning). */
  result(status: DownloadResult["status"], message: string, ctx: ResultContext): DownloadResult {
    const produced = ctx.produced ?? { skycells: [], count: 0, missingUpstream: 0 };
    const elapsed = (performance.now() - this.#started) / 1000;
    const c = this.counters;
    return {
      status,
      message,
      skycellsFound: ctx.rows,
      uniqueImages: ctx.skycells.length,
      zarrPath: ctx.zarrPath,
      producedSkycells: produced.skycells,
      producedCount: produced.skycells.length,
      expectedCount: ctx.skycells.length,
      artifacts: produced.skycells.map((s) => skycellGroupPath(s)),
      arrays: this.arrays,
      arraysPresent: produced.count,
      arraysExpected: ctx.skycells.length * ctx.bands * 3,
      failures: this.failures,
      missingUpstream: this.missing,
      stats: {
        elapsedSeconds: elapsed,
        cpuSeconds: cpuSeconds() - this.#cpu0,
        bytesDownloaded: c.bytesDownloaded,
        bytesLocal: c.bytesLocal,
        bytesDecoded: c.bytesDecoded,
        bytesStored: c.bytesStored,
        arraysWritten: c.arraysWritten,
        arraysSkipped: c.arraysSkipped,
        requests: ctx.client?.requests ?? 0,
        retries: (ctx.client?.retries ?? 0) + c.redownloads,
        peakRssBytes: ctx.peakRss || Deno.memoryUsage().rss,
        decodedMBps: elapsed > 0 ? c.bytesDecoded / 1e6 / elapsed : 0,
      },
    };
  }
}
