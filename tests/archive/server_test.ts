import { assertEquals } from "../ps1/_assert.ts";
import { startLocalArchive } from "../../lib/archive/server.ts";
import { FaultInjector, globToRegExp } from "../../lib/archive/faults.ts";
import { makeTree, sameBytes } from "./_tree.ts";
import { within as withinDefault } from "../_deadline.ts";

/** A deadline on a wait (see tests/_deadline.ts), 10_000 ms unless told. */
const within = <T>(p: Promise<T>, what: string, ms = 10_000) => withinDefault(p, what, ms);

/** Polls `check` every 5 ms until it holds; rejects naming `what` after `ms`. */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("serves the archive layout with Content-Length and HEAD; 404 for anything else", async () => {
  const tree = await makeTree(2, 5000);
  const archive = await startLocalArchive({ root: tree.root });
  try {
    const [rel, bytes] = [...tree.files][0];
    assertEquals(archive.url.startsWith("http://127.0.0.1:"), true);
    assertEquals(archive.url.endsWith("/rings.v3.skycell"), true);
    const res = await fetch(`${archive.url}/${rel}`);
    assertEquals([res.status, res.headers.get("content-length")], [200, "5000"]);
    assertEquals(sameBytes(new Uint8Array(await res.arrayBuffer()), bytes), true);
    const head = await fetch(`${archive.url}/${rel}`, { method: "HEAD" });
    await head.body?.cancel();
    assertEquals([head.status, head.headers.get("content-length")], [200, "5000"]);
    for (
      const bad of [
        `${archive.url}/2556/099/rings.v3.skycell.2556.099.stk.r.unconv.fits`, // absent file
        `${archive.url}/2556/000/rings.v3.skycell.2557.000.stk.r.unconv.fits`, // inconsistent tree
        `${archive.url}/2556/000/../../../etc/passwd`,
        `${archive.url.replace("/rings.v3.skycell", "")}/${rel}`, // outside the prefix
      ]
    ) {
      const r = await fetch(bad);
      await r.body?.cancel();
      assertEquals(r.status, 404, bad);
    }
    assertEquals(archive.hits.get(rel), 2);
    assertEquals(archive.stats().byStatus, { "200": 2, "404": 4 });
  } finally {
    await archive.close();
    await tree.remove();
  }
});

Deno.test("close() ends a stalled response", async () => {
  const tree = await makeTree(1, 4000);
  const archive = await startLocalArchive({
    root: tree.root,
    faults: { rules: [{ match: "*.fits", fault: { kind: "stall" } }] },
  });
  try {
    const [rel] = [...tree.files][0];
    const res = await within(fetch(`${archive.url}/${rel}`), "headers");
    assertEquals(res.status, 200);
    const body = res.arrayBuffer().catch((e) => e);
    assertEquals(archive.stats().inFlight, 1);
    // close() does not wait for the stalled body forever: it ends it.
    await within(archive.close(), "close()");
    await within(body, "the stalled body");
    assertEquals(archive.stats().inFlight, 0);
  } finally {
    await archive.close();
    await tree.remove();
  }
});

Deno.test("fault rules match by glob or exact path, for the first N hits; random faults repeat with a seed", () => {
  assertEquals(globToRegExp("2556/*/*.wt.fits").test("2556/080/a.wt.fits"), true);
  assertEquals(globToRegExp("2556/*.fits").test("2556/080/a.fits"), false);
  assertEquals(globToRegExp("**.fits").test("2556/080/a.fits"), true);
  const f = new FaultInjector({
    rules: [
      { match: "2556/080/x.fits", fault: { kind: "notFound" } },
      { match: "*.wt.fits", fault: { kind: "status", status: 503 }, times: 2 },
    ],
  });
  assertEquals(f.pick("2556/080/x.fits", 5)?.kind, "notFound");
  assertEquals([1, 2, 3].map((h) => f.pick("2556/081/y.wt.fits", h)?.kind ?? null), [
    "status",
    "status",
    null,
  ]);
  const draw = (seed: number) => {
    const inj = new FaultInjector({ random: { rate: 0.5, seed, maxPerPath: 1 } });
    return Array.from({ length: 40 }, (_, i) => inj.pick(`p${i % 10}`, 1)?.kind ?? "-").join(",");
  };
  assertEquals(draw(7), draw(7));
  assertEquals(draw(7) !== draw(8), true);
  // maxPerPath: each of the 10 paths fails at most once.
  assertEquals(draw(7).split(",").filter((k) => k !== "-").length <= 10, true);
});

