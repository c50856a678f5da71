import { strict as assert } from "node:assert";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { StoreLock } from "../../lib/zarr/lock.ts";
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

Deno.test("exit codes: 0 completed (positional SECTOR CAMERA CCD), 1 incomplete, 2 a named CSV missing", async () => {
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
    // The pipeline's key names and meanings (its port of download_and_store_ps1_data).
    assert.equal(result.skycells_found, 3);
    assert.equal(result.unique_images, 6);
    assert.equal(result.expected_count, 6);
    assert.equal(result.produced_count, 5);
    assert.equal(result.produced_skycells.length, 5);
    assert.ok(!result.produced_skycells.includes("skycell.2556.080"));
    assert.deepEqual(result.artifacts, result.produced_skycells.map((s: string) => `${s.slice(8, 12)}/${s}`));
    assert.equal(result.zarr_path, path.join(a.outputDir, "ps1_skycells.zarr"));
    assert.equal(result.arrays_present, 71);
    assert.match(partial.stderr, /HTTP 500/);
    const missing = await run(["--skycells-csv", "/nonexistent/tess_list.csv", ...common]);
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
      // Wait until the first downloads are under way (or give up after 30 s).
      const deadline = Date.now() + 30_000;
      while (a.server.stats().requests < 4) {
        assert.ok(Date.now() < deadline, "the downloads never started");
        await new Promise((r) => setTimeout(r, 50));
      }
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

Deno.test("Ctrl-C while another process holds the store lock ends the run before the lock is released", async () => {
  const a = await makeArchive();
  try {
    await Deno.mkdir(a.outputDir, { recursive: true });
    const lock = new StoreLock(a.storePath);
    const events: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holding = lock.run(async () => {
      events.push("lock held");
      await released;
      events.push("lock released");
    });
    const child = spawn([
      "--zarr-output-dir",
      a.outputDir,
      "--archive-url",
      a.server.url,
      "--log-level",
      "INFO",
    ]);
    // Read stderr until the child says it waits for the lock (or give up after 30 s).
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let stderr = "";
    const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
    while (!/waiting for the store lock/.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    assert.match(stderr, /waiting for the store lock/);
    child.kill("SIGINT");
    const status = await child.status;
    events.push(`child exited ${status.code}`);
    clearTimeout(deadline);
    release();
    await holding;
    reader.releaseLock();
    await child.stderr.cancel().catch(() => {});
    await child.stdout.cancel();
    assert.deepEqual(events, ["lock held", "child exited 130", "lock released"]);
  } finally {
    await a.close();
  }
});
