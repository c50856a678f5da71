/**
 * A FIFO counting semaphore whose waiters can be aborted: the archive client's limit on requests in
 * flight, and the download's limit on arrays in flight.
 *
 * @example
 * ```ts
 * import { Semaphore } from "./semaphore.ts";
 * const slots = new Semaphore(2);
 * await slots.acquire();
 * slots.release();
 * ```
 * @module
 */

/** A FIFO counting semaphore whose waiters can be aborted. */
export class Semaphore {
  #free: number;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  /** @param n how many holders at once */
  constructor(n: number) {
    this.#free = n;
  }

  /** Waiters in the queue. */
  get queued(): number {
    return this.#waiters.length;
  }

  /** Takes a slot when one is free now; true when taken. */
  tryAcquire(): boolean {
    if (this.#free > 0) {
      this.#free--;
      return true;
    }
    return false;
  }

  /**
   * Takes a slot, waiting in order. With `signal`, an abort removes the waiter and rejects with
   * `onAbort()` (default: the signal's reason).
   */
  acquire(signal?: AbortSignal, onAbort: () => unknown = () => signal?.reason): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", abort);
          resolve();
        },
        reject,
      };
      const abort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(onAbort());
      };
      if (signal?.aborted) return reject(onAbort());
      signal?.addEventListener("abort", abort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Gives a slot back (to the first waiter, if any). */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve();
    else this.#free++;
  }
}
