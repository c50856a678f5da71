import { strict as assert } from "node:assert";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { listTree, makeArchive } from "./_setup.ts";

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../download_and_store_zarr.ts");
const PERMS = ["--allow-read", "--allow-write", "--allow-env", "--allow-net=127.0.0.1"];

function spawn(args: string[], cwd?: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMS, SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
    cwd,
  }).spawn();
}

async function run(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await spawn(args, cwd).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("--help prints the flags and examples; bad usage exits 2 with one line naming the flag", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  for (
    const flag of [
      "--sector",
      "--num-workers",
      "--use-local-files",
      "--max-connections",
      "--shard",
      "--dry-run",
    ]
  ) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  const cases: [string[], RegExp][] = [
    [["--sector", "x"], /--sector: expected an integer/],
    [["--camera", "5"], /--camera: expected an integer \(1-4\)/],
    [["--frobnicate"], /frobnicate/],
    [["20", "3"], /SECTOR CAMERA CCD/],
    [["--log-level", "LOUD"], /invalid log level "LOUD"/],
    [["--timeout", "-1"], /--timeout/],
  ];
  for (const [args, pattern] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, pattern, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, `${args.join(" ")}: one line`);
  }
});

Deno.test("exit codes: 0 completed (positional SECTOR CAMERA CCD), 1 incomplete, 2 missing CSV", async () => {
  const a = await makeArchive({
    faults: { rules: [{ match: "2556/080/*.stk.y.unconv.wt.fits", fault: { kind: "status", status: 500 } }] },
  });
  try {
    const common = [
      "--zarr-output-dir",
      a.outputDir,
      "--archive-url",
      a.server.url,
      "--retries",
      "1",
      "--json",
    ];
    const dry = await run(["20", "3", "3", "--dry-run", ...common]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(JSON.parse(dry.stdout).plan.length, 6);
    assert.deepEqual(await listTree(a.outputDir), []);
    const partial = await run(["20", "3", "3", ...common]);
    assert.equal(partial.code, 1, partial.stderr);
    const result = JSON.parse(partial.stdout);
    assert.equal(result.status, "incomplete");
    assert.equal(result.failures.length, 1);
    assert.match(partial.stderr, /HTTP 500/);
    const missing = await run(["--sector", "7", ...common]);
    assert.equal(missing.code, 2);
    assert.equal(JSON.parse(missing.stdout).status, "error");
    a.server.setFaults(undefined);
    const rest = await run(["--sector", "20", ...common.filter((x) => x !== "--json")]);
    assert.equal(rest.code, 0, rest.stderr);
    assert.match(rest.stdout, /completed: 72\/72 arrays present, 1 written, 71 already complete/);
  } finally {
    await a.close();
  }
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`${signal} stops the run: exit ${code}, status interrupted, no temp arrays left`, async () => {
    const a = await makeArchive({
      faults: { rules: [{ match: "**", fault: { kind: "slow", bytesPerSecond: 100_000 } }] },
    });
    try {
      const child = spawn(["--zarr-output-dir", a.outputDir, "--archive-url", a.server.url, "--json"]);
      // Wait until the first downloads are under way.
      while (a.server.stats().requests < 4) await new Promise((r) => setTimeout(r, 50));
      child.kill(signal);
      const out = await child.output();
      assert.equal(out.code, code);
      const result = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(result.status, "interrupted");
      const temps = (await listTree(a.storePath)).filter((p) => p.includes("_temp_"));
      assert.deepEqual(temps, []);
    } finally {
      await a.close();
    }
  });
}
