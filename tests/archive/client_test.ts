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
import { chunk, responseHead, startRawServer } from "./_raw_http.ts";

/** Quick retries; the connect and idle timeouts bound every request of a test that uses these options. */
const FAST: ArchiveClientOptions = {
  retries: 4,
  backoffMs: 10,
  maxBackoffMs: 40,
  timeoutMs: 2000,
  connectTimeoutMs: 5000,
};

/**
 * A deadline for a test's requests: aborting them turns a hang (a behaviour that broke) into a
 * FetchAbortedError, so the test fails instead of waiting forever.
 */
const DEADLINE_MS = 10_000;

/** `promise`, or a rejection naming `what` when it has not settled within the deadline. */
async function beforeDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

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

/** Downloads the first file with a byte-exact validation, returns events, chunk count and counters. */
async function fetchChecked(archive: LocalArchive, tree: TestTree, opts: ArchiveClientOptions = FAST) {
  const [rel, bytes] = firstFile(tree);
  const events: ArchiveEvent[] = [];
  const client = new ArchiveClient({ ...opts, onEvent: (e) => events.push(e) });
  let chunks = 0;
  const got = await client.fetchFile(`${archive.url}/${rel}`, {
    signal: AbortSignal.timeout(DEADLINE_MS),
    onBytes: () => chunks++,
    validate: (b) => {
      if (!sameBytes(b, bytes)) throw new Error("bytes differ from the source");
    },
  });
  return { got, events, chunks, stats: client.stats(), hits: archive.hits.get(rel) };
}

/** The kinds of the events, in order. */
const kinds = (events: ArchiveEvent[]) => events.map((e) => e.type);

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
      // The second request comes after the retry's wait, not before.
      assertEquals(kinds(r.events), ["request", "retry", "request", "done"]);
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
    // The first attempt got the 1000 bytes before the stall, the second the whole file.
    assertEquals(r.stats.bytes, 1000 + 100_000);
    const retry = r.events.find((e) => e.type === "retry") as { reason: string };
    assertEquals(retry.reason.startsWith("idle timeout: no data for 300 ms"), true);
  });
});

Deno.test("slow bandwidth still completes and the idle timer restarts on each chunk", async () => {
  // 200 kB at 400 kB/s comes in five 40 kB chunks, the server sending one each 100 ms: about 0.5 s in all,
  // longer than the 300 ms idle timeout, but data keeps coming.
  await withArchive(
    1,
    200_000,
    faultOnce({ kind: "slow", bytesPerSecond: 400_000 }),
    async (archive, tree) => {
      const r = await fetchChecked(archive, tree, { ...FAST, timeoutMs: 300 });
      assertEquals([r.hits, r.stats.retries, r.stats.errors], [1, 0, {}]);
      assertEquals(r.chunks >= 5, true, `${r.chunks} chunks`);
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
  const err = await assertRejects(
    () =>
      client.fetchFile(`http://127.0.0.1:${port}/rings.v3.skycell/x.fits`, {
        signal: AbortSignal.timeout(DEADLINE_MS),
      }),
    FetchError,
  ) as FetchError;
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
      // Counted by the server: responses in progress at once, never more than the limit.
      const server = archive.stats();
      assertEquals(server.requests, 9);
      assertEquals(server.maxInFlight <= 3, true, `${server.maxInFlight} responses in progress at once`);
      assertEquals(client.stats().maxInFlight, 3);
    },
  );
});

