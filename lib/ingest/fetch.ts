/**
 * The fetch stage of one array: the local mirror first (when asked and the file is there and right), else
 * the archive, streamed to a spool file and handed to the ingest stage; a body that passes the HTTP
 * checks but fails the FITS checks is fetched again (a few times). The {@link ArchiveBreaker} watches
 * downloads failing in a row: the archive is down or refusing, so the run stops, or with local files it
 * stops asking the archive and keeps ingesting the mirror.
 *
 * @example
 * ```ts ignore
 * const fetcher = new ArrayFetcher({ cfg, client, spool, ingester, ledger, log, useLocalFiles, stop });
 * const outcome = await fetcher.storeArray(job, signal); // "written", "failed", "aborted", ...
 * ```
 * @module
 */

import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { Logger } from "../cli/log.ts";
import { type ImageGeometry, peekImage } from "../fits/peek.ts";
import { type ArchiveClient, FetchAbortedError, NotFoundError } from "../ps1/archive_client.ts";
import { archiveUrl, localPath } from "../ps1/urls.ts";
import { type ArrayIngester, IdentityMismatchError, isStoreFailure } from "./commit.ts";
import type { ResolvedOptions } from "./options.ts";
import type { ArrayJob } from "./plan.ts";
import type { Artifact, RunLedger } from "./result.ts";

/**
 * Consecutive download failures (not 404) after which the archive is taken as down or blocking us:
 * twice the connections, at least 8.
 */
export function breakerLimit(maxConnections: number): number {
  return Math.max(8, 2 * maxConnections);
}

/** Tracks downloads failing in a row (see the module doc). */
export class ArchiveBreaker {
  /** Why the archive was given up on, or "" while it has not been. */
  message = "";
  /** A download succeeded in this run. */
  anySuccess = false;
  #inARow = 0;
  #limit: number;

  /** @param limit failures in a row that trip it */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Records a download that worked. */
  succeeded(): void {
    this.#inARow = 0;
    this.anySuccess = true;
  }

  /** Records one that failed; true when this failure trips the breaker. */
  failed(baseUrl: string, why: string): boolean {
    if (++this.#inARow < this.#limit || this.message) return false;
    this.message =
      `${this.#inARow} downloads in a row failed (archive ${baseUrl} unreachable or refusing: ${why})`;
    return true;
  }

  /** True once tripped. */
  get tripped(): boolean {
    return this.message !== "";
  }
}

/** What the fetch stage needs. */
export interface FetchContext {
  /** The run's options. */
  cfg: ResolvedOptions;
  /** The archive client. */
  client: ArchiveClient;
  /** This run's spool folder. */
  spool: string;
  /** The ingest and commit stages. */
  ingester: ArrayIngester;
  /** Where outcomes go. */
  ledger: RunLedger;
  /** Where messages go. */
  log: Logger;
  /** Read the local mirror first. */
  useLocalFiles: boolean;
  /** Stops the whole run (the archive is down, the store is full). */
  stop: (why: string) => void;
}

/** Gets arrays into the store, one call each (see the module doc). */
export class ArrayFetcher {
  /** The archive's state over the run. */
  readonly breaker: ArchiveBreaker;
  /** Why the store cannot take more, or "" (a full disk: the run stops with `error`). */
  storeMessage = "";
  #c: FetchContext;

  /** @param context the run's pieces */
  constructor(context: FetchContext) {
    this.#c = context;
    this.breaker = new ArchiveBreaker(breakerLimit(context.cfg.maxConnections));
  }

  /** True when the archive was given up on but the run goes on with local files. */
  get archiveDown(): boolean {
    return this.breaker.tripped && this.#c.useLocalFiles;
  }

