/**
 * A small pool of module Web Workers that run tasks one at a time each, in the order they were given.
 * The worker script answers every `{ id, task }` message with `{ id, result }` or `{ id, error }`
 * (see {@link serveTasks}). A worker that dies fails its task and is replaced.
 *
 * @example
 * ```ts ignore
 * const pool = new WorkerPool<Job, Done>(new URL("./my_worker.ts", import.meta.url), 2);
 * const done = await pool.run(job, [job.band.buffer]);
 * pool.close();
 * ```
 * @module
 */

interface Pending<R> {
  id: number;
  task: unknown;
  transfer: Transferable[];
  resolve: (r: R) => void;
  reject: (e: Error) => void;
}

/** An error as it crosses from a worker: its class name, message and system code survive. */
interface ErrorReply {
  name: string;
  message: string;
  code?: string;
}

type Reply<R> = { id: number; result: R } | { id: number; error: ErrorReply };

/**
 * An error thrown in a worker, rebuilt on this side with the same `name` (`StoreError`, `FitsError`,
 * `UnreadableError`, ...), message and system `code` (`ENOSPC`, ...), so callers can tell a full disk
 * from a bad file whichever thread met it.
 */
export class WorkerTaskError extends Error {
  /** The system error code of the original error, if any. */
  readonly code?: string;
  /**
   * Rebuilds the error.
   * @param reply what the worker sent
   */
  constructor(reply: ErrorReply) {
    super(reply.message);
    this.name = reply.name;
    if (reply.code) this.code = reply.code;
  }
}

function errorReply(err: unknown): ErrorReply {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const code = (err as { code?: unknown }).code ?? ((err.cause as { code?: unknown })?.code);
  return { name: err.name, message: err.message, ...(typeof code === "string" ? { code } : {}) };
}

/** Runs tasks on a fixed number of Web Workers. */
export class WorkerPool<T, R> {
  /** Number of workers. */
  readonly size: number;
  #url: URL;
  #idle: Worker[] = [];
  #all = new Set<Worker>();
  #queue: Pending<R>[] = [];
  #running = new Map<Worker, Pending<R>>();
  #nextId = 1;
  #closed = false;

  /**
   * A pool of `size` workers running the module at `url` (started when tasks arrive).
   * @param url the worker module
   * @param size workers (default: the number of cores)
   */
  constructor(url: URL, size: number = navigator.hardwareConcurrency || 1) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker count must be >= 1: ${size}`);
    this.size = size;
    this.#url = url;
  }

  /** Runs one task; `transfer` lists buffers handed to the worker (they are detached here). */
  run(task: T, transfer: Transferable[] = []): Promise<R> {
    if (this.#closed) return Promise.reject(new Error("worker pool is closed"));
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, task, transfer, resolve, reject });
      this.#pump();
    });
  }

  /** Tasks waiting for a worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Terminates the workers; running and queued tasks are rejected. */
  close(): void {
    this.#closed = true;
    for (const w of this.#all) {
      w.onmessage = null;
      w.onerror = null;
      w.terminate();
    }
    this.#all.clear();
    this.#idle = [];
    const running = [...this.#running.values()];
    this.#running.clear();
    for (const p of [...running, ...this.#queue.splice(0)]) p.reject(new Error("worker pool closed"));
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const worker = this.#idle.pop() ?? (this.#all.size < this.size ? this.#spawn() : undefined);
      if (!worker) return;
      this.#start(worker, this.#queue.shift()!);
    }
  }

  #spawn(): Worker {
    const worker = new Worker(this.#url, { type: "module" });
    this.#all.add(worker);
    return worker;
  }

  #start(worker: Worker, job: Pending<R>): void {
    this.#running.set(worker, job);
    const finish = (fn: () => void) => {
      worker.onmessage = null;
      worker.onerror = null;
      this.#running.delete(worker);
      fn();
      if (this.#all.has(worker)) this.#idle.push(worker);
      this.#pump();
    };
    worker.onmessage = (e: MessageEvent<Reply<R>>) => {
      const reply = e.data;
      if (reply.id !== job.id) return;
      finish(() =>
        "error" in reply ? job.reject(new WorkerTaskError(reply.error)) : job.resolve(reply.result)
      );
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      // The worker is in an unknown state: replace it.
      worker.terminate();
      this.#all.delete(worker);
      finish(() => job.reject(new Error(`worker failed: ${e.message}`)));
    };
    worker.postMessage({ id: job.id, task: job.task }, job.transfer);
  }
}

/**
 * The worker side: answers each task message with the handler's result. The handler returns the result
 * and the buffers to transfer back.
 */
export function serveTasks<T, R>(
  handler: (task: T) => Promise<[R, Transferable[]]> | [R, Transferable[]],
): void {
  const scope = self as unknown as {
    onmessage: ((e: MessageEvent<{ id: number; task: T }>) => void) | null;
    postMessage(msg: unknown, transfer?: Transferable[]): void;
  };
  scope.onmessage = async (e) => {
    const { id, task } = e.data;
    try {
      const [result, transfer] = await handler(task);
      scope.postMessage({ id, result }, transfer);
    } catch (err) {
      scope.postMessage({ id, error: errorReply(err) });
    }
  };
}
