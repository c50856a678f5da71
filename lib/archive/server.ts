/**
 * A local HTTP server that imitates the PS1 archive: it serves a directory tree laid out like the archive
 * (the same tree as a local mirror) at
 * `{url}/{PPPP}/{CCC}/rings.v3.skycell.{PPPP}.{CCC}.stk.{band}.unconv[.mask|.wt].fits`, with
 * `Content-Length`, `HEAD`, and fault injection (see `faults.ts`). It binds to 127.0.0.1 only. Tests, the
 * demo and the benchmarks download from it.
 *
 * @example
 * ```ts ignore
 * import { startLocalArchive } from "./server.ts";
 * const archive = await startLocalArchive({ root: "data/ps1_skycells" });
 * // archive.url === "http://127.0.0.1:<port>/rings.v3.skycell"
 * await archive.close();
 * ```
 * @module
 */

import * as path from "node:path";
import { type Fault, FaultInjector, type FaultPlan, seededRandom } from "./faults.ts";

/** Options of {@link startLocalArchive}. */
export interface LocalArchiveOptions {
  /** Directory holding `{PPPP}/{CCC}/<file>`. */
  root: string;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** URL path the tree is served under (default `/rings.v3.skycell`, as the real archive). */
  prefix?: string;
  /** Faults to inject. */
  faults?: FaultPlan;
  /** Seed of random faults and byte corruption (overrides `faults.random.seed`). */
  seed?: number;
  /** Bytes per body chunk (default 256 KiB). */
  chunkSize?: number;
}

/** Request counters of the server. */
export interface LocalArchiveStats {
  /** Requests received (any path, any method). */
  requests: number;
  /** Responses in progress now (headers sent, body not finished). */
  inFlight: number;
  /** The most responses ever in progress at once. */
  maxInFlight: number;
  /** Body bytes sent. */
  bytesSent: number;
  /** Responses per status code. */
  byStatus: Record<string, number>;
  /** Faults injected per kind. */
  faults: Record<string, number>;
  /** Distinct client connections seen (by remote port): few when the client keeps connections alive. */
  connections: number;
}

/** A running local archive. */
export interface LocalArchive {
  /** Base URL of the skycell tree, e.g. `http://127.0.0.1:41234/rings.v3.skycell`. */
  url: string;
  /** The port bound. */
  port: number;
  /** Requests per path under the base (`PPPP/CCC/<file>`), counted for every request of a valid path. */
  hits: Map<string, number>;
  /** A snapshot of the counters. */
  stats(): LocalArchiveStats;
  /** Replaces the fault plan (hit counts are kept). */
  setFaults(plan: FaultPlan | undefined): void;
  /** Stops accepting requests, ends stalled and slow responses, and waits for the server to finish. */
  close(): Promise<void>;
}

const FILE_PATTERN =
  /^(\d{4})\/(\d{3})\/rings\.v3\.skycell\.(\d{4})\.(\d{3})\.stk\.[grizy]\.unconv(\.mask|\.wt)?\.fits$/;

