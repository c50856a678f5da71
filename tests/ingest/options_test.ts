/** The download's options (lib/ingest/options.ts): one set of defaults, checked once, named by flag. */
import assert from "node:assert/strict";
import * as path from "node:path";
import {
  DOWNLOAD_DEFAULTS,
  DownloadOptionError,
  parseShard,
  resolveOptions,
} from "../../lib/ingest/options.ts";
import { ArchiveBreaker, breakerLimit } from "../../lib/ingest/fetch.ts";

Deno.test("resolveOptions fills in the one set of defaults and makes the paths absolute", () => {
  const o = resolveOptions({});
  assert.equal(o.sector, DOWNLOAD_DEFAULTS.sector);
  assert.equal(o.maxConnections, DOWNLOAD_DEFAULTS.maxConnections);
  assert.equal(o.retries, DOWNLOAD_DEFAULTS.retries);
  assert.equal(o.timeoutMs, DOWNLOAD_DEFAULTS.timeoutSeconds * 1000);
  assert.equal(o.maxFileSize, 2 ** 30);
  assert.deepEqual(o.bands, ["r", "i", "z", "y"]);
  assert.equal(o.storePath, path.resolve("data/ps1_skycells_zarr/ps1_skycells.zarr"));
  assert.equal(o.zarrPath, path.join("data", "ps1_skycells_zarr", "ps1_skycells.zarr"), "as given");
  assert.equal(o.dataRoot, path.resolve("data"));
});

Deno.test("resolveOptions refuses each bad option in one line naming its flag", () => {
  const cases: [Parameters<typeof resolveOptions>[0], RegExp][] = [
    [{ camera: 5 }, /^--camera: expected an integer \(1-4\), got 5$/],
    [{ ccd: 0 }, /^--ccd: expected an integer \(1-4\)/],
    [{ sector: 1.5 }, /^--sector: expected an integer/],
    [{ maxConnections: 65 }, /^--max-connections: expected an integer \(1-64\)/],
    [{ retries: -1 }, /^--retries/],
    [{ timeout: 0 }, /^--timeout: expected seconds > 0/],
    [{ maxFileSize: 100 }, /^--max-file-size: expected an integer \(>= 2880\)/],
    [{ bands: ["r", "u"] }, /^--bands: unknown PS1 band "u"/],
    [{ bands: [] }, /^--bands: no band given/],
    [{ shard: "4/4" }, /^--shard: expected K\/N with 0 <= K < N/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => resolveOptions(options),
      (err) => err instanceof DownloadOptionError && message.test(err.message),
    );
  }
  assert.deepEqual(parseShard(" 1 / 3 "), { index: 1, count: 3 });
});

Deno.test("the archive breaker trips after its limit of failures in a row, and a success resets the count", () => {
  assert.equal(breakerLimit(8), 16);
  assert.equal(breakerLimit(2), 8);
  const breaker = new ArchiveBreaker(3);
  assert.equal(breaker.failed("http://a", "x"), false);
  assert.equal(breaker.failed("http://a", "x"), false);
  breaker.succeeded();
  assert.equal(breaker.failed("http://a", "x"), false);
  assert.equal(breaker.failed("http://a", "x"), false);
  assert.equal(breaker.tripped, false);
  assert.equal(breaker.failed("http://a", "503"), true, "the third in a row trips it");
  assert.match(
    breaker.message,
    /^3 downloads in a row failed \(archive http:\/\/a unreachable or refusing: 503\)$/,
  );
  assert.equal(breaker.failed("http://a", "x"), false, "it trips once");
});

Deno.test("--archive names the two public copies; a bad name or both ways at once is one line", () => {
  assert.equal(
    resolveOptions({ archive: "aws" }).baseUrl,
    "https://stpubdata.s3.amazonaws.com/panstarrs/ps1/public/rings.v3.skycell",
  );
  assert.equal(resolveOptions({ archive: "stsci" }).baseUrl, "http://ps1images.stsci.edu/rings.v3.skycell");
  assert.throws(
    () => resolveOptions({ archive: "gcs" }),
    /^DownloadOptionError: --archive: unknown archive "gcs" \(use stsci or aws\)$/,
  );
  assert.throws(() => resolveOptions({ archive: "aws", archiveUrl: "http://x" }), /give one, not both/);
});
