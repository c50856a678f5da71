/**
 * The ingest and commit stages of one array: the file must be what was asked for (its header's
 * identity), then a worker of the ingest pool decodes it band by band into a temp array through the store
 * module's write path (checking `DATASUM`/`CHECKSUM`), and the array is committed atomically with its
 * header and provenance. A file that is not right throws; nothing of it stays in the store.
 *
 * @example
 * ```ts ignore
 * const ingester = new ArrayIngester(store, pool, ledger, log, { overwrite: false });
 * const { action } = await ingester.ingest(job, "/spool/r.fits", url);
 * ```
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { type ImageGeometry, peekImage } from "../fits/peek.ts";
import { checkIdentity } from "../ps1/identity.ts";
import { dtypeOf } from "../store/layout.ts";
import { defaultChunks } from "../zarr/metadata.ts";
import type { WorkerPool } from "../zarr/pool.ts";
import type { ZarrStore } from "../zarr/store.ts";
import type { IngestDone, IngestTask } from "./ingest_worker.ts";
import type { ArrayJob } from "./plan.ts";
import type { RunLedger } from "./result.ts";

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

/** `work`, or a rejection as soon as `signal` aborts (a Ctrl-C never waits for a decode to finish). */
function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(new Error("interrupted"));
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(new Error("interrupted"));
    signal.addEventListener("abort", stop, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", stop));
  });
}

/** Ingests FITS files into the store and commits them (see the module doc). */
export class ArrayIngester {
  #store: ZarrStore;
  #pool: WorkerPool<IngestTask, IngestDone>;
  #ledger: RunLedger;
  #log: Logger;
  #overwrite: boolean;
  #signal?: AbortSignal;

  /**
   * @param store the store
   * @param pool the decoding workers
   * @param ledger where outcomes and counters go
   * @param log where warnings go
   * @param opts `overwrite`: replace a complete array another process finished meanwhile; `signal`: stop
   * waiting for a decode at once (the run is being interrupted; the pool's workers are terminated after)
   */
  constructor(
    store: ZarrStore,
    pool: WorkerPool<IngestTask, IngestDone>,
    ledger: RunLedger,
    log: Logger,
    opts: { overwrite: boolean; signal?: AbortSignal },
  ) {
    this.#store = store;
    this.#pool = pool;
    this.#ledger = ledger;
    this.#log = log;
    this.#overwrite = opts.overwrite;
    this.#signal = opts.signal;
  }

  /**
   * Decodes `file` into a temp array for `job` and commits it; records the outcome. `known` is the
   * geometry a download's validation already read. Throws {@link IdentityMismatchError} for another
   * skycell's, band's or kind's file, and the decoder's or the store's error otherwise.
   */
  async ingest(
    job: ArrayJob,
    file: string,
    source: string,
    known?: ImageGeometry,
  ): Promise<{ done: IngestDone; action: "written" | "kept" }> {
    const geometry = known ?? await peekImage(file, source);
    const mismatch = checkIdentity(geometry.identity, {
      skycell: job.skycell,
      band: job.band,
      kind: job.kind,
    });
    if (mismatch) throw new IdentityMismatchError(`${source}: ${mismatch}`);
    const shape: [number, number] = [geometry.height, geometry.width];
    const spec = { shape, dtype: dtypeOf(job.kind), chunks: defaultChunks(shape) };
    const build = await this.#store.beginArray(job.group, job.name, spec);
    let done: IngestDone;
    try {
      done = await untilAborted(
        this.#pool.run({ fitsPath: file, source, build: build.handle() }),
        this.#signal,
      );
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
    }, { keepComplete: !this.#overwrite });
    this.#ledger.counters.bytesDecoded += done.decodedBytes;
    this.#ledger.counters.bytesStored += done.bytes;
    const action = committed.kept ? "kept" : "written";
    if (committed.kept) {
      this.#log.info(`${committed.path}: completed meanwhile by another process; kept that copy`);
    }
    this.#ledger.record(job, action, source, done.sourceBytes);
    return { done, action };
  }
}
