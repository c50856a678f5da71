import { assertEquals } from "../ps1/_assert.ts";
import { startLocalArchive } from "../../lib/archive/server.ts";
import { FaultInjector, globToRegExp } from "../../lib/archive/faults.ts";
import { makeTree, sameBytes } from "./_tree.ts";

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
    const res = await fetch(`${archive.url}/${rel}`);
    assertEquals(res.status, 200);
    const body = res.arrayBuffer().catch((e) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await archive.close();
    assertEquals(performance.now() - t0 < 2000, true);
    await body;
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
