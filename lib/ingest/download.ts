/**
 * The download job: fetch the PS1 skycells a TESS sector/camera/CCD needs (or any skycell list) into the
 * Zarr store, resumable, polite to the archive and bounded in memory. A run is a few stages, each in a
 * module of its own:
 *
 * 1. options (`options.ts`): checked once, defaults filled in;
 * 2. plan (`plan.ts`): the skycell list and, per skycell, the arrays the store layer does not call
 *    complete;
 * 3. fetch (`fetch.ts`): the local mirror or the archive, streamed to a spool file;
 * 4. ingest and commit (`commit.ts`): identity, decoding by the worker pool, atomic commit;
 * 5. report (`result.ts` and {@link DownloadRun.report}): what the store holds at the end decides the
 *    status.
 *
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
import { type Logger, silentLogger } from "../cli/log.ts";
import { ArchiveClient } from "../ps1/archive_client.ts";
import { MappingCsvError } from "../ps1/mapping.ts";
import { parseSkycell } from "../ps1/skycell.ts";
import { archiveUrl, localPath } from "../ps1/urls.ts";
import { Semaphore } from "../semaphore.ts";
import { recoverDeadProcesses, recoverOrphans } from "../store/recover.ts";
import { WorkerPool } from "../zarr/pool.ts";
import { ZarrStore } from "../zarr/store.ts";
import { ArrayIngester } from "./commit.ts";
import { ArchiveBreaker, ArrayFetcher, breakerLimit } from "./fetch.ts";
import type { IngestDone, IngestTask } from "./ingest_worker.ts";
import {
  DownloadOptionError,
  type DownloadOptions,
  type ResolvedOptions,
  resolveOptions,
} from "./options.ts";
import { type ArrayJob, planSkycell, shardSkycells, skycellJobs, type SkycellPlan } from "./plan.ts";
import { describeList, resolveSkycellList, SkycellListError } from "../sky/list.ts";
import { type DownloadResult, type Produced, RssSampler, RunLedger } from "./result.ts";

export { IdentityMismatchError, isStoreFailure } from "./commit.ts";
export { DOWNLOAD_DEFAULTS, DownloadOptionError, parseShard } from "./options.ts";
export type { DownloadOptions, Shard } from "./options.ts";
export { resultForPython } from "./result.ts";
export type {
  Artifact,
  DownloadProgress,
  DownloadResult,
  DownloadStats,
  Failure,
  MissingFile,
} from "./result.ts";

/**
 * Downloads the skycells of a TESS sector/camera/CCD (or of `skycells`/`skycellsCsv`) into the store.
 * Never throws and never prints: the result says what happened.
 */
export async function downloadAndStorePs1Data(options: DownloadOptions = {}): Promise<DownloadResult> {
  return await new DownloadRun(options).run();
}

/** One run, stage by stage (see the module doc). */
class DownloadRun {
  #o: DownloadOptions;
  #log: Logger;
  #ledger: RunLedger;
  #cfg?: ResolvedOptions;
  #store?: ZarrStore;
  #client?: ArchiveClient;
  #fetcher?: ArrayFetcher;
  #stop = new AbortController();
  #rows = 0;
  #skycells: string[] = [];
  #peakRss = 0;

  constructor(o: DownloadOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#ledger = new RunLedger(o.onProgress);
  }

