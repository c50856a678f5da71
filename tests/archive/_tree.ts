/**
 * A small archive tree of pseudo-random files for the transport tests (server and client): the bytes are
 * not FITS, a test checks them against the originals.
 * @module
 */
import * as path from "node:path";
import { relativePath } from "../../lib/ps1/urls.ts";
import { seededRandom } from "../../lib/archive/faults.ts";

/** A temporary tree: root, file bytes by relative path, and a remover. */
export interface TestTree {
  root: string;
  files: Map<string, Uint8Array>;
  remove(): Promise<void>;
}

/** Writes `count` files of `size` bytes (r-band images of consecutive skycells of projection cell 2556). */
export async function makeTree(count: number, size: number): Promise<TestTree> {
  const root = await Deno.makeTempDir({ prefix: "ps1_archive_" });
  const files = new Map<string, Uint8Array>();
  const random = seededRandom(count * 1000 + size);
  for (let i = 0; i < count; i++) {
    const rel = relativePath(`skycell.2556.${String(i).padStart(3, "0")}`, "r", "image");
    const bytes = new Uint8Array(size).map(() => Math.floor(random() * 256));
    await Deno.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await Deno.writeFile(path.join(root, rel), bytes);
    files.set(rel, bytes);
  }
  return { root, files, remove: () => Deno.remove(root, { recursive: true }) };
}

/** True when two byte arrays are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
