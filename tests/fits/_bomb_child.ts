/**
 * Child process of tile_bomb_test.ts: opens the FITS file named in argv[0] the way the ingest worker
 * does (whole file in memory, openImage, one row band), and prints one JSON line with the error message,
 * the time the decode took and the process's peak resident memory (VmHWM from /proc, else the current RSS).
 * @module
 */
import { openImage } from "../../lib/fits/image.ts";

const file = Deno.args[0];
const bytes = Deno.readFileSync(file);
const t0 = performance.now();
let error: string | null = null;
try {
  const image = openImage(bytes, { source: "bomb.fits" });
  image.readRows(0, Math.min(image.height, 64), "float32");
} catch (e) {
  error = (e as Error).message;
}
const ms = performance.now() - t0;
let peakBytes = Deno.memoryUsage().rss;
try {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  if (m) peakBytes = Number(m[1]) * 1024;
} catch {
  // No /proc (not Linux): the current RSS is the best available.
}
console.log(JSON.stringify({ error, ms, peakBytes }));