  /** The whole run; whatever goes wrong becomes a result with one line, never an exception. */
  async run(): Promise<DownloadResult> {
    try {
      return await this.#run();
    } catch (err) {
      const message = ((err as Error)?.message ?? String(err)).split("\n")[0];
      if (this.#o.signal?.aborted) return this.#result("interrupted", `interrupted: ${message}`);
      return this.#result("error", `stopped: ${message}`);
    }
  }

  async #run(): Promise<DownloadResult> {
    try {
      this.#cfg = resolveOptions(this.#o);
    } catch (err) {
      return this.#result("error", (err as Error).message);
    }
    const cfg = this.#cfg;
    const planned = await this.#listSkycells(cfg);
    if (planned) return planned;
    if (this.#skycells.length === 0) return this.#result("completed", "no skycells to download");
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
      if (this.#o.dryRun && (err as Error).name === "NodeNotFoundError") return await this.#dryRun(null);
      if (this.#o.signal?.aborted) {
        return this.#result("interrupted", `interrupted: ${(err as Error).message}`);
      }
      return this.#result("error", `cannot open the store: ${(err as Error).message}`);
    }
    try {
      if (this.#o.dryRun) return await this.#dryRun(this.#store);
      await this.#download(this.#store, cfg);
      return await this.#report(this.#store, cfg);
    } finally {
      this.#store.close();
    }
  }

  /** Stage 2a: the skycell list and this run's share of it; an error result when it cannot be had. */
  async #listSkycells(cfg: ResolvedOptions): Promise<DownloadResult | null> {
    let list;
    try {
      list = await resolveSkycellList({
        ...cfg,
        skycells: this.#o.skycells,
        skycellsCsv: this.#o.skycellsCsv,
        footprint: this.#o.footprint,
        footprintFits: this.#o.footprintFits,
        cone: this.#o.cone,
      });
    } catch (err) {
      if (
        err instanceof MappingCsvError || err instanceof SkycellListError ||
        err instanceof DownloadOptionError
      ) {
        return this.#result("error", err.message);
      }
      return this.#result("error", `cannot read the skycell list: ${(err as Error).message}`);
    }
    this.#rows = list.rows;
    for (const w of list.warnings) this.#log.warn(w);
    if (list.csvPath) this.#log.info(describeList(list));
    this.#skycells = shardSkycells(list.skycells, cfg.shard);
    if (cfg.shard) {
      this.#log.info(
        `shard ${cfg.shard.index}/${cfg.shard.count}: ${this.#skycells.length} of ${list.skycells.length} skycells`,
      );
    }
    this.#ledger.progress.skycellsTotal = this.#skycells.length;
    return null;
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

  /** A dry run: the plan with expected sizes (HEAD requests, one retry: no waiting out a dead host). */
  async #dryRun(store: ZarrStore | null): Promise<DownloadResult> {
    const cfg = this.#cfg!;
    const client = this.#makeClient(this.#runSignal(), Math.min(1, cfg.retries));
    const plan: NonNullable<DownloadResult["plan"]> = [];
    // HEAD requests stop once the archive looks unreachable, as downloads do: sizes are then unknown.
    const breaker = new ArchiveBreaker(breakerLimit(cfg.maxConnections));
    try {
      for (const skycell of this.#skycells) {
        const p = store
          ? await planSkycell(store, skycell, cfg.bands, this.#o.overwrite ?? false)
          : { skycell, fetch: skycellJobs(skycell, cfg.bands), complete: [] };
        const sizes = await Promise.all(p.fetch.map((job) => this.#expectedBytes(job, client, breaker)));
        const known = sizes.every((s) => s !== null);
        plan.push({
          skycell,
          fetch: p.fetch.map((j) => j.name),
          complete: p.complete.map((j) => j.name),
          bytesExpected: known ? sizes.reduce((a: number, b) => a + (b ?? 0), 0) : null,
        });
        for (const job of p.complete) this.#ledger.record(job, "skipped");
        for (const job of p.fetch) this.#ledger.record(job, "planned");
      }
    } finally {
      client.close();
    }
    const toFetch = plan.reduce((a, p) => a + p.fetch.length, 0);
    const bytes = plan.reduce((a, p) => a + (p.bytesExpected ?? 0), 0);
    const complete = plan.reduce((a, p) => a + p.complete.length, 0);
    const result = this.#result(
      "completed",
      `dry run: ${toFetch} arrays to fetch (${(bytes / 1e6).toFixed(1)} MB where known), ${complete} ` +
        `already complete, in ${plan.length} skycells`,
    );
    result.plan = plan;
    return result;
  }

  async #expectedBytes(
    job: ArrayJob,
    client: ArchiveClient,
    breaker: ArchiveBreaker,
  ): Promise<number | null> {
    const cfg = this.#cfg!;
    if (this.#o.useLocalFiles) {
      const st = await fs.stat(localPath(cfg.localRoot, job.skycell, job.band, job.kind)).catch(() => null);
      if (st?.isFile()) return st.size;
    }
    if (breaker.tripped) return null;
    try {
      const size =
        (await client.head(archiveUrl(cfg.baseUrl, job.skycell, job.band, job.kind))).contentLength;
      breaker.succeeded();
      return size;
    } catch (err) {
      if (breaker.failed(cfg.baseUrl, (err as Error).message)) {
        this.#log.warn(`${breaker.message}; sizes of the remaining files are not asked for`);
      }
      return null;
    }
  }

  /** The caller's signal and the run's own stop, as one. */
  #runSignal(): AbortSignal {
    return this.#o.signal ? AbortSignal.any([this.#o.signal, this.#stop.signal]) : this.#stop.signal;
  }

