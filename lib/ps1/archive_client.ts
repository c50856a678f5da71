/**
 * HTTP client for the PS1 archive, polite and robust:
 *
 * - at most `maxConnections` requests in flight across the client (one shared semaphore; a request waiting
 *   for a retry does not hold a slot), over fetch's keep-alive connection pool;
 * - a connect timeout (until the response headers) and an idle timeout that aborts a stalled body (the timer
 *   restarts on every received chunk);
 * - a low-speed rule (like curl's `--speed-limit`/`--speed-time`): a body that averages fewer than
 *   `lowSpeedBytesPerSecond` (default 1024) over a window of `lowSpeedSeconds` (default 30) is aborted and
 *   retried, so a trickle of a byte now and then cannot hold a connection forever;
 * - a size cap (`maxFileSize`, default 1 GiB): a `Content-Length` above it is refused before the transfer,
 *   and a body is aborted as soon as it passes it, neither retried;
 * - `Accept-Encoding: identity`: the bytes are the file; a response with another `Content-Encoding` is
 *   refused (not retried) rather than stored encoded;
 * - a request refused by Deno's permissions (`NotCapable`, `PermissionDenied`) fails at once, not retried;
 * - retries with exponential backoff and jitter on network errors, timeouts, 5xx, 408 and 429 (honouring
 *   `Retry-After` in seconds or as an HTTP date, capped); no retry on 404/410 ({@link NotFoundError}) or
 *   other 4xx;
 * - the body length checked against `Content-Length` (a short or long body is retried) and an optional `validate`
 *   callback (e.g. a FITS parse) whose failure counts as a corrupt body and is retried;
 * - an `AbortSignal` that ends everything promptly ({@link FetchAbortedError});
 * - events for logging and counters for statistics.
 *
 * @example
 * ```ts ignore
 * import { ArchiveClient } from "./archive_client.ts";
 * const client = new ArchiveClient({ maxConnections: 8, retries: 5, onEvent: (e) => console.error(e) });
 * const bytes = await client.fetchFile(url, { validate: (b) => void openImage(b) });
 * ```
 * @module
 */

import { Semaphore } from "../semaphore.ts";

/** Options of {@link ArchiveClient}. */
export interface ArchiveClientOptions {
  /** Requests in flight at most (default 8). */
  maxConnections?: number;
  /** Retries after the first attempt (default 5). */
  retries?: number;
  /** Idle timeout: abort a body that receives nothing for this long, ms (default 60 000). */
  timeoutMs?: number;
  /** Connect timeout: abort when the response headers take longer, ms (default 30 000). */
  connectTimeoutMs?: number;
  /** First backoff delay, ms; doubled per retry, with jitter (default 1000). */
  backoffMs?: number;
  /** Longest backoff delay, ms (default 30 000). */
  maxBackoffMs?: number;
  /** Longest wait a `Retry-After` header can impose, ms (default 120 000). */
  maxRetryAfterMs?: number;
  /** Aborts every request of the client. */
  signal?: AbortSignal;
  /** Called for each event (requests, waits, retries, failures, completions). */
  onEvent?: (event: ArchiveEvent) => void;
  /** Called for each retry (the same object as the `retry` event). */
  onRetry?: (event: RetryEvent) => void;
  /** Random numbers in [0, 1) for the jitter (default Math.random). */
  random?: () => number;
  /** `User-Agent` header (default `ps1-zarr`). */
  userAgent?: string;
  /**
   * Largest body accepted, bytes (default 1 GiB = 2^30). A larger `Content-Length` is refused before the
   * transfer starts, and a body without one is aborted once it passes the cap; neither is retried.
   */
  maxFileSize?: number;
  /**
   * Low-speed floor, bytes per second (default 1024): a body averaging less over a window of
   * `lowSpeedSeconds` is aborted and the attempt retried. 0 turns the rule off.
   */
  lowSpeedBytesPerSecond?: number;
  /** Window of the low-speed rule, seconds (default 30). */
  lowSpeedSeconds?: number;
  /** Clock of the low-speed rule, ms (default `performance.now`); tests inject their own. */
  now?: () => number;
}

