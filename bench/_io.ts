/**
 * The raw-I/O baseline of the benchmarks: a cp-like file copy with plain reads and writes.
 * @module
 */

/** Copies a file with plain reads and writes of 8 MB (cp-like raw file I/O). */
export async function rawCopy(src: string, dst: string): Promise<void> {
  const input = await Deno.open(src, { read: true });
  const output = await Deno.open(dst, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(8 << 20);
  try {
    for (;;) {
      const n = await input.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await output.write(buf.subarray(off, n));
    }
  } finally {
    input.close();
    output.close();
  }
}
