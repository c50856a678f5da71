import { assertEquals, assertRejects } from "../ps1/_assert.ts";
import {
  ArchiveClient,
  type ArchiveClientOptions,
  type ArchiveEvent,
  FetchAbortedError,
  FetchError,
  NotFoundError,
  parseRetryAfter,
} from "../../lib/ps1/archive_client.ts";
import { type LocalArchive, startLocalArchive } from "../../lib/archive/server.ts";
import type { Fault, FaultPlan } from "../../lib/archive/faults.ts";
import { makeTree, sameBytes, type TestTree } from "./_tree.ts";

const FAST: ArchiveClientOptions = { retries: 4, backoffMs: 10, maxBackoffMs: 40, timeoutMs: 2000 };

async function withArchive(
  files: number,
  size: number,
  faults: FaultPlan | undefined,
  fn: (archive: LocalArchive, tree: TestTree) => Promise<void>,
): Promise<void> {
  const tree = await makeTree(files, size);
  const archive = await startLocalArchive({ root: tree.root, faults });
  try {
    await fn(archive, tree);
  } finally {
    await archive.close();
    await tree.remove();
  }
}

function firstFile(tree: TestTree): [string, Uint8Array] {
  return [...tree.files][0];
}

function faultOnce(fault: Fault, times = 1): FaultPlan {
  return { rules: [{ match: "*.fits", fault, times }] };
}

/** Downloads the first file with a byte-exact validation, returns events and elapsed time. */
async function fetchChecked(archive: LocalArchive, tree: TestTree, opts: ArchiveClientOptions = FAST) {
  const [rel, bytes] = firstFile(tree);
  const events: ArchiveEvent[] = [];
  const client = new ArchiveClient({ ...opts, onEvent: (e) => events.push(e) });
  const t0 = performance.now();
  const got = await client.fetchFile(`${archive.url}/${rel}`, {
    validate: (b) => {
      if (!sameBytes(b, bytes)) throw new Error("bytes differ from the source");
    },
  });
  return { got, events, ms: performance.now() - t0, stats: client.stats(), hits: archive.hits.get(rel) };
}

Deno.test("a clean download matches the source and counts bytes and statuses", async () => {
  await withArchive(1, 300_000, undefined, async (archive, tree) => {
    const r = await fetchChecked(archive, tree);
    assertEquals(sameBytes(r.got, firstFile(tree)[1]), true);
    assertEquals([r.stats.requests, r.stats.retries, r.stats.bytes, r.stats.byStatus], [1, 0, 300_000, {
      "200": 1,
    }]);
  });
});

Deno.test("sequential downloads reuse one keep-alive connection", async () => {
  await withArchive(6, 50_000, undefined, async (archive, tree) => {
    const client = new ArchiveClient(FAST);
    for (const [rel, bytes] of tree.files) {
      assertEquals(sameBytes(await client.fetchFile(`${archive.url}/${rel}`), bytes), true);
    }
    // Without keep-alive each request opens a connection (6); with it one is reused, or now and then a
    // second when the first has not gone back to fetch's pool yet.
    const { requests, connections } = archive.stats();
    assertEquals(requests, 6);
    assertEquals(connections <= 2, true, `${connections} connections for 6 sequential requests`);
  });
});

Deno.test("503 and 500 for the first tries end in success after retries", async () => {
  for (const status of [500, 503]) {
    await withArchive(1, 10_000, faultOnce({ kind: "status", status }, 2), async (archive, tree) => {
      const r = await fetchChecked(archive, tree);
      assertEquals([r.hits, r.stats.retries, r.stats.byStatus], [3, 2, { [status]: 2, "200": 1 }]);
      assertEquals(r.events.filter((e) => e.type === "retry").map((e) => (e as { reason: string }).reason), [
        `HTTP ${status}`,
        `HTTP ${status}`,
      ]);
    });
  }
});

Deno.test("429 Retry-After (seconds and HTTP date) is honoured over the backoff", async () => {
  await withArchive(
    1,
    10_000,
    faultOnce({ kind: "rateLimit", retryAfterSeconds: 1 }),
    async (archive, tree) => {
      const r = await fetchChecked(archive, tree);
      const retry = r.events.find((e) => e.type === "retry") as { retryAfterMs?: number; delayMs: number };
      assertEquals([retry.retryAfterMs, retry.delayMs], [1000, 1000]);
      assertEquals(r.ms >= 950, true);
    },
  );
  await withArchive(
    1,
    10_000,
    faultOnce({ kind: "rateLimit", retryAfterSeconds: 2, retryAfterDate: true }),
    async (archive, tree) => {
      const r = await fetchChecked(archive, tree, { ...FAST, maxRetryAfterMs: 300 });
      const retry = r.events.find((e) => e.type === "retry") as { retryAfterMs?: number; delayMs: number };
      // An HTTP date has one-second resolution; the cap limits the wait.
      assertEquals(retry.retryAfterMs! > 500 && retry.retryAfterMs! <= 2000, true);
      assertEquals(retry.delayMs, 300);
    },
  );
  assertEquals(parseRetryAfter("7"), 7000);
  assertEquals(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.UTC(2015, 9, 21, 7, 27, 30)), 30_000);
  assertEquals(parseRetryAfter("soon"), undefined);
});