/** A retry about to happen after `delayMs`. */
export interface RetryEvent {
  /** Event kind. */
  type: "retry";
  /** The URL asked for. */
  url: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Wait before the next attempt, ms. */
  delayMs: number;
  /** Why the attempt failed, one line. */
  reason: string;
  /** HTTP status of the failed attempt, when it had one. */
  status?: number;
  /** Set when the delay comes from a `Retry-After` header. */
  retryAfterMs?: number;
}

/** What the client reports through `onEvent`. */
export type ArchiveEvent =
  | { type: "request"; url: string; attempt: number; method: "GET" | "HEAD" }
  | { type: "wait"; url: string; queued: number }
  | RetryEvent
  | { type: "notFound"; url: string }
  | { type: "failure"; url: string; attempts: number; error: Error }
  | { type: "done"; url: string; bytes: number; attempts: number; ms: number };

/** Counters of a client. */
export interface ArchiveStats {
  /** HTTP attempts made (GET and HEAD). */
  requests: number;
  /** Retries scheduled. */
  retries: number;
  /** Body bytes received, failed attempts included. */
  bytes: number;
  /** Files (or HEADs) that ended in success. */
  completed: number;
  /** Requests that ended in 404/410. */
  notFound: number;
  /** Requests that ended in failure after retries (or a non-retryable status). */
  failures: number;
  /** Responses per HTTP status. */
  byStatus: Record<string, number>;
  /** Failed attempts per cause: network, timeout, short-body, corrupt, status. */
  errors: Record<string, number>;
  /** Requests in flight now, and the most at once. */
  inFlight: number;
  /** The most requests in flight at once. */
  maxInFlight: number;
}

/** The archive has no such file (HTTP 404 or 410); not retried. */
export class NotFoundError extends Error {
  /** The URL asked for. */
  readonly url: string;
  /** @param url the URL asked for; @param status 404 or 410 */
  constructor(url: string, readonly status = 404) {
    super(`not found (HTTP ${status}): ${url}`);
    this.name = "NotFoundError";
    this.url = url;
  }
}

/** A request that failed for good: retries exhausted, or a status that is not worth retrying. */
export class FetchError extends Error {
  /** The URL asked for. */
  readonly url: string;
  /** Attempts made. */
  readonly attempts: number;
  /** HTTP status of the last attempt when it had one. */
  readonly status?: number;
  /** @param url the URL; @param attempts attempts made; @param reason the last failure, one line */
  constructor(url: string, attempts: number, reason: string, status?: number) {
    super(`${url}: ${reason} (gave up after ${attempts} attempt${attempts === 1 ? "" : "s"})`);
    this.name = "FetchError";
    this.url = url;
    this.attempts = attempts;
    this.status = status;
  }
}

/** The request was aborted through an AbortSignal. */
export class FetchAbortedError extends Error {
  /** The URL asked for. */
  readonly url: string;
  /** @param url the URL whose request was aborted */
  constructor(url: string) {
    super(`aborted: ${url}`);
    this.name = "AbortError";
    this.url = url;
  }
}

