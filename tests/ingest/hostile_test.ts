/**
 * Hostile servers against the download CLI, run in a child process whose peak memory it reports
 * (tests/store/_measured.ts): an endless body, a huge Content-Length, a gzip-encoded body and a trickle
 * each end in a failure of that array with one reason, in bounded memory, with nothing left in the spool,
 * while the honest files are stored.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Fault } from "../../lib/archive/faults.ts";
import { listTree, makeArchive } from "./_setup.ts";

const MEASURED = fileURLToPath(new URL("../store/_measured.ts", import.meta.url));
const S = "skycell.2556.080";

async function runDownload(
  args: string[],
): Promise<{ code: number; result: Record<string, unknown>; peak: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MEASURED, "download_and_store_zarr.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr).trimEnd().split("\n");
    const peak = Number(/^peak-rss-bytes (\d+)$/.exec(stderr.at(-1) ?? "")?.[1]);
    assert.ok(peak > 0, `no memory line (killed at the deadline?): ${stderr.slice(-5).join("\n")}`);
    return { code: out.code, result: JSON.parse(new TextDecoder().decode(out.stdout)), peak };
  } finally {
    clearTimeout(timer);
  }
}

for (
  const [what, fault, reason] of [
    ["an endless body", { kind: "endless" }, /larger than|max(imum)? file size|exceed/i],
    ["a huge Content-Length", { kind: "hugeLength" }, /larger than|max(imum)? file size|exceed/i],
    ["a gzip-encoded body", { kind: "gzip" }, /encoding/i],
    [
      "a body trickling one byte at a time",
      { kind: "trickle", intervalMs: 200, bytesPerTick: 1 },
      /slow|speed/i,
    ],
  ] as [string, Fault, RegExp][]
) {
  Deno.test(`${what}: that array fails with its reason, memory and spool stay bounded, the rest is stored`, async () => {
    const a = await makeArchive({
      faults: { rules: [{ match: "2556/080/*.stk.r.unconv.fits", fault }] },
    });
    try {
      const run = await runDownload([
        "--skycell",
        S,
        "--bands",
        "r",
        "--zarr-output-dir",
        a.outputDir,
        "--archive-url",
        a.server.url,
        "--max-file-size",
        String(8 << 20),
        "--retries",
        "0",
        "--json",
      ]);
      assert.equal(run.code, 1, JSON.stringify(run.result));
      const failures = run.result.failures as { kind: string; error: string }[];
      assert.deepEqual(failures.map((f) => f.kind), ["image"]);
      assert.match(failures[0].error, reason);
      assert.equal(run.result.arrays_present, 2, "the mask and the weight are stored");
      assert.ok(run.peak < 1 << 30, `peak memory ${(run.peak / 2 ** 20).toFixed(0)} MiB`);
      const spool = (await listTree(a.outputDir)).filter((p) =>
        p.includes(".download_spool") && p.endsWith(".fits")
      );
      assert.deepEqual(spool, [], "nothing left in the spool");
    } finally {
      await a.close();
    }
  });
}