Deno.test("a reset or truncated body is retried and the result is exact", async () => {
  const faults: Fault[] = [{ kind: "reset" }, { kind: "truncate" }, { kind: "truncate", fraction: 0.2 }];
  for (const fault of faults) {
    await withArchive(1, 1_000_000, faultOnce(fault), async (archive, tree) => {
      const r = await fetchChecked(archive, tree);
      assertEquals([r.hits, r.stats.retries], [2, 1], fault.kind);
      assertEquals(sameBytes(r.got, firstFile(tree)[1]), true);
    });
  }
});

Deno.test("a short body without Content-Length is caught by validate; corrupted bytes too", async () => {
  const faults: Fault[] = [{ kind: "truncate", declareLength: false }, { kind: "corrupt", flips: 4 }];
  for (const fault of faults) {
    await withArchive(1, 200_000, faultOnce(fault), async (archive, tree) => {
      const r = await fetchChecked(archive, tree);
      assertEquals([r.hits, r.stats.retries, r.stats.errors], [2, 1, { corrupt: 1 }], fault.kind);
      const retry = r.events.find((e) => e.type === "retry") as { reason: string };
      assertEquals(retry.reason, "corrupt body: bytes differ from the source");
    });
  }
});

Deno.test("a stalled body is aborted by the idle timeout and retried", async () => {
  await withArchive(1, 100_000, faultOnce({ kind: "stall", afterBytes: 1000 }), async (archive, tree) => {
    const r = await fetchChecked(archive, tree, { ...FAST, timeoutMs: 300 });
    assertEquals([r.hits, r.stats.errors], [2, { timeout: 1 }]);
    assertEquals(r.ms >= 290 && r.ms < 3000, true);
    const retry = r.events.find((e) => e.type === "retry") as { reason: string };
    assertEquals(retry.reason.startsWith("idle timeout: no data for 300 ms"), true);
  });
});

Deno.test("slow bandwidth still completes and the idle timer restarts on each chunk", async () => {
  // 200 kB at 400 kB/s takes about 0.5 s, longer than the 300 ms idle timeout, but data keeps coming.
  await withArchive(
    1,
    200_000,
    faultOnce({ kind: "slow", bytesPerSecond: 400_000 }),
    async (archive, tree) => {
      const r = await fetchChecked(archive, tree, { ...FAST, timeoutMs: 300 });
      assertEquals([r.hits, r.stats.retries], [1, 0]);
      assertEquals(r.ms >= 400, true);
    },
  );
});

Deno.test("404 is not retried and raises NotFoundError", async () => {
  await withArchive(1, 1000, faultOnce({ kind: "notFound" }, 100), async (archive, tree) => {
    const [rel] = firstFile(tree);
    const client = new ArchiveClient(FAST);
    const err = await assertRejects(() => client.fetchFile(`${archive.url}/${rel}`), NotFoundError);
    assertEquals((err as NotFoundError).status, 404);
    assertEquals([archive.hits.get(rel), client.stats().notFound, client.stats().retries], [1, 1, 0]);
    // A file that is absent from the tree is a plain 404 too.
    await assertRejects(
      () => client.fetchFile(`${archive.url}/2556/050/rings.v3.skycell.2556.050.stk.r.unconv.fits`),
      NotFoundError,
    );
  });
});

Deno.test("a permanent 503 gives a FetchError after the retry budget", async () => {
  await withArchive(1, 1000, faultOnce({ kind: "status", status: 503 }, 100), async (archive, tree) => {
    const [rel] = firstFile(tree);
    const client = new ArchiveClient({ ...FAST, retries: 3 });
    const err = await assertRejects(
      () => client.fetchFile(`${archive.url}/${rel}`),
      FetchError,
    ) as FetchError;
    assertEquals([err.attempts, err.status, archive.hits.get(rel)], [4, 503, 4]);
    assertEquals(err.message.includes("HTTP 503") && err.message.includes("gave up after 4 attempts"), true);
  });
});