/** A failed attempt worth retrying. */
class TransientError extends Error {
  constructor(
    readonly cause_: string,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * A failed attempt not worth retrying: a 4xx other than 404/408/410/429, a body over the size cap, an
 * unexpected `Content-Encoding`, a request refused by Deno's permissions.
 */
class PermanentError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** The result of {@link ArchiveClient.fetchToFile}. */
export interface FetchToFileResult {
  /** Bytes written to the file. */
  bytes: number;
  /** The URL the body came from, after redirects (`Response.url`), for provenance. */
  finalUrl: string;
}

/** 1 GiB: the default {@link ArchiveClientOptions.maxFileSize}. */
export const DEFAULT_MAX_FILE_SIZE: number = 2 ** 30;

/** Options of one download. */
export interface FetchOptions {
  /** Aborts this request. */
  signal?: AbortSignal;
  /** Called with each received chunk's size (progress). */
  onBytes?: (n: number) => void;
}

/** Where a body goes during an attempt. */
interface BodySink<T> {
  begin(contentLength: number | null, finalUrl: string): Promise<void> | void;
  write(chunk: Uint8Array): Promise<void> | void;
  finish(): Promise<T> | T;
  abandon(): Promise<void> | void;
}

/**
 * Parses a `Retry-After` value (seconds, or an HTTP date) into milliseconds from `now`; undefined when it
 * is neither.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Downloads archive files with bounded concurrency, timeouts and retries. */
export class ArchiveClient {
  /** Requests in flight at most. */
  readonly maxConnections: number;
  /** Retries after the first attempt. */
  readonly retries: number;
  #opts: Required<
    Pick<
      ArchiveClientOptions,
      | "timeoutMs"
      | "connectTimeoutMs"
      | "backoffMs"
      | "maxBackoffMs"
      | "maxRetryAfterMs"
      | "userAgent"
      | "maxFileSize"
      | "lowSpeedBytesPerSecond"
      | "lowSpeedSeconds"
    >
  >;
  #now: () => number;
  #semaphore: Semaphore;
  #closer = new AbortController();
  #signal: AbortSignal;
  #onEvent?: (event: ArchiveEvent) => void;
  #onRetry?: (event: RetryEvent) => void;
  #random: () => number;
  #stats: ArchiveStats = {
    requests: 0,
    retries: 0,
    bytes: 0,
    completed: 0,
    notFound: 0,
    failures: 0,
    byStatus: {},
    errors: {},
    inFlight: 0,
    maxInFlight: 0,
  };

  /** @param opts limits, timeouts, retry policy, signal and callbacks */
  constructor(opts: ArchiveClientOptions = {}) {
    const maxConnections = opts.maxConnections ?? 8;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError(`maxConnections must be a positive integer: ${maxConnections}`);
    }
    const retries = opts.retries ?? 5;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new RangeError(`retries must be a non-negative integer: ${retries}`);
    }
    this.maxConnections = maxConnections;
    this.retries = retries;
    this.#opts = {
      timeoutMs: opts.timeoutMs ?? 60_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 30_000,
      backoffMs: opts.backoffMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 30_000,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? 120_000,
      userAgent: opts.userAgent ?? "ps1-zarr",
      maxFileSize: opts.maxFileSize ?? DEFAULT_MAX_FILE_SIZE,
      lowSpeedBytesPerSecond: opts.lowSpeedBytesPerSecond ?? 1024,
      lowSpeedSeconds: opts.lowSpeedSeconds ?? 30,
    };
    for (const [k, v] of Object.entries(this.#opts)) {
      if (typeof v === "number" && !(v >= 0)) throw new RangeError(`${k} must be >= 0: ${v}`);
    }
    this.#semaphore = new Semaphore(maxConnections);
    this.#signal = opts.signal ? AbortSignal.any([opts.signal, this.#closer.signal]) : this.#closer.signal;
    this.#onEvent = opts.onEvent;
    this.#onRetry = opts.onRetry;
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** A snapshot of the counters. */
  stats(): ArchiveStats {
    return structuredClone(this.#stats);
  }

  /** Aborts every request in progress or waiting; later requests fail with {@link FetchAbortedError}. */
  close(): void {
    this.#closer.abort();
  }

  /**
   * Downloads a file into memory. `validate` may throw to reject the bytes (retried as a corrupt body).
   * Throws {@link NotFoundError}, {@link FetchError} or {@link FetchAbortedError}.
   */
  fetchFile(
    url: string,
    opts: FetchOptions & { validate?: (bytes: Uint8Array) => void | Promise<void> } = {},
  ): Promise<Uint8Array> {
    return this.#run(url, "GET", opts, () => memorySink(), opts.validate);
  }

  /**
   * Downloads a file to `dest` (truncated at each attempt), streaming, so the body is never held in memory.
   * `validate` gets the path once the body is complete. Returns the byte count and the URL after redirects.
   * On failure the partial file is removed.
   */
  async fetchToFile(
    url: string,
    dest: string,
    opts: FetchOptions & { validate?: (path: string) => void | Promise<void> } = {},
  ): Promise<FetchToFileResult> {
    try {
      return await this.#run(
        url,
        "GET",
        opts,
        () => fileSink(dest),
        opts.validate && (() => opts.validate!(dest)),
      );
    } catch (err) {
      await Deno.remove(dest).catch(() => {});
      throw err;
    }
  }

  /** Asks for a file's size with HEAD (null when the server does not say). Same errors as fetchFile. */
  async head(url: string, opts: FetchOptions = {}): Promise<{ contentLength: number | null }> {
    const contentLength = await this.#run(url, "HEAD", opts, () => headSink());
    return { contentLength };
  }

  async #run<T>(
    url: string,
    method: "GET" | "HEAD",
    opts: FetchOptions,
    makeSink: () => BodySink<T>,
    validate?: (result: T) => void | Promise<void>,
  ): Promise<T> {
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.#signal]) : this.#signal;
    const started = performance.now();
    const stats = this.#stats;
    const aborted = () => new FetchAbortedError(url);
    for (let attempt = 1;; attempt++) {
      if (signal.aborted) throw aborted();
      if (!this.#semaphore.tryAcquire()) {
        this.#emit({ type: "wait", url, queued: this.#semaphore.queued + 1 });
        await this.#semaphore.acquire(signal, aborted);
      }
      let result: T;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        stats.requests++;
        this.#emit({ type: "request", url, attempt, method });
        const sink = makeSink();
        try {
          result = await this.#attempt(url, method, signal, sink, opts.onBytes);
        } catch (err) {
          await sink.abandon();
          throw err;
        }
      } catch (err) {
        stats.inFlight--;
        this.#semaphore.release();
        if (signal.aborted) throw aborted();
        if (err instanceof NotFoundError) {
          stats.notFound++;
          this.#emit({ type: "notFound", url });
          throw err;
        }
        if (!(err instanceof TransientError)) {
          stats.failures++;
          const error = err instanceof PermanentError
            ? new FetchError(url, attempt, err.message, err.status)
            : new FetchError(url, attempt, String((err as Error)?.message ?? err));
          this.#emit({ type: "failure", url, attempts: attempt, error });
          throw error;
        }
        await this.#retryOrGiveUp(url, attempt, err, signal);
        continue;
      }
      stats.inFlight--;
      this.#semaphore.release();
      if (validate) {
        try {
          await validate(result);
        } catch (err) {
          if (signal.aborted) throw aborted();
          const why = new TransientError("corrupt", `corrupt body: ${(err as Error).message ?? err}`);
          await this.#retryOrGiveUp(url, attempt, why, signal);
          continue;
        }
      }
      stats.completed++;
      const bytes = result instanceof Uint8Array
        ? result.length
        : typeof result === "object" && result !== null && "bytes" in result
        ? (result as unknown as FetchToFileResult).bytes
        : 0;
      this.#emit({ type: "done", url, bytes, attempts: attempt, ms: performance.now() - started });
      return result;
    }
  }

  async #retryOrGiveUp(
    url: string,
    attempt: number,
    err: TransientError,
    signal: AbortSignal,
  ): Promise<void> {
    const stats = this.#stats;
    stats.errors[err.cause_] = (stats.errors[err.cause_] ?? 0) + 1;
    if (attempt > this.retries) {
      stats.failures++;
      const error = new FetchError(url, attempt, err.message, err.status);
      this.#emit({ type: "failure", url, attempts: attempt, error });
      throw error;
    }
    const o = this.#opts;
    let delayMs: number;
    if (err.retryAfterMs !== undefined) {
      delayMs = Math.min(err.retryAfterMs, o.maxRetryAfterMs);
    } else {
      // Exponential backoff with "equal jitter": half fixed, half random, so clients spread out.
      const ceiling = Math.min(o.maxBackoffMs, o.backoffMs * 2 ** (attempt - 1));
      delayMs = ceiling / 2 + (this.#random() * ceiling) / 2;
    }
    stats.retries++;
    const event: RetryEvent = {
      type: "retry",
      url,
      attempt,
      delayMs: Math.round(delayMs),
      reason: err.message,
      status: err.status,
      retryAfterMs: err.retryAfterMs,
    };
    this.#emit(event);
    this.#onRetry?.(event);
    if (!(await abortableSleep(delayMs, signal))) throw new FetchAbortedError(url);
  }

  async #attempt<T>(
    url: string,
    method: "GET" | "HEAD",
    signal: AbortSignal,
    sink: BodySink<T>,
    onBytes?: (n: number) => void,
  ): Promise<T> {
    const o = this.#opts;
    const stats = this.#stats;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    let timedOut: string | null = null;
    let timer = setTimeout(() => {
      timedOut = `connect timeout: no response within ${o.connectTimeoutMs} ms`;
      controller.abort();
    }, o.connectTimeoutMs);
    let response: Response | undefined;
    try {
      try {
        response = await fetch(url, {
          method,
          signal: controller.signal,
          // identity: the body is the file byte for byte and Content-Length counts those bytes.
          headers: { "user-agent": o.userAgent, "accept-encoding": "identity" },
        });
      } catch (err) {
        if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
          throw new PermanentError(`not permitted: ${firstLine(err.message)}`);
        }
        throw this.#networkError(err, timedOut);
      }
      clearTimeout(timer);
      const status = response.status;
      stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
      if (status === 404 || status === 410) {
        await response.body?.cancel().catch(() => {});
        throw new NotFoundError(url, status);
      }
      if (status === 429 || status === 408 || status >= 500) {
        const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
        await response.body?.cancel().catch(() => {});
        stats.errors.status = stats.errors.status ?? 0;
        throw new TransientError("status", `HTTP ${status}`, status, retryAfterMs);
      }
      if (status < 200 || status >= 300) {
        await response.body?.cancel().catch(() => {});
        throw new PermanentError(`HTTP ${status}`, status);
      }
      const encoding = response.headers.get("content-encoding")?.trim().toLowerCase();
      if (encoding && encoding !== "identity") {
        throw new PermanentError(`unexpected Content-Encoding ${encoding} (asked for identity)`);
      }
      const lengthHeader = response.headers.get("content-length");
      const contentLength = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
      if (method === "GET" && contentLength !== null && contentLength > o.maxFileSize) {
        throw new PermanentError(
          `Content-Length ${contentLength} exceeds the maximum file size ${o.maxFileSize}`,
        );
      }
      await sink.begin(contentLength, response.url || url);
      if (method === "HEAD" || !response.body) {
        await response.body?.cancel().catch(() => {});
        return await sink.finish();
      }
      const reader = response.body.getReader();
      let received = 0;
      const armIdle = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = `idle timeout: no data for ${o.timeoutMs} ms after ${received} bytes`;
          controller.abort();
          reader.cancel().catch(() => {});
        }, o.timeoutMs);
      };
      armIdle();
      // Low-speed rule: the bytes of each window of lowSpeedSeconds (or a little more: it closes at the
      // first chunk after it) must average at least lowSpeedBytesPerSecond.
      const floor = o.lowSpeedBytesPerSecond;
      const windowMs = o.lowSpeedSeconds * 1000;
      let windowStart = floor > 0 ? this.#now() : 0;
      let windowBytes = 0;
      let complete = false;
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (err) {
            throw this.#networkError(err, timedOut, received, contentLength);
          }
          if (timedOut) throw new TransientError("timeout", timedOut);
          if (chunk.done) {
            complete = true;
            break;
          }
          armIdle();
          received += chunk.value.length;
          stats.bytes += chunk.value.length;
          onBytes?.(chunk.value.length);
          if (contentLength !== null && received > contentLength) {
            throw new TransientError("short-body", `body longer than Content-Length ${contentLength}`);
          }
          if (received > o.maxFileSize) {
            throw new PermanentError(`body exceeds the maximum file size ${o.maxFileSize}`);
          }
          if (floor > 0) {
            windowBytes += chunk.value.length;
            const t = this.#now();
            const elapsed = t - windowStart;
            if (elapsed >= windowMs) {
              if (windowBytes * 1000 < floor * elapsed) {
                const rate = (windowBytes * 1000) / elapsed;
                throw new TransientError(
                  "slow",
                  `too slow: ${rate.toFixed(1)} bytes/s over ${(elapsed / 1000).toFixed(1)} s ` +
                    `(floor ${floor} bytes/s) after ${received} bytes`,
                );
              }
              windowStart = t;
              windowBytes = 0;
            }
          }
          await sink.write(chunk.value);
        }
      } finally {
        clearTimeout(timer);
        // Drop the rest of a body we stopped reading, so the connection is not left half read.
        if (!complete) await reader.cancel().catch(() => {});
        reader.releaseLock();
      }
      if (contentLength !== null && received !== contentLength) {
        throw new TransientError("short-body", `short body: ${received} of ${contentLength} bytes`);
      }
      return await sink.finish();
    } catch (err) {
      if (response?.body && !response.bodyUsed) await response.body.cancel().catch(() => {});
      throw err;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  #networkError(err: unknown, timedOut: string | null, received?: number, total?: number | null): Error {
    if (timedOut) return new TransientError("timeout", timedOut);
    let message = err instanceof Error ? err.message : String(err);
    // fetch wraps the useful part (connection refused, DNS failure) in `cause`.
    const cause = err instanceof Error ? (err.cause as Error | undefined)?.message : undefined;
    if (cause && !message.includes(cause)) message += `: ${cause}`;
    const where = received !== undefined
      ? ` after ${received}${total !== null && total !== undefined ? ` of ${total}` : ""} bytes`
      : "";
    return new TransientError("network", `network error${where}: ${message}`);
  }

  #emit(event: ArchiveEvent): void {
    this.#onEvent?.(event);
  }
}