  /** Gets one array into the store and records the outcome; never throws. */
  async storeArray(job: ArrayJob, signal: AbortSignal): Promise<Artifact["action"] | "aborted"> {
    const { cfg, log } = this.#c;
    const url = archiveUrl(cfg.baseUrl, job.skycell, job.band, job.kind);
    if (this.#c.useLocalFiles) {
      const local = await this.#fromMirror(job, signal);
      if (local !== null) return local;
    }
    if (this.archiveDown) {
      this.#fail(
        job,
        url,
        `not in the local mirror, and the archive is not asked again (${this.breaker.message})`,
      );
      return "failed";
    }
    // A body that passes the HTTP checks but fails the FITS checksum or decode is fetched again.
    const attempts = 1 + Math.min(2, cfg.retries);
    let lastError = "";
    for (let attempt = 1; attempt <= attempts && !signal.aborted; attempt++) {
      const spoolFile = path.join(this.#c.spool, `${job.skycell}.${job.name}.${attempt}.fits`);
      let geometry: ImageGeometry | undefined;
      let finalUrl = "";
      try {
        ({ finalUrl } = await this.#c.client.fetchToFile(url, spoolFile, {
          signal,
          onBytes: (n) => this.#c.ledger.downloaded(n),
          validate: async (p) => void (geometry = await peekImage(p, url)),
        }));
      } catch (err) {
        if (err instanceof FetchAbortedError || signal.aborted) return "aborted";
        if (err instanceof NotFoundError) {
          this.#c.ledger.missingUpstream(job, url);
          log.warn(`not in the archive (HTTP ${err.status}): ${url}`);
          return "missingUpstream";
        }
        this.#downloadFailed(job, url, (err as Error).message);
        return "failed";
      }
      this.breaker.succeeded();
      try {
        return (await this.#c.ingester.ingest(job, spoolFile, finalUrl || url, geometry)).action;
      } catch (err) {
        if (signal.aborted) return "aborted";
        if (isStoreFailure(err)) return this.#storeFailed(job, url, err as Error);
        lastError = (err as Error).message;
        // The archive serving another file under this name will serve it again: no second try.
        if (err instanceof IdentityMismatchError) break;
        if (attempt < attempts) {
          this.#c.ledger.counters.redownloads++;
          log.warn(`${url}: ${lastError}; fetching again`);
        }
      } finally {
        await fs.rm(spoolFile, { force: true });
      }
    }
    if (signal.aborted) return "aborted";
    this.#fail(job, url, lastError);
    return "failed";
  }

  /** The local file's outcome, or null when it is absent or not right (then the archive is asked). */
  async #fromMirror(job: ArrayJob, signal: AbortSignal): Promise<Artifact["action"] | "aborted" | null> {
    const local = localPath(this.#c.cfg.localRoot, job.skycell, job.band, job.kind);
    const st = await fs.stat(local).catch(() => null);
    if (!st?.isFile()) {
      this.#c.log.debug(`${local}: not in the local mirror; fetching from the archive`);
      return null;
    }
    try {
      const { done, action } = await this.#c.ingester.ingest(job, local, local);
      this.#c.ledger.counters.bytesLocal += done.sourceBytes;
      return action;
    } catch (err) {
      if (signal.aborted) return "aborted";
      if (isStoreFailure(err)) return this.#storeFailed(job, local, err as Error);
      const what = err instanceof IdentityMismatchError ? "not the file asked for" : "unreadable";
      this.#c.log.warn(`${local}: ${what} (${(err as Error).message}); fetching from the archive`);
      return null;
    }
  }

  /** A failure of the store itself: recorded, and the whole run stops (status `error`). */
  #storeFailed(job: ArrayJob, source: string, err: Error): "failed" {
    this.#fail(job, source, err.message);
    if (!this.storeMessage) {
      this.storeMessage = `stopped: the store cannot take more (${err.message})`;
      this.#c.log.error(this.storeMessage);
      this.#c.stop(this.storeMessage);
    }
    return "failed";
  }

  #downloadFailed(job: ArrayJob, url: string, message: string): void {
    this.#fail(job, url, message);
    if (!this.breaker.failed(this.#c.cfg.baseUrl, message)) return;
    if (this.#c.useLocalFiles) {
      // Local first means local first: stop asking the archive, keep ingesting the mirror's files.
      this.#c.log.error(`${this.breaker.message}; the archive is not asked again, local files still are`);
    } else {
      this.breaker.message = `stopped after ${this.breaker.message}`;
      this.#c.log.error(this.breaker.message);
      this.#c.stop(this.breaker.message);
    }
  }

  #fail(job: ArrayJob, source: string, error: string): void {
    this.#c.ledger.fail(job, source, error);
    this.#c.log.error(`${job.skycell} ${job.name}: ${error}`);
  }
}