Deno.test("other 4xx statuses fail at once with the status", async () => {
  await withArchive(1, 1000, faultOnce({ kind: "status", status: 403 }, 100), async (archive, tree) => {
    const [rel] = firstFile(tree);
    const client = new ArchiveClient(FAST);
    const err = await assertRejects(
      () => client.fetchFile(`${archive.url}/${rel}`),
      FetchError,
    ) as FetchError;
    assertEquals([err.attempts, err.status, archive.hits.get(rel), client.stats().failures], [1, 403, 1, 1]);
  });
});

Deno.test("a dead host (connection refused) ends with a clear error within the retry budget", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const client = new ArchiveClient({ retries: 3, backoffMs: 20, maxBackoffMs: 50, connectTimeoutMs: 1000 });
  const t0 = performance.now();
  const err = await assertRejects(
    () => client.fetchFile(`http://127.0.0.1:${port}/rings.v3.skycell/x.fits`),
    FetchError,
  ) as FetchError;
  assertEquals(performance.now() - t0 < 3000, true);
  assertEquals(err.attempts, 4);
  assertEquals(err.message.includes("network error"), true);
  assertEquals(client.stats().errors, { network: 4 });
});

Deno.test("no more than maxConnections requests in flight, measured at the server", async () => {
  // Slow bodies make the requests overlap.
  await withArchive(
    9,
    20_000,
    faultOnce({ kind: "slow", bytesPerSecond: 100_000 }, 100),
    async (archive, tree) => {
      const client = new ArchiveClient({ ...FAST, maxConnections: 3 });
      const results = await Promise.all(
        [...tree.files].map(([rel, bytes]) =>
          client.fetchFile(`${archive.url}/${rel}`).then((b) => sameBytes(b, bytes))
        ),
      );
      assertEquals(results.every(Boolean), true);
      assertEquals(archive.stats().maxInFlight, 3);
      assertEquals(client.stats().maxInFlight, 3);
    },
  );
});

Deno.test("an abort signal ends a stalled download and queued ones promptly", async () => {
  await withArchive(3, 50_000, faultOnce({ kind: "stall" }, 100), async (archive, tree) => {
    const controller = new AbortController();
    const client = new ArchiveClient({ ...FAST, maxConnections: 1, timeoutMs: 60_000 });
    const t0 = performance.now();
    const all = [...tree.files.keys()].map((rel) =>
      client.fetchFile(`${archive.url}/${rel}`, { signal: controller.signal }).then(() => "ok", (e) => e)
    );
    setTimeout(() => controller.abort(), 150);
    const outcomes = await Promise.all(all);
    assertEquals(outcomes.every((e) => e instanceof FetchAbortedError), true);
    assertEquals(performance.now() - t0 < 1500, true);
  });
});

Deno.test("random faults from a seed: every file ends exact after retries", async () => {
  await withArchive(8, 60_000, { random: { rate: 0.5, seed: 11, maxPerPath: 2 } }, async (archive, tree) => {
    const client = new ArchiveClient({ ...FAST, maxConnections: 4 });
    for (const [rel, bytes] of tree.files) {
      const got = await client.fetchFile(`${archive.url}/${rel}`, {
        validate: (b) => {
          if (!sameBytes(b, bytes)) throw new Error("bytes differ");
        },
      });
      assertEquals(sameBytes(got, bytes), true);
    }
    const injected = Object.values(archive.stats().faults).reduce((a, b) => a + b, 0);
    assertEquals(injected > 0, true);
    assertEquals(client.stats().retries, injected);
  });
});

Deno.test("fetchToFile streams to disk, head reports the size, a failed download leaves no file", async () => {
  await withArchive(1, 123_456, faultOnce({ kind: "reset" }), async (archive, tree) => {
    const [rel, bytes] = firstFile(tree);
    const dir = await Deno.makeTempDir();
    try {
      const client = new ArchiveClient(FAST);
      assertEquals(await client.head(`${archive.url}/${rel}`), { contentLength: 123_456 });
      const dest = `${dir}/f.fits`;
      assertEquals(await client.fetchToFile(`${archive.url}/${rel}`, dest), 123_456);
      assertEquals(sameBytes(await Deno.readFile(dest), bytes), true);
      archive.setFaults(faultOnce({ kind: "status", status: 502 }, 100));
      const noRetry = new ArchiveClient({ ...FAST, retries: 0 });
      await assertRejects(() => noRetry.fetchToFile(`${archive.url}/${rel}`, `${dir}/g.fits`), FetchError);
      assertEquals(await Deno.stat(`${dir}/g.fits`).then(() => true, () => false), false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