/** The first line of a message (Deno's permission errors carry hints on further lines). */
function firstLine(text: string): string {
  return text.split("\n", 1)[0].trim();
}

function memorySink(): BodySink<Uint8Array> {
  let buffer: Uint8Array | null = null;
  let chunks: Uint8Array[] | null = null;
  let at = 0;
  return {
    begin(contentLength) {
      // One allocation of the announced size; no growing copies.
      if (contentLength !== null) buffer = new Uint8Array(contentLength);
      else chunks = [];
    },
    write(chunk) {
      if (buffer) {
        buffer.set(chunk, at);
      } else {
        chunks!.push(chunk.slice());
      }
      at += chunk.length;
    },
    finish() {
      if (buffer) return buffer;
      const out = new Uint8Array(at);
      let o = 0;
      for (const c of chunks ?? []) {
        out.set(c, o);
        o += c.length;
      }
      return out;
    },
    abandon() {
      buffer = null;
      chunks = null;
    },
  };
}

function fileSink(dest: string): BodySink<FetchToFileResult> {
  let file: Deno.FsFile | null = null;
  let written = 0;
  let finalUrl = "";
  return {
    async begin(_contentLength, url) {
      finalUrl = url;
      file = await Deno.open(dest, { write: true, create: true, truncate: true });
    },
    async write(chunk) {
      let off = 0;
      while (off < chunk.length) off += await file!.write(chunk.subarray(off));
      written += chunk.length;
    },
    finish() {
      file?.close();
      file = null;
      return { bytes: written, finalUrl };
    },
    abandon() {
      file?.close();
      file = null;
    },
  };
}

function headSink(): BodySink<number | null> {
  let length: number | null = null;
  return {
    begin(contentLength) {
      length = contentLength;
    },
    write() {},
    finish: () => length,
    abandon() {},
  };
}
