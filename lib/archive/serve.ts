/**
 * Command line entry of the local PS1-like archive: serves a directory tree in the archive layout on
 * 127.0.0.1 until interrupted, optionally writing a demo tree first and injecting random faults.
 *
 * ```
 * deno run --allow-read --allow-write --allow-net=127.0.0.1 lib/archive/serve.ts --root data/ps1_archive --port 8123
 * deno run ... lib/archive/serve.ts --root /tmp/arch --synth --size 512 --fault-rate 0.2 --seed 7
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { startLocalArchive } from "./server.ts";
import { writeDemoArchive } from "./synth.ts";
import * as path from "node:path";

const USAGE =
  `usage: serve.ts --root DIR [--port N] [--fault-rate R] [--seed N] [--synth [--size N] [--data DIR]]

Serves DIR ({PPPP}/{CCC}/rings.v3.skycell.*.fits) at http://127.0.0.1:PORT/rings.v3.skycell until Ctrl-C.
  --root DIR        the archive tree (required)
  --port N          port (default 0: a free port)
  --fault-rate R    inject random transient faults with probability R per request (0-1)
  --seed N          seed of the random faults (default 1)
  --synth           first write the demo skycells into DIR and their mapping CSV under --data
  --data DIR        data root for the mapping CSV with --synth (default: parent of --root)
  --size N          skycell width for --synth (default 6300)
`;

/** Runs the CLI with `args`; resolves when the server has stopped. Returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        root: { type: "string" },
        port: { type: "string", default: "0" },
        "fault-rate": { type: "string" },
        seed: { type: "string", default: "1" },
        synth: { type: "boolean", default: false },
        data: { type: "string" },
        size: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    console.error(`serve.ts: ${(err as Error).message}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const int = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) {
      throw new Error(`--${name} must be a non-negative integer: ${v}`);
    }
    return n;
  };
  try {
    if (!values.root) throw new Error("--root is required");
    const port = int("port", values.port);
    const seed = int("seed", values.seed);
    const rate = values["fault-rate"] === undefined ? undefined : Number(values["fault-rate"]);
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
      throw new Error(`--fault-rate must be 0-1: ${values["fault-rate"]}`);
    }
    if (values.synth) {
      const dataDir = values.data ?? path.dirname(path.resolve(values.root));
      const size = values.size === undefined ? undefined : int("size", values.size);
      const demo = await writeDemoArchive(dataDir, { archiveDir: values.root, size, seed });
      console.error(
        `wrote ${demo.files} files (${(demo.bytes / 1e6).toFixed(1)} MB), mapping CSV ${demo.csvPath}`,
      );
    }
    const archive = await startLocalArchive({
      root: values.root,
      port,
      seed,
      faults: rate ? { random: { rate, seed } } : undefined,
    });
    console.log(archive.url);
    console.error(`serving ${path.resolve(values.root)} at ${archive.url} (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      Deno.addSignalListener("SIGINT", stop);
      if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
    });
    await archive.close();
    const s = archive.stats();
    console.error(`served ${s.requests} requests, ${(s.bytesSent / 1e6).toFixed(1)} MB`);
    return 0;
  } catch (err) {
    console.error(`serve.ts: ${(err as Error).message}`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