  /** Stages 2b-4 for every skycell: plan it, then fetch, ingest and commit what it lacks. */
  async #download(store: ZarrStore, cfg: ResolvedOptions): Promise<void> {
    const signal = this.#runSignal();
    const rss = new RssSampler();
    const pool = new WorkerPool<IngestTask, IngestDone>(
      new URL("./ingest_worker.ts", import.meta.url),
      cfg.decodeWorkers,
    );
    this.#client = this.#makeClient(signal);
    const spool = await recoverDeadProcesses(store, {
      projections: this.#skycells.map((s) => parseSkycell(s).projection),
      spoolRoot: path.join(cfg.outputDir, ".download_spool"),
      log: this.#log,
    });
    this.#fetcher = new ArrayFetcher({
      cfg,
      client: this.#client,
      spool,
      ingester: new ArrayIngester(store, pool, this.#ledger, this.#log, {
        overwrite: this.#o.overwrite ?? false,
        signal,
      }),
      ledger: this.#ledger,
      log: this.#log,
      useLocalFiles: this.#o.useLocalFiles ?? false,
      stop: () => this.#stop.abort(),
    });
    // Arrays in flight (downloading, spooled or decoding): bounds the spool and the decoder queue.
    const slots = new Semaphore(cfg.maxConnections + cfg.decodeWorkers);
    let next = 0;
    let temps = 0;
    try {
      await Promise.all(Array.from({ length: Math.min(cfg.numWorkers, this.#skycells.length) }, async () => {
        while (next < this.#skycells.length && !signal.aborted) {
          const plan = await this.#planSkycell(store, this.#skycells[next++]);
          temps += plan.temps;
          await this.#runSkycell(plan, slots, signal);
        }
      }));
    } finally {
      this.#peakRss = rss.stop();
      pool.close();
      this.#client.close();
      await fs.rm(spool, { recursive: true, force: true }).catch(() => {});
    }
    if (temps > 0) {
      this.#log.warn(
        `${temps} temp arrays of other hosts or running processes seen; if no download is running, ` +
          `remove them with zarr_inventory.ts --cleanup-temp`,
      );
    }
  }

  /** Stage 2b: one skycell's plan, after recovering what dead processes left in its group. */
  async #planSkycell(store: ZarrStore, skycell: string): Promise<SkycellPlan> {
    const overwrite = this.#o.overwrite ?? false;
    const plan = await planSkycell(store, skycell, this.#cfg!.bands, overwrite);
    if (plan.orphans.length === 0) return plan;
    await recoverOrphans(store, plan.orphans, this.#log);
    return await planSkycell(store, skycell, this.#cfg!.bands, overwrite);
  }

  async #runSkycell(plan: SkycellPlan, slots: Semaphore, signal: AbortSignal): Promise<void> {
    const t0 = performance.now();
    const ledger = this.#ledger;
    ledger.progress.arraysToFetch += plan.fetch.length;
    for (const job of plan.complete) ledger.record(job, "skipped");
    for (const { reason } of plan.damaged) this.#log.warn(`${reason}; fetching it again`);
    // An array this process cannot read may be healthy: it is never replaced (that would remove it).
    for (const { job, reason } of plan.unreadable) {
      ledger.fail(job, this.#cfg!.storePath, `${reason}; left as it is (not replaced)`);
      this.#log.error(`${job.skycell} ${job.name}: ${reason}; left as it is (not replaced)`);
    }
    let written = 0;
    let failed = 0;
    await Promise.all(plan.fetch.map(async (job) => {
      await slots.acquire();
      try {
        if (signal.aborted) return;
        const outcome = await this.#fetcher!.storeArray(job, signal);
        if (outcome === "written") written++;
        if (outcome === "failed") failed++;
      } finally {
        slots.release();
        ledger.emit();
      }
    }));
    if (signal.aborted) return;
    ledger.progress.skycellsDone++;
    this.#log.info(
      `${plan.skycell}: ${written} written, ${plan.complete.length} already complete` +
        `${failed ? `, ${failed} failed` : ""} (${((performance.now() - t0) / 1000).toFixed(1)} s) ` +
        `[${ledger.progress.skycellsDone}/${ledger.progress.skycellsTotal}]`,
    );
    ledger.emit();
  }

  /**
   * Stage 5: the status follows what the store holds now, not what this run wrote (arrays another
   * process removed meanwhile make the run incomplete even when every write succeeded).
   */
  async #report(store: ZarrStore, cfg: ResolvedOptions): Promise<DownloadResult> {
    const produced = await this.#produced(store, cfg);
    const fetcher = this.#fetcher!;
    const ledger = this.#ledger;
    const expected = this.#skycells.length * cfg.bands.length * 3;
    const done = `${produced.count}/${expected} arrays present, ${ledger.counters.arraysWritten} written, ` +
      `${ledger.counters.arraysSkipped} already complete`;
    const missing = ledger.missing.length ? `, ${ledger.missing.length} missing upstream` : "";
    if (this.#o.signal?.aborted) {
      return this.#result("interrupted", `interrupted: ${done}${missing}`, produced);
    }
    if (fetcher.storeMessage) return this.#result("error", `${fetcher.storeMessage}; ${done}`, produced);
    const breaker = fetcher.breaker;
    if (breaker.tripped && !fetcher.archiveDown) {
      const status = breaker.anySuccess || produced.count > 0 ? "incomplete" : "error";
      return this.#result(status, `${breaker.message}; ${done}`, produced);
    }
    const absent = expected - produced.count - produced.missingUpstream;
    if (absent > 0) {
      const why = ledger.failures.length > 0
        ? `${ledger.failures.length} arrays failed`
        : `${absent} arrays expected are not complete at the end (removed or damaged by another process?)`;
      const archive = fetcher.archiveDown ? ` (${breaker.message})` : "";
      return this.#result("incomplete", `${why}${archive}: ${done}${missing}`, produced);
    }
    return this.#result("completed", `completed: ${done}${missing}`, produced);
  }

  /**
   * What the store holds at the end, by the store layer's verdict: the skycells whose arrays for the
   * requested bands are all complete, the count of complete arrays, and of expected arrays the archive
   * does not have (those cannot be complete, and do not make the run incomplete).
   */
  async #produced(store: ZarrStore, cfg: ResolvedOptions): Promise<Produced> {
    const missing = new Set(this.#ledger.missing.map((m) => `${m.skycell}/${m.band}/${m.kind}`));
    const out: Produced = { skycells: [], count: 0, missingUpstream: 0 };
    for (const skycell of this.#skycells) {
      const plan = await planSkycell(store, skycell, cfg.bands, false);
      out.count += plan.complete.length;
      out.missingUpstream += plan.fetch.filter((j) => missing.has(`${j.skycell}/${j.band}/${j.kind}`)).length;
      if (plan.complete.length === cfg.bands.length * 3) out.skycells.push(skycell);
    }
    return out;
  }

  #result(status: DownloadResult["status"], message: string, produced?: Produced): DownloadResult {
    return this.#ledger.result(status, message, {
      zarrPath: this.#cfg?.zarrPath ?? "",
      rows: this.#rows,
      skycells: this.#skycells,
      bands: this.#cfg?.bands.length ?? 0,
      produced,
      client: this.#client?.stats(),
      peakRss: this.#peakRss,
    });
  }
}