/** True when `relPath` is a file path of the archive layout (`PPPP/CCC/rings.v3.skycell.PPPP.CCC...`). */
export function isArchivePath(relPath: string): boolean {
  const m = FILE_PATTERN.exec(relPath);
  return m !== null && m[1] === m[3] && m[2] === m[4];
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Starts the local archive on 127.0.0.1 and resolves once it listens. */
export async function startLocalArchive(opts: LocalArchiveOptions): Promise<LocalArchive> {
  const root = path.resolve(opts.root);
  const rootInfo = await Deno.stat(root).catch(() => null);
  if (!rootInfo?.isDirectory) throw new Deno.errors.NotFound(`archive root is not a directory: ${root}`);
  const prefix = (opts.prefix ?? "/rings.v3.skycell").replace(/\/+$/, "");
  const chunkSize = opts.chunkSize ?? 256 * 1024;
  const seed = opts.seed ?? opts.faults?.random?.seed ?? 1;
  const withSeed = (plan?: FaultPlan): FaultPlan | undefined =>
    plan?.random ? { ...plan, random: { ...plan.random, seed } } : plan;
  let injector = new FaultInjector(withSeed(opts.faults));
  const hits = new Map<string, number>();
  const stats: LocalArchiveStats = {
    requests: 0,
    inFlight: 0,
    maxInFlight: 0,
    bytesSent: 0,
    byStatus: {},
    faults: {},
    connections: 0,
  };
  const clientPorts = new Set<number>();
  // Streams still sending (stalled or slow ones included), ended at close().
  const open = new Set<() => void>();
  let closing = false;
  const closed = new AbortController();

  const begin = () => {
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      stats.inFlight--;
    };
  };
  const respond = (status: number, headers: HeadersInit = {}, body?: string | Uint8Array<ArrayBuffer>) => {
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    return new Response(body ?? null, { status, headers });
  };

  const handler = async (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> => {
    stats.requests++;
    if (!clientPorts.has(info.remoteAddr.port)) {
      clientPorts.add(info.remoteAddr.port);
      stats.connections = clientPorts.size;
    }
    const end = begin();
    let streaming = false;
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return respond(405, { allow: "GET, HEAD" });
      const pathname = new URL(req.url).pathname;
      if (!pathname.startsWith(prefix + "/")) return respond(404, {}, "not found\n");
      const rel = pathname.slice(prefix.length + 1);
      if (!isArchivePath(rel)) return respond(404, {}, "not found\n");
      const hit = (hits.get(rel) ?? 0) + 1;
      hits.set(rel, hit);
      const fault = injector.pick(rel, hit);
      if (fault) stats.faults[fault.kind] = (stats.faults[fault.kind] ?? 0) + 1;
      if (fault?.kind === "notFound") return respond(404, {}, "not found\n");
      if (fault?.kind === "status") return respond(fault.status, {}, `injected ${fault.status}\n`);
      if (fault?.kind === "rateLimit") {
        const seconds = fault.retryAfterSeconds ?? 1;
        const value = fault.retryAfterDate
          ? new Date(Date.now() + seconds * 1000).toUTCString()
          : String(seconds);
        return respond(429, { "retry-after": value }, "slow down\n");
      }
      const file = path.join(root, rel);
      let size: number;
      try {
        const info = await Deno.stat(file);
        if (!info.isFile) return respond(404, {}, "not found\n");
        size = info.size;
      } catch {
        return respond(404, {}, "not found\n");
      }
      const headers: Record<string, string> = {
        "content-type": "application/fits",
        "content-length": String(size),
      };
      if (req.method === "HEAD") return respond(200, headers);
      if (fault?.kind === "truncate" && fault.declareLength === false) delete headers["content-length"];
      if (fault?.kind === "endless") delete headers["content-length"];
      if (fault?.kind === "hugeLength") headers["content-length"] = String(fault.declaredLength ?? 2 ** 40);
      if (fault?.kind === "gzip") {
        // Encoded whatever the request accepts, as a misconfigured server or proxy would.
        const stream = (await Deno.open(file, { read: true })).readable.pipeThrough(
          new CompressionStream("gzip"),
        );
        const gz = new Uint8Array(await new Response(stream).arrayBuffer());
        headers["content-encoding"] = "gzip";
        headers["content-length"] = String(gz.length);
        stats.bytesSent += gz.length;
        return respond(200, headers, gz);
      }
      const body = fileBody(file, size, fault, hashString(rel) ^ Math.imul(hit, 0x9e3779b1) ^ seed, end);
      stats.byStatus[200] = (stats.byStatus[200] ?? 0) + 1;
      streaming = true;
      return new Response(body, { status: 200, headers });
    } finally {
      // A response with a file body ends when its stream does (fileBody calls `end`).
      if (!streaming) end();
    }
  };

  function fileBody(
    file: string,
    size: number,
    fault: Fault | null,
    corruptSeed: number,
    end: () => void,
  ): ReadableStream<Uint8Array> {
    let handle: Deno.FsFile | undefined;
    let sent = 0;
    const started = performance.now();
    let limit = size;
    if (fault?.kind === "reset") limit = Math.floor(size * (fault.fraction ?? 0.5));
    if (fault?.kind === "truncate") limit = Math.floor(size * (fault.fraction ?? 0.9));
    if (fault?.kind === "stall") limit = Math.min(size, fault.afterBytes ?? 0);
    let flips: Map<number, number> | undefined;
    if (fault?.kind === "corrupt") {
      const random = seededRandom(corruptSeed);
      flips = new Map();
      for (let k = 0; k < (fault.flips ?? 16); k++) {
        flips.set(Math.floor(random() * size), 1 + Math.floor(random() * 255));
      }
    }
    const chunk = fault?.kind === "slow"
      ? Math.max(1024, Math.min(chunkSize, Math.floor(fault.bytesPerSecond / 10)))
      : fault?.kind === "trickle"
      ? fault.bytesPerTick ?? 1
      : chunkSize;
    const endless = fault?.kind === "endless";
    // Waits `ms`, or less when close() or the client's cancel wakes the stream.
    const pause = (ms: number) => Promise.race([sleep(ms), new Promise<void>((resolve) => (wake = resolve))]);
    let wake: (() => void) | undefined;
    let cancelled = false;
    const finish = () => {
      handle?.close();
      handle = undefined;
      open.delete(stop);
      end();
    };
    const stop = () => wake?.();
    open.add(stop);
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          if (closing) {
            finish();
            controller.close();
            return;
          }
          if (endless) {
            // Zero bytes forever, until the client stops reading or the server closes.
            await pause(0);
            if (cancelled) return;
            sent += chunk;
            stats.bytesSent += chunk;
            controller.enqueue(new Uint8Array(chunk));
            return;
          }
          if (sent >= limit) {
            if (fault?.kind === "stall") {
              // Headers (and `afterBytes`) are out; wait for close() without sending more.
              await new Promise<void>((resolve) => (wake = resolve));
            }
            finish();
            if (cancelled) return;
            controller.close();
            return;
          }
          handle ??= await Deno.open(file, { read: true });
          const buf = new Uint8Array(Math.min(chunk, limit - sent));
          let got = 0;
          while (got < buf.length) {
            const n = await handle.read(buf.subarray(got));
            if (n === null) break;
            got += n;
          }
          if (got === 0) {
            finish();
            controller.close();
            return;
          }
          if (flips) {
            for (const [at, mask] of flips) if (at >= sent && at < sent + got) buf[at - sent] ^= mask;
          }
          if (fault?.kind === "slow") {
            const due = ((sent + got) / fault.bytesPerSecond) * 1000 - (performance.now() - started);
            if (due > 0) await pause(due);
          }
          if (fault?.kind === "trickle" && sent > 0) await pause(fault.intervalMs ?? 1000);
          if (cancelled) return;
          sent += got;
          stats.bytesSent += got;
          controller.enqueue(got === buf.length ? buf : buf.subarray(0, got));
        } catch (err) {
          finish();
          if (!cancelled) controller.error(err);
        }
      },
      cancel() {
        // The client went away: end a pending stall or throttle wait too.
        cancelled = true;
        wake?.();
        finish();
      },
    }, { highWaterMark: 0 });
  }

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    signal: closed.signal,
    onListen() {},
  }, handler);
  const port = server.addr.port;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    port,
    hits,
    stats: () => structuredClone(stats),
    setFaults(plan) {
      injector = new FaultInjector(withSeed(plan));
    },
    async close() {
      if (closing) return server.finished;
      closing = true;
      for (const stop of [...open]) stop();
      closed.abort();
      await server.finished;
    },
  };
}
