/**
 * The store lock: an exclusive advisory `flock` on `{store}.lock`, a sibling of the store directory, the
 * same lock the Python tools take through the `filelock` package. It is held only around steps that
 * change the hierarchy (creating groups, renaming arrays into place, deleting), never while downloading
 * or encoding. Within one process, holders queue on a promise chain, so one `flock` is held at a time.
 *
 * The lock file is never deleted: removing it while another process waits on it would let two holders in.
 *
 * `run` is reentrant within one async call chain: a `run` inside another `run` of the same lock (e.g. a
 * store method that locks, called by code that already holds the lock to re-check something first) runs
 * directly instead of waiting for itself.
 *
 * @example
 * ```ts ignore
 * const lock = new StoreLock("data/ps1_skycells_zarr/ps1_skycells.zarr");
 * await lock.run(async () => { await Deno.rename(temp, final); });
 * ```
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import * as path from "node:path";
import { StoreError } from "./errors.ts";

/** Options of {@link StoreLock}. */
export interface StoreLockOptions {
  /** Give up after this long waiting, ms (default: wait forever). */
  timeoutMs?: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (lockPath: string) => void;
  /** Poll interval while another process holds it, ms (default 50, as filelock's). */
  pollMs?: number;
  /** Ends a wait for the lock (in this process's queue or for another process) with a {@link LockAbortedError}. */
  signal?: AbortSignal;
}

/** A wait for the store lock ended by its abort signal (Ctrl-C, SIGTERM, a run being stopped). */
export class LockAbortedError extends StoreError {
  /** @param lockPath the lock file waited for */
  constructor(lockPath: string) {
    super(`${lockPath}: stopped while waiting for the store lock`);
    this.name = "LockAbortedError";
  }
}

const chains = new Map<string, Promise<void>>();

// Which locks the current async call chain holds. A hold is marked released when its `run` ends, so a
// callback that outlives it (and inherits the context) takes the lock again.
const holding = new AsyncLocalStorage<Map<string, { held: boolean }>>();

/** The lock file path of a store: `{store}.lock`. */
export function lockPathOf(storePath: string): string {
  return path.resolve(storePath).replace(/\/+$/, "") + ".lock";
}

/** The exclusive lock of one store. */
export class StoreLock {
  /** Path of the lock file. */
  readonly path: string;
  #opts: StoreLockOptions;

  /**
   * The lock of the store at `storePath` (nothing is opened until {@link run}).
   * @param storePath the store directory
   * @param opts timeout, wait callback and poll interval
   */
  constructor(storePath: string, opts: StoreLockOptions = {}) {
    this.path = lockPathOf(storePath);
    this.#opts = opts;
  }

  /**
   * Runs `fn` while holding the lock (in-process queue first, then the file lock). `timeoutMs` bounds the
   * whole wait, in the queue and for the file lock.
   */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const held = holding.getStore();
    if (held?.get(this.path)?.held) return await fn();
    const start = Date.now();
    const previous = chains.get(this.path);
    let waited = false;
    if (previous) {
      this.#opts.onWait?.(this.path);
      waited = true;
    }
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const chain = (previous ?? Promise.resolve()).then(() => mine);
    chains.set(this.path, chain);
    try {
      if (previous) await this.#waitTurn(previous);
      const file = await this.#acquire(start, waited);
      const hold = { held: true };
      try {
        return await holding.run(new Map(held).set(this.path, hold), fn);
      } finally {
        hold.held = false;
        await file.unlock().catch(() => {});
        file.close();
      }
    } finally {
      release();
      if (chains.get(this.path) === chain) chains.delete(this.path);
    }
  }

  async #waitTurn(previous: Promise<void>): Promise<void> {
    const timeout = this.#opts.timeoutMs;
    const signal = this.#opts.signal;
    if (timeout === undefined && !signal) return await previous;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          reject(new StoreError(`${this.path}: store lock still held in this process after ${timeout} ms`));
        }, timeout);
      }
      onAbort = () => reject(new LockAbortedError(this.path));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([previous, stopped]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Sleeps `ms`, or less when the signal aborts (then throws {@link LockAbortedError}). */
  async #pause(ms: number): Promise<void> {
    const signal = this.#opts.signal;
    if (signal?.aborted) throw new LockAbortedError(this.path);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
    if (signal?.aborted) throw new LockAbortedError(this.path);
  }

  async #acquire(start: number, waited: boolean): Promise<Deno.FsFile> {
    await Deno.mkdir(path.dirname(this.path), { recursive: true });
    const file = await Deno.open(this.path, { read: true, write: true, create: true });
    try {
      if (await file.tryLock(true)) return file;
      if (!waited) this.#opts.onWait?.(this.path);
      const poll = this.#opts.pollMs ?? 50;
      while (true) {
        const timeout = this.#opts.timeoutMs;
        if (timeout !== undefined && Date.now() - start >= timeout) {
          throw new StoreError(`${this.path}: store lock still held by another process after ${timeout} ms`);
        }
        await this.#pause(poll);
        if (await file.tryLock(true)) return file;
      }
    } catch (err) {
      file.close();
      throw err;
    }
  }
}
