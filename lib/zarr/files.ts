/**
 * Bounded reads of the files inside a store. Every metadata and chunk file goes through here, so what a
 * damaged or hostile store can make the toolkit do is bounded by what the file should be:
 *
 * - only regular files are opened: a FIFO would block the read forever, a device (`/dev/zero`) never
 *   ends;
 * - a symbolic link is followed only when its target lies inside the store;
 * - the size is checked before anything is allocated, against the largest such file can be.
 *
 * Outcomes are told apart, because they mean different things to the inventory and the cleanup:
 * absent (`undefined`), unreadable ({@link UnreadableError}: permissions or I/O, no evidence of damage)
 * and damaged ({@link DamagedNodeError}).
 *
 * @example
 * ```ts ignore
 * const bytes = readStoreFileSync("/data/store.zarr", "/data/store.zarr/2556/zarr.json", 1 << 20);
 * ```
 * @module
 */

import * as path from "node:path";
import { DamagedNodeError, errorCode, isUnreadableCode, UnreadableError } from "./errors.ts";

/** Metadata files (`zarr.json`, `.zarray`, `.zattrs`) larger than this are refused (a header is ~30 KB). */
export const MAX_METADATA_BYTES = 16 << 20;

/** The state of a path inside the store, by `lstat`, with links resolved only inside the store. */
export type FileCheck =
  | { kind: "absent" }
  | { kind: "file"; size: number }
  | { kind: "directory" }
  | { kind: "other"; what: string };

function unreadable(file: string, err: unknown): UnreadableError {
  const code = errorCode(err) || "EIO";
  return new UnreadableError(`${file}: cannot read (${code}: ${(err as Error).message})`, code, err);
}

/**
 * Throws the right typed error for a failed file-system call on `file`: {@link UnreadableError} for
 * permissions and I/O errors, the error itself otherwise. Returns normally for ENOENT/ENOTDIR (absent).
 */
export function classifyIoError(file: string, err: unknown): void {
  const code = errorCode(err);
  if (code === "ENOENT" || code === "ENOTDIR") return;
  if (isUnreadableCode(code)) throw unreadable(file, err);
  if (code === "ELOOP") throw new DamagedNodeError(`${file}: a loop of symbolic links`);
  throw unreadable(file, err);
}

function kindOf(st: Deno.FileInfo): FileCheck {
  if (st.isFile) return { kind: "file", size: st.size };
  if (st.isDirectory) return { kind: "directory" };
  const what = st.isFifo
    ? "a FIFO"
    : st.isCharDevice || st.isBlockDevice
    ? "a device"
    : st.isSocket
    ? "a socket"
    : "not a regular file";
  return { kind: "other", what };
}

/**
 * What `file` is, without opening it: absent, a regular file (with its size), a directory, or something
 * else. A symbolic link is resolved and must lead inside `root` (else {@link DamagedNodeError}).
 * Throws {@link UnreadableError} when it cannot be looked at.
 */
export function checkStoreFileSync(root: string, file: string): FileCheck {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(file);
  } catch (err) {
    classifyIoError(file, err);
    return { kind: "absent" };
  }
  if (!st.isSymlink) return kindOf(st);
  let target: string;
  try {
    target = Deno.realPathSync(file);
  } catch (err) {
    classifyIoError(file, err);
    return { kind: "absent" }; // a dangling link: nothing is there
  }
  const inside = target === root || target.startsWith(root.endsWith("/") ? root : root + "/");
  if (!inside) throw new DamagedNodeError(`${file}: a symbolic link leading out of the store (${target})`);
  try {
    return kindOf(Deno.statSync(target));
  } catch (err) {
    classifyIoError(file, err);
    return { kind: "absent" };
  }
}

/**
 * Reads a file of the store whole, after {@link checkStoreFileSync}: `undefined` when absent,
 * {@link DamagedNodeError} when it is not a regular file inside the store or is larger than `maxBytes`,
 * {@link UnreadableError} when it cannot be read.
 */
export function readStoreFileSync(root: string, file: string, maxBytes: number): Uint8Array | undefined {
  const check = checkStoreFileSync(root, file);
  if (check.kind === "absent") return undefined;
  if (check.kind !== "file") {
    throw new DamagedNodeError(
      `${file}: ${check.kind === "directory" ? "a directory" : check.what}, not a file`,
    );
  }
  if (check.size > maxBytes) {
    throw new DamagedNodeError(`${file}: ${check.size} bytes, more than such a file can be (${maxBytes})`);
  }
  let handle: Deno.FsFile;
  try {
    handle = Deno.openSync(file, { read: true });
  } catch (err) {
    classifyIoError(file, err);
    return undefined;
  }
  try {
    // Read at most maxBytes + 1, whatever the size was a moment ago: the file may have grown since.
    const buf = new Uint8Array(Math.min(check.size, maxBytes) + 1);
    let got = 0;
    while (got < buf.length) {
      const n = handle.readSync(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    if (got > maxBytes) {
      throw new DamagedNodeError(`${file}: more than ${maxBytes} bytes, more than such a file can be`);
    }
    return buf.subarray(0, got);
  } catch (err) {
    if (err instanceof DamagedNodeError) throw err;
    throw unreadable(file, err);
  } finally {
    handle.close();
  }
}

/** {@link readStoreFileSync} of a text file (metadata), decoded as UTF-8. */
export function readStoreTextSync(
  root: string,
  file: string,
  maxBytes = MAX_METADATA_BYTES,
): string | undefined {
  const bytes = readStoreFileSync(root, file, maxBytes);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/**
 * The names of the directories in `dir` (sorted), without following links. `[]` when `dir` is absent;
 * {@link UnreadableError} when it cannot be listed.
 */
export function listDirectoriesSync(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  } catch (err) {
    classifyIoError(dir, err);
    return [];
  }
}

/** `path.join` that refuses to leave `dir` (a chunk key with `..` in it is damage, not a path). */
export function joinInside(dir: string, key: string): string {
  const joined = path.join(dir, key);
  if (joined !== dir && !joined.startsWith(dir.endsWith("/") ? dir : dir + "/")) {
    throw new DamagedNodeError(`${dir}: chunk key ${JSON.stringify(key)} leads out of the array`);
  }
  return joined;
}