Deno.test("an abort signal ends a stalled download and queued ones promptly", async () => {
  await withArchive(3, 50_000, faultOnce({ kind: "stall" }, 100), async (archive, tree) => {
    const controller = new AbortController();
    // Abort once the first request is stalled and the two others wait for its slot.
    const client = new ArchiveClient({
      ...FAST,
      maxConnections: 1,
      timeoutMs: 60_000,
      onEvent: (e) => {
        if (e.type === "wait" && e.queued === 2) controller.abort();
      },
    });
    const all = [...tree.files.keys()].map((rel) =>
      client.fetchFile(`${archive.url}/${rel}`, { signal: controller.signal }).then(() => "ok", (e) => e)
    );
    // Promptly: long before the 60 s idle timeout, within the deadline.
    const outcomes = await beforeDeadline(Promise.all(all), "aborted downloads");
    assertEquals(outcomes.every((e) => e instanceof FetchAbortedError), true);
    assertEquals(client.stats().requests, 1);
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
      const url = `${archive.url}/${rel}`;
      assertEquals(await client.fetchToFile(url, dest), { bytes: 123_456, finalUrl: url });
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

Deno.test("410 is treated as missing (NotFoundError), not retried", async () => {
  await withArchive(1, 1000, faultOnce({ kind: "status", status: 410 }, 100), async (archive, tree) => {
    const [rel] = firstFile(tree);
    const client = new ArchiveClient(FAST);
    const err = await assertRejects(() => client.fetchFile(`${archive.url}/${rel}`), NotFoundError);
    assertEquals((err as NotFoundError).status, 410);
    assertEquals([archive.hits.get(rel), client.stats().notFound, client.stats().retries], [1, 1, 0]);
  });
});

Deno.test("408 Request Timeout is retried", async () => {
  await withArchive(1, 10_000, faultOnce({ kind: "status", status: 408 }), async (archive, tree) => {
    const r = await fetchChecked(archive, tree);
    assertEquals([r.hits, r.stats.retries, r.stats.byStatus], [2, 1, { "408": 1, "200": 1 }]);
    assertEquals(kinds(r.events), ["request", "retry", "request", "done"]);
  });
});

Deno.test("the backoff doubles from one retry to the next, up to its cap", async () => {
  await withArchive(1, 1000, faultOnce({ kind: "status", status: 503 }, 100), async (archive, tree) => {
    const [rel] = firstFile(tree);
    const delays: number[] = [];
    // random() = 0: no jitter above the fixed half, so the delays are exactly ceiling / 2.
    const client = new ArchiveClient({
      retries: 5,
      backoffMs: 4,
      maxBackoffMs: 40,
      random: () => 0,
      onRetry: (e) => delays.push(e.delayMs),
    });
    await assertRejects(() => client.fetchFile(`${archive.url}/${rel}`), FetchError);
    assertEquals(delays, [2, 4, 8, 16, 20]);
    assertEquals(delays.slice(1, 4).map((d, i) => d / delays[i]), [2, 2, 2]);
  });
});

Deno.test("a connect timeout fires when the server accepts the connection but never answers", async () => {
  // A listening socket that is never accepted: the kernel completes the handshake, nobody replies.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const events: ArchiveEvent[] = [];
    const client = new ArchiveClient({
      retries: 1,
      backoffMs: 5,
      connectTimeoutMs: 100,
      onEvent: (e) => events.push(e),
    });
    const err = await assertRejects(
      () => client.fetchFile(`http://127.0.0.1:${port}/x.fits`, { signal: AbortSignal.timeout(DEADLINE_MS) }),
      FetchError,
    ) as FetchError;
    assertEquals(err.attempts, 2);
    assertEquals(err.message.includes("connect timeout: no response within 100 ms"), true, err.message);
    assertEquals(client.stats().errors, { timeout: 2 });
    assertEquals(kinds(events), ["request", "retry", "request", "failure"]);
  } finally {
    listener.close();
  }
});

Deno.test("a complete-looking body of the wrong length is caught by the Content-Length check", async () => {
  // Chunked bodies with a Content-Length that disagrees: fetch delivers them whole and keeps the header.
  const body = new Uint8Array(1000).fill(7);
  for (
    const [declared, reason] of [[2000, "short body: 1000 of 2000 bytes"], [500, "body longer than"]] as const
  ) {
    const server = startRawServer(() => [
      responseHead("200 OK", { "content-length": declared, "transfer-encoding": "chunked" }),
      chunk(body),
      chunk(new Uint8Array(0)),
    ]);
    try {
      const client = new ArchiveClient({ ...FAST, retries: 1 });
      const err = await assertRejects(
        () => client.fetchFile(`${server.url}/x.fits`, { signal: AbortSignal.timeout(DEADLINE_MS) }),
        FetchError,
      ) as FetchError;
      assertEquals(err.message.includes(reason), true, err.message);
      assertEquals([err.attempts, server.requests.length], [2, 2]);
      assertEquals(client.stats().errors, { "short-body": 2 });
    } finally {
      await server.close();
    }
  }
});

Deno.test("the client asks for identity encoding and refuses a gzip-encoded body at once", async () => {
  const server = startRawServer(() => [
    responseHead("200 OK", { "content-length": 4 }),
    new Uint8Array([1, 2, 3, 4]),
  ]);
  try {
    const client = new ArchiveClient(FAST);
    assertEquals(await client.fetchFile(`${server.url}/x.fits`), new Uint8Array([1, 2, 3, 4]));
    assertEquals(server.requests[0].headers["accept-encoding"], "identity");
  } finally {
    await server.close();
  }
  await withArchive(1, 50_000, faultOnce({ kind: "gzip" }, 100), async (archive, tree) => {
    const [rel] = firstFile(tree);
    const client = new ArchiveClient(FAST);
    const err = await assertRejects(
      () => client.fetchFile(`${archive.url}/${rel}`),
      FetchError,
    ) as FetchError;
    assertEquals(
      err.message.includes("unexpected Content-Encoding gzip (asked for identity)"),
      true,
      err.message,
    );
    assertEquals([err.attempts, archive.hits.get(rel), client.stats().retries], [1, 1, 0]);
  });
});

Deno.test("a Content-Length above maxFileSize is refused before the transfer, not retried", async () => {
  await withArchive(1, 50_000, faultOnce({ kind: "hugeLength" }, 100), async (archive, tree) => {
    const [rel] = firstFile(tree);
    const client = new ArchiveClient(FAST);
    const err = await assertRejects(
      () => client.fetchFile(`${archive.url}/${rel}`),
      FetchError,
    ) as FetchError;
    assertEquals(
      err.message,
      `${archive.url}/${rel}: Content-Length ${2 ** 40} exceeds the maximum file size ${2 ** 30} ` +
        "(gave up after 1 attempt)",
    );
    assertEquals([archive.hits.get(rel), client.stats().bytes], [1, 0]);
  });
});

Deno.test("an endless body is aborted once it passes maxFileSize, and nothing over the cap is kept", async () => {
  await withArchive(1, 1000, faultOnce({ kind: "endless" }, 100), async (archive, tree) => {
    const [rel] = firstFile(tree);
    const dir = await Deno.makeTempDir();
    try {
      const cap = 1_000_000;
      const client = new ArchiveClient({ ...FAST, maxFileSize: cap });
      const dest = `${dir}/f.fits`;
      let largest = 0;
      const err = await assertRejects(
        () =>
          client.fetchToFile(`${archive.url}/${rel}`, dest, {
            signal: AbortSignal.timeout(DEADLINE_MS),
            // The file as it grows: it never holds more than the cap.
            onBytes: () => (largest = Math.max(largest, Deno.statSync(dest).size)),
          }),
        FetchError,
      ) as FetchError;
      assertEquals(err.message.includes(`body exceeds the maximum file size ${cap}`), true, err.message);
      assertEquals([err.attempts, archive.hits.get(rel)], [1, 1]);
      assertEquals(largest <= cap, true, `${largest} bytes spooled`);
      // At most one server chunk (256 KiB) past the cap was received before the abort.
      assertEquals(client.stats().bytes <= cap + 256 * 1024, true, `${client.stats().bytes} bytes received`);
      assertEquals(await Deno.stat(dest).then(() => true, () => false), false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("a trickling body is aborted by the low-speed rule and retried (injected clock)", async () => {
  // The server sends one byte every 2 ms, forever as far as this test goes (100 kB); the client's clock
  // says a second passes per reading, so after 30 chunks the 30 s window averages ~1 byte/s < 1024.
  await withArchive(
    1,
    100_000,
    faultOnce({ kind: "trickle", intervalMs: 2, bytesPerTick: 1 }),
    async (archive, tree) => {
      let clock = 0;
      const r = await fetchChecked(archive, tree, { ...FAST, now: () => (clock += 1000) });
      assertEquals([r.hits, r.stats.retries, r.stats.errors], [2, 1, { slow: 1 }]);
      const retry = r.events.find((e) => e.type === "retry") as { reason: string };
      assertEquals(retry.reason.startsWith("too slow: "), true, retry.reason);
      assertEquals(retry.reason.includes("over 30.0 s (floor 1024 bytes/s)"), true, retry.reason);
      assertEquals(kinds(r.events), ["request", "retry", "request", "done"]);
    },
  );
});

Deno.test("a trickle above the low-speed floor completes", async () => {
  // 20 bytes per tick: with one clock second per chunk that is 20 bytes/s, above a floor of 10.
  await withArchive(
    1,
    2000,
    faultOnce({ kind: "trickle", intervalMs: 1, bytesPerTick: 20 }),
    async (a, t) => {
      let clock = 0;
      const r = await fetchChecked(a, t, {
        ...FAST,
        lowSpeedBytesPerSecond: 10,
        lowSpeedSeconds: 5,
        now: () => (clock += 1000),
      });
      assertEquals([r.hits, r.stats.retries], [1, 0]);
    },
  );
});

Deno.test("a request refused by Deno's permissions fails at once with one line", async () => {
  // The tests run with --allow-net=127.0.0.1,localhost: another address is not permitted.
  const host = "127.0.0.2:8080";
  assertEquals(
    Deno.permissions.querySync({ name: "net", host }).state === "granted",
    false,
    "run with --allow-net=127.0.0.1,localhost",
  );
  const client = new ArchiveClient(FAST);
  const err = await assertRejects(() => client.fetchFile(`http://${host}/x.fits`), FetchError) as FetchError;
  assertEquals(err.attempts, 1);
  assertEquals(err.message.includes("\n"), false, err.message);
  assertEquals(err.message.startsWith(`http://${host}/x.fits: not permitted: `), true, err.message);
  assertEquals([client.stats().retries, client.stats().failures], [0, 1]);
});

Deno.test("fetchToFile records the final URL after a redirect", async () => {
  await withArchive(1, 5000, undefined, async (archive, tree) => {
    const [rel, bytes] = firstFile(tree);
    const target = `${archive.url}/${rel}`;
    const server = startRawServer(
      () => [responseHead("302 Found", { location: target, "content-length": 0 })],
    );
    const dir = await Deno.makeTempDir();
    try {
      const client = new ArchiveClient(FAST);
      const result = await client.fetchToFile(`${server.url}/moved.fits`, `${dir}/f.fits`);
      assertEquals(result, { bytes: 5000, finalUrl: target });
      assertEquals(sameBytes(await Deno.readFile(`${dir}/f.fits`), bytes), true);
      assertEquals(server.requests.map((r) => r.line), ["GET /moved.fits HTTP/1.1"]);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
});