Deno.test("the server counts the most responses in progress at once", async () => {
  const tree = await makeTree(4, 4000);
  const archive = await startLocalArchive({
    root: tree.root,
    faults: { rules: [{ match: "*.fits", fault: { kind: "stall" } }] },
  });
  try {
    const rels = [...tree.files.keys()];
    const first = await within(
      Promise.all(rels.slice(0, 3).map((rel) => fetch(`${archive.url}/${rel}`))),
      "3",
    );
    assertEquals([archive.stats().inFlight, archive.stats().maxInFlight], [3, 3]);
    await Promise.all(first.map((r) => r.body?.cancel()));
    await until(() => archive.stats().inFlight === 0, "cancelled responses ending");
    const fourth = await within(fetch(`${archive.url}/${rels[3]}`), "fourth");
    // One more in progress, after the three ended: the most at once is still 3.
    assertEquals([archive.stats().inFlight, archive.stats().maxInFlight], [1, 3]);
    await fourth.body?.cancel();
  } finally {
    await archive.close();
    await tree.remove();
  }
});

Deno.test("fault modes: gzip encoding, huge Content-Length, endless and trickling bodies", async () => {
  const tree = await makeTree(1, 3000);
  const [rel, bytes] = [...tree.files][0];
  const archive = await startLocalArchive({ root: tree.root });
  const get = () =>
    within(fetch(`${archive.url}/${rel}`, { headers: { "accept-encoding": "identity" } }), rel);
  try {
    archive.setFaults({ rules: [{ match: "*.fits", fault: { kind: "gzip" } }] });
    let res = await get();
    const gz = new Uint8Array(await res.arrayBuffer());
    assertEquals([res.headers.get("content-encoding"), res.headers.get("content-length")], [
      "gzip",
      String(gz.length),
    ]);
    const plain = new Uint8Array(
      await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer(),
    );
    assertEquals(sameBytes(plain, bytes), true);

    archive.setFaults({ rules: [{ match: "*.fits", fault: { kind: "hugeLength", declaredLength: 5e9 } }] });
    res = await get();
    assertEquals(res.headers.get("content-length"), "5000000000");
    await res.body?.cancel();

    archive.setFaults({ rules: [{ match: "*.fits", fault: { kind: "endless" } }] });
    res = await get();
    assertEquals(res.headers.get("content-length"), null);
    const reader = res.body!.getReader();
    let endless = 0;
    while (endless <= 10 * bytes.length) {
      const { value, done } = await within(reader.read(), "endless chunk");
      assertEquals(done, false);
      endless += value!.length;
    }
    await reader.cancel();

    archive.setFaults({
      rules: [{ match: "*.fits", fault: { kind: "trickle", intervalMs: 0, bytesPerTick: 100 } }],
    });
    res = await get();
    assertEquals(res.headers.get("content-length"), "3000");
    const sizes: number[] = [];
    const trickle = res.body!.getReader();
    const got = new Uint8Array(3000);
    for (;;) {
      const { value, done } = await within(trickle.read(), "trickle chunk");
      if (done) break;
      got.set(value, sizes.reduce((a, b) => a + b, 0));
      sizes.push(value.length);
    }
    assertEquals(sameBytes(got, bytes), true);
    // 100 bytes a tick (a read may take several ticks at once).
    assertEquals(sizes.every((n) => n % 100 === 0) && sizes.length > 1, true, `${sizes}`);
  } finally {
    await archive.close();
    await tree.remove();
  }
});
