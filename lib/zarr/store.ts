/**
 * A Zarr directory store as the toolkit reads and writes it: metadata of any node (format 3 or 2),
 * listing a group's children by walking directories (Zarr has no listing API for plain directory
 * stores), creating groups with their parents, building arrays atomically, deleting nodes and updating
 * attributes. Everything that changes the hierarchy runs under the store lock (see `lock.ts`).
 *
 * Atomic array write: the array is built under a temporary name holding `_temp_` inside its group, its
 * `zarr.json` (with the completion marker) is written last, and the directory is renamed into place under
 * the lock. An existing array is first renamed to a `_temp_old_` name and removed only once the new one is
 * in place. A process killed at any moment leaves the old array, the new one, or an orphaned temp array,
 * never a partly written array under the real name.
 *
 * @example
 * ```ts ignore
 * const store = await ZarrStore.open("data/ps1_skycells_zarr/ps1_skycells.zarr", { create: true });
 * const build = await store.beginArray("2556/skycell.2556.080", "r", spec);
 * for (let row = 0; row < rows; row++) await build.writeChunkRow(row, band(row));
 * await build.commit({ header }, { source: "local" });
 * store.close();
 * ```
 * @module
 */

import * as fs from "node:fs/promises";
import * as path from "node:path";
import {
  allocate,
  type BandWriteResult,
  releaseBuffer,
  type StoreTypedArray,
  writeChunkRow,
} from "./chunks.ts";
import { DamagedNodeError, NodeNotFoundError, StoreError, UnreadableError } from "./errors.ts";
import { listDirectoriesSync, readStoreTextSync } from "./files.ts";
import { parseJson, pythonJson } from "./json.ts";
import { StoreLock, type StoreLockOptions } from "./lock.ts";
import {
  type ArrayInfo,
  arrayMetadataJson,
  type ArraySpec,
  checkArraySpec,
  defaultChunkKey,
  groupMetadataJson,
  type NodeInfo,
  parseV2,
  parseV3,
} from "./metadata.ts";
import { checkNodeName, checkNodePath, isTempName, joinNodePath, parseTempName, tempName } from "./names.ts";
import { gridKeys, isMarkedComplete, MARKER_KEY, scanChunkFilesSync, verifyArrayFiles } from "./verify.ts";
import { registerOwner } from "./owner.ts";
import { TOOLKIT, VERSION } from "../version.ts";

/** Provenance recorded with an array (all optional). */
export interface Provenance {
  /** Source URL or local path. */
  source?: string;
  /** Source file size in bytes. */
  source_bytes?: number;
  /** Source file digest, `sha256:<hex>`. */
  source_digest?: string;
  /** Anything else worth keeping (JSON values). */
  [key: string]: unknown;
}

/** The completion marker attribute: provenance plus what the writer knows at the end. */
export interface CompletionMarker extends Provenance {
  /** Always true: written as the last step of a complete array write. */
  complete: true;
  /** Chunk files written (all-fill chunks are not written). */
  stored_chunks: number;
  /** Keys of the chunks not written because they hold only the fill value; every other key has a file. */
  fill_chunks: string[];
  /** When the array was committed (ISO 8601, UTC). */
  written_at: string;
  /** `ps1-zarr <version>`. */
  writer: string;
}

/** A child of a group as found on disk. */
export interface ChildNode {
  /** Its name. */
  name: string;
  /** Its store path. */
  path: string;
  /** Its metadata, or null when the directory holds none (or it could not be read: see `error`). */
  info: NodeInfo | null;
  /** Why the metadata could not be read. */
  error?: string;
  /** True when `error` is a permission or I/O error (no evidence of damage). */
  unreadable?: boolean;
}

/** Options of {@link ZarrStore.open}. */
export interface StoreOptions {
  /** Create the store (root group) when it does not exist. */
  create?: boolean;
  /** Lock timeout and wait callback. */
  lock?: StoreLockOptions;
}

/** What committing an array did. */
export interface CommitResult {
  /** The array's store path. */
  path: string;
  /** True when an existing array was replaced. */
  replaced: boolean;
  /** True when a complete array was already there and was kept (ours discarded; see `keepComplete`). */
  kept: boolean;
  /** Chunk files written. */
  storedChunks: number;
  /** Compressed bytes written. */
  bytes: number;
}

/**
 * Reads and parses a metadata file of the store (bounded, regular files only; see files.ts): undefined
 * when absent, {@link DamagedNodeError} when it is not valid JSON, {@link UnreadableError} when it cannot
 * be read.
 */
function readJsonSync(root: string, file: string): unknown | undefined {
  const text = readStoreTextSync(root, file);
  if (text === undefined) return undefined;
  try {
    return parseJson(text);
  } catch (err) {
    throw new DamagedNodeError(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

async function exists(p: string): Promise<boolean> {
  return await fs.stat(p).then(() => true, () => false);
}

/**
 * The store's identity: its absolute path with every symbolic link resolved (for a store not created
 * yet, its parent's real path and its name). The lock file, the owner records and temp names derive
 * from it, so every way of reaching one store (an alias, a relative path) takes the same lock.
 */
export async function realStorePath(root: string): Promise<string> {
  const absolute = path.resolve(root);
  try {
    return await Deno.realPath(absolute);
  } catch {
    const parent = await Deno.realPath(path.dirname(absolute)).catch(() => path.dirname(absolute));
    return path.join(parent, path.basename(absolute));
  }
}

/** Writes a file through a temporary name and a rename, so readers see the old or the new content. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Test-only hooks: `betweenRenames` runs inside a replace, after the old array was moved aside and before
 * the new one takes its name (under the lock), so a test can look at the store at exactly that moment.
 * Never set outside tests.
 */
export const storeTestHooks: { betweenRenames?: (finalDir: string) => Promise<void> | void } = {};

/** A Zarr directory store. */
export class ZarrStore {
  /** Absolute path of the store directory. */
  readonly root: string;
  /** The store's lock. */
  readonly lock: StoreLock;

  private constructor(root: string, opts: StoreOptions) {
    this.root = root;
    this.lock = new StoreLock(root, opts.lock);
  }

  /**
   * Opens a store directory. With `create`, a missing store is created (its root group written under the
   * lock). Throws {@link StoreError} when the path is not a Zarr store.
   */
  static async open(root: string, opts: StoreOptions = {}): Promise<ZarrStore> {
    const store = new ZarrStore(await realStorePath(root), opts);
    const st = await Deno.stat(store.root).catch(() => null);
    if (st && !st.isDirectory) {
      throw new StoreError(`${store.root}: not a readable Zarr store (not a directory)`);
    }
    const info = await store.readNode("").catch((err) => {
      throw new StoreError(`${store.root}: not a readable Zarr store (${(err as Error).message})`);
    });
    if (info?.kind === "group") return store;
    if (info) throw new StoreError(`${store.root}: the store root is an array, not a group`);
    if (!opts.create) {
      const what = (await exists(store.root)) ? "has no zarr.json or .zgroup" : "does not exist";
      throw new NodeNotFoundError(`${store.root}: not a Zarr store (${what})`);
    }
    await store.lock.run(async () => {
      // Another process may have created it meanwhile; look again under the lock.
      if ((await store.readNode(""))?.kind === "group") return;
      // A directory with other content but no store metadata is someone's data, not a store to create
      // (a temp file of an interrupted creation does not count).
      const entries = await fs.readdir(store.root).catch(() => [] as string[]);
      if (entries.some((e) => !e.startsWith("zarr.json.tmp-") && !isTempName(e))) {
        throw new StoreError(
          `${store.root}: exists, is not empty and is not a Zarr store (no zarr.json or .zgroup)`,
        );
      }
      await store.#ensureGroupsLocked([]);
    });
    return store;
  }

  /** The file-system path of a store path (checked names only). */
  fsPath(nodePath: string): string {
    return path.join(this.root, ...checkNodePath(nodePath));
  }

  /**
   * Metadata of a node, format 3 or 2; null when the path holds none. Throws {@link UnreadableError} when
   * it cannot be read and {@link DamagedNodeError} when it is damaged (see files.ts).
   */
  readNodeSync(nodePath: string): NodeInfo | null {
    const dir = this.fsPath(nodePath);
    const v3File = path.join(dir, "zarr.json");
    const v3 = readJsonSync(this.root, v3File);
    if (v3 !== undefined) return parseV3(v3, v3File);
    for (const file of [".zarray", ".zgroup"]) {
      const v2File = path.join(dir, file);
      const v2 = readJsonSync(this.root, v2File);
      if (v2 !== undefined) {
        let attrs: unknown;
        try {
          attrs = readJsonSync(this.root, path.join(dir, ".zattrs"));
        } catch (err) {
          // Attributes that cannot be read are not the array's data; damaged ones are damage.
          if (err instanceof UnreadableError) throw err;
          throw new DamagedNodeError(`${path.join(dir, ".zattrs")}: ${(err as Error).message}`);
        }
        return parseV2(v2, attrs, v2File);
      }
    }
    return null;
  }

  /** {@link readNodeSync}, as a promise (the reads are a few small files; see files.ts for why sync). */
  readNode(nodePath: string): Promise<NodeInfo | null> {
    try {
      return Promise.resolve(this.readNodeSync(nodePath));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Metadata of an array; throws {@link NodeNotFoundError} or {@link StoreError} when it is not one. */
  async readArray(nodePath: string): Promise<ArrayInfo> {
    const info = await this.readNode(nodePath);
    if (!info) throw new NodeNotFoundError(`${this.root}: no array at ${nodePath}`);
    if (info.kind !== "array") throw new StoreError(`${this.root}: ${nodePath} is a group, not an array`);
    return info;
  }

  /**
   * The child directories of a group with their metadata (sorted by name). Metadata that cannot be read
   * is reported in `error` (and `unreadable` for permission and I/O errors), not thrown. Files other than
   * metadata are not children. Throws {@link UnreadableError} when the group cannot be listed.
   */
  listChildrenSync(nodePath: string): ChildNode[] {
    const dir = this.fsPath(nodePath);
    return listDirectoriesSync(dir).map((name) => this.childSync(joinNodePath(nodePath, name)));
  }

  /**
   * The node at `nodePath` as a {@link ChildNode}: its metadata, or why it could not be read (with
   * `unreadable` for permission and I/O errors). Never throws.
   */
  childSync(nodePath: string): ChildNode {
    const name = nodePath.split("/").pop() ?? "";
    try {
      checkNodeName(name);
      return { name, path: nodePath, info: this.readNodeSync(nodePath) };
    } catch (err) {
      const child: ChildNode = { name, path: nodePath, info: null, error: (err as Error).message };
      if (err instanceof UnreadableError) child.unreadable = true;
      return child;
    }
  }

  /** {@link listChildrenSync}, as a promise. */
  listChildren(nodePath: string): Promise<ChildNode[]> {
    try {
      return Promise.resolve(this.listChildrenSync(nodePath));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Creates the group at `nodePath` and every missing parent, under the lock. Refuses a v2 store. */
  async ensureGroups(nodePath: string): Promise<void> {
    const parts = checkNodePath(nodePath);
    await this.lock.run(() => this.#ensureGroupsLocked(parts));
  }

  async #ensureGroupsLocked(parts: string[]): Promise<void> {
    for (let i = 0; i <= parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      const info = await this.readNode(p);
      if (info?.kind === "group") {
        if (info.format === 2) {
          throw new StoreError(`${this.fsPath(p)}: a Zarr format 2 group (read-only here)`);
        }
        continue;
      }
      if (info) throw new StoreError(`${this.fsPath(p)}: is an array, cannot hold children`);
      const dir = this.fsPath(p);
      if (i === 0 || await exists(dir)) {
        await fs.mkdir(dir, { recursive: true });
        await writeFileAtomic(path.join(dir, "zarr.json"), groupMetadataJson());
      } else {
        // Made under a temp name and renamed, so a group never appears without its metadata.
        const temp = path.join(path.dirname(dir), tempName(parts[i - 1]));
        await fs.mkdir(temp);
        await fs.writeFile(path.join(temp, "zarr.json"), groupMetadataJson());
        await fs.rename(temp, dir);
      }
    }
  }

  /**
   * Starts building array `name` in group `groupPath` under a temporary name. The group is created (with
   * its parents) when the array is committed, not now, so nothing appears in the hierarchy before then
   * except the temp directory.
   */
  async beginArray(groupPath: string, name: string, spec: ArraySpec): Promise<ArrayBuild> {
    checkArraySpec(spec);
    checkNodeName(name, "array name");
    if (isTempName(name)) {
      throw new StoreError(`array name ${JSON.stringify(name)} is reserved for temp arrays`);
    }
    const groupParts = checkNodePath(groupPath);
    await this.ensureGroups(groupParts.join("/"));
    // The temp name records this process; the owner lock tells later runs whether it still runs.
    await registerOwner(this.root);
    const temp = tempName(name);
    const dir = path.join(this.root, ...groupParts, temp);
    await fs.mkdir(dir);
    return new ArrayBuild(this, groupParts.join("/"), name, temp, spec);
  }

  /**
   * Removes a node (array or group, with everything under it). It is first renamed to a `_temp_del_`
   * name under the lock, so an interrupted removal leaves a temp node, never a half-deleted array.
   * Returns false when it did not exist.
   */
  async deleteNode(nodePath: string): Promise<boolean> {
    const parts = checkNodePath(nodePath);
    if (parts.length === 0) throw new StoreError(`${this.root}: refusing to delete the store root`);
    const dir = this.fsPath(nodePath);
    await registerOwner(this.root);
    const trash = path.join(path.dirname(dir), tempName(parts[parts.length - 1], "del"));
    const moved = await this.lock.run(async () => {
      if (!(await exists(dir))) return false;
      await fs.rename(dir, trash);
      return true;
    });
    if (moved) await fs.rm(trash, { recursive: true, force: true });
    return moved;
  }

  /**
   * Removes a temp node (no rename: it is not part of the data). Refuses a path whose last name is not a
   * temp name. Runs under the lock, so it never removes a temp array while it is being renamed into place.
   */
  async deleteTemp(nodePath: string): Promise<boolean> {
    const parts = checkNodePath(nodePath);
    if (parts.length === 0 || !isTempName(parts[parts.length - 1])) {
      throw new StoreError(`${nodePath}: not a temp node`);
    }
    const dir = this.fsPath(nodePath);
    return await this.lock.run(async () => {
      if (!(await exists(dir))) return false;
      await fs.rm(dir, { recursive: true, force: true });
      return true;
    });
  }

  /** Updates a v3 node's attributes atomically under the lock; `update` gets a copy and returns the new ones. */
  async updateAttributes(
    nodePath: string,
    update: (attributes: Record<string, unknown>) => Record<string, unknown>,
  ): Promise<void> {
    const file = path.join(this.fsPath(nodePath), "zarr.json");
    await this.lock.run(async () => {
      const doc = readJsonSync(this.root, file) as Record<string, unknown> | undefined;
      if (!doc) throw new NodeNotFoundError(`${file}: no Zarr format 3 node to update`);
      parseV3(doc, file);
      doc.attributes = update(structuredClone((doc.attributes ?? {}) as Record<string, unknown>));
      await writeFileAtomic(file, pythonJson(doc));
    });
  }

  /** Nothing to release any more (kept so callers can close a store they are done with). */
  close(): void {}

  /**
   * Finishes what a process that died left behind in temp node `tempPath` (call it only for orphans, see
   * owner.ts), under the lock. When nothing is under the final name: a complete new array (completion
   * marker written) is renamed into place, the process died between its two renames; an old array moved
   * aside by a replace goes back. Anything else (a build cut short, a node being deleted, a temp whose final
   * name is taken) is removed.
   */
  async recoverTemp(tempPath: string): Promise<"installed" | "restored" | "removed"> {
    const parts = checkNodePath(tempPath);
    const parsed = parseTempName(parts[parts.length - 1] ?? "");
    if (!parsed) throw new StoreError(`${tempPath}: not a temp node made by this toolkit`);
    const dir = this.fsPath(tempPath);
    const finalDir = path.join(path.dirname(dir), parsed.final);
    const outcome = await this.lock.run(async () => {
      if (!(await exists(dir))) return "removed" as const;
      if (parsed.purpose !== "del" && checkNodeName(parsed.final) && !(await exists(finalDir))) {
        const info = await this.readNode(joinNodePath(...parts)).catch(() => null);
        const whole = info?.kind === "array" &&
          (parsed.purpose === "old" || this.#isWhole(joinNodePath(...parts), info));
        if (whole) {
          await fs.rename(dir, finalDir);
          return parsed.purpose === "old" ? "restored" as const : "installed" as const;
        }
      }
      return "removed" as const;
    });
    if (outcome === "removed") await fs.rm(dir, { recursive: true, force: true });
    return outcome;
  }

  /** A marked-complete array whose recorded chunk files are all there (see verify.ts). */
  #isWhole(nodePath: string, info: ArrayInfo): boolean {
    if (!isMarkedComplete(info)) return false;
    try {
      return verifyArrayFiles(this.root, this.fsPath(nodePath), info).evidence.length === 0;
    } catch {
      return false;
    }
  }

  /** @internal Renames a finished temp array into place under the lock (see {@link ArrayBuild.commit}). */
  async _install(
    groupPath: string,
    name: string,
    temp: string,
    keepComplete: boolean,
  ): Promise<{ replaced: boolean; kept: boolean }> {
    const groupDir = this.fsPath(groupPath);
    const finalDir = path.join(groupDir, name);
    const tempDir = path.join(groupDir, temp);
    const trash = path.join(groupDir, tempName(name, "old"));
    const outcome = await this.lock.run(async () => {
      await this.#ensureGroupsLocked(checkNodePath(groupPath));
      const current = await this.readNode(joinNodePath(groupPath, name)).catch(() => null);
      if (
        keepComplete && current?.kind === "array" && this.#isWhole(joinNodePath(groupPath, name), current)
      ) {
        return { replaced: false, kept: true };
      }
      // The temp array may have been removed meanwhile (a temp cleanup, or its group deleted): check
      // before the old array is moved away, and move it back if the new one cannot take its place.
      if (!(await exists(path.join(tempDir, "zarr.json")))) {
        throw new StoreError(`${tempDir}: the temp array disappeared before it was renamed into place`);
      }
      const present = await exists(finalDir);
      if (present) await fs.rename(finalDir, trash);
      if (present) await storeTestHooks.betweenRenames?.(finalDir);
      try {
        await fs.rename(tempDir, finalDir);
      } catch (err) {
        if (present) await fs.rename(trash, finalDir);
        throw new StoreError(
          `${finalDir}: cannot rename the new array into place (${(err as Error).message})`,
        );
      }
      return { replaced: present, kept: false };
    });
    if (outcome.replaced) await fs.rm(trash, { recursive: true, force: true });
    if (outcome.kept) await fs.rm(tempDir, { recursive: true, force: true });
    return outcome;
  }
}

/**
 * An array being built under a temporary name. Chunk rows are split into chunks and encoded on the
 * calling thread ({@link writeChunkRow}), or by a worker given the build's {@link handle} (which calls
 * `writeChunkRow` of chunks.ts and hands back what it wrote, to {@link addWritten}). Either way the build
 * knows the key of every chunk file written, and {@link commit} checks them against the directory before
 * the array is renamed into place: a temp array that lost files (or vanished) is never installed.
 */
export class ArrayBuild {
  /** Store path of the group. */
  readonly groupPath: string;
  /** Final name of the array. */
  readonly name: string;
  /** Temporary name it is built under. */
  readonly tempName: string;
  /** Shape, type and chunks. */
  readonly spec: ArraySpec;
  /** File-system path of the temp array directory (where chunk files go). */
  readonly dir: string;
  #store: ZarrStore;
  #scratch?: StoreTypedArray;
  #bands = new WeakSet<StoreTypedArray>();
  #freeBands: StoreTypedArray[] = [];
  #written = { bytes: 0, keys: new Set<string>() };
  #done = false;

  /** @internal use {@link ZarrStore.beginArray} */
  constructor(store: ZarrStore, groupPath: string, name: string, temp: string, spec: ArraySpec) {
    this.#store = store;
    this.groupPath = groupPath;
    this.name = name;
    this.tempName = temp;
    this.spec = spec;
    this.dir = store.fsPath(joinNodePath(groupPath, temp));
  }

  /** What a worker needs to write this build's chunks (plain data: it crosses to a Web Worker). */
  handle(): BuildHandle {
    return { dir: this.dir, spec: this.spec };
  }

  /** Number of chunk rows. */
  get chunkRows(): number {
    return Math.ceil(this.spec.shape[0] / this.spec.chunks[0]);
  }

  /** Rows [y0, y1) of chunk row `row`. */
  rowsOf(row: number): [number, number] {
    const y0 = row * this.spec.chunks[0];
    return [y0, Math.min(this.spec.shape[0], y0 + this.spec.chunks[0])];
  }

  /**
   * A buffer for chunk row `row`. Bands taken here are recycled once written, so filling one band after
   * another reuses the same memory.
   */
  takeBand(row: number): StoreTypedArray {
    const [y0, y1] = this.rowsOf(row);
    const n = (y1 - y0) * this.spec.shape[1];
    const i = this.#freeBands.findIndex((b) => b.length === n);
    if (i >= 0) return this.#freeBands.splice(i, 1)[0];
    const band = allocate(this.spec.dtype, n);
    this.#bands.add(band);
    return band;
  }

  #recycle(band: StoreTypedArray): void {
    if (this.#bands.has(band) && !this.#freeBands.includes(band) && this.#freeBands.length < 2) {
      this.#freeBands.push(band);
    }
  }

  /**
   * Splits chunk row `row` into chunks and writes the ones that are not all fill (encoded on this
   * thread). A wrong band size, or a temp array that vanished, throws {@link StoreError}.
   */
  writeChunkRow(row: number, band: StoreTypedArray): void {
    this.#check();
    const n = this.spec.chunks[0] * this.spec.chunks[1];
    this.#scratch ??= allocate(this.spec.dtype, n);
    this.addWritten(writeChunkRow(this.dir, this.spec, row, band, this.#scratch));
    this.#recycle(band);
  }

  /** Records chunk files written into {@link dir} by a worker holding the {@link handle}. */
  addWritten(result: Pick<BandWriteResult, "bytes" | "keys">): void {
    this.#written.bytes += result.bytes;
    for (const key of result.keys) this.#written.keys.add(key);
  }

  /**
   * Checks that every chunk file written is in the temp directory, writes `zarr.json` with `attributes`
   * plus the completion marker (with `provenance`, the count of stored chunks and the keys of the
   * all-fill chunks left out), and renames the array into place under the lock. With `keepComplete`, an
   * array already complete under the final name (another process finished first) is kept and ours
   * discarded. On failure the temp array is removed and the error rethrown.
   */
  async commit(
    attributes: Record<string, unknown>,
    provenance: Provenance = {},
    opts: { keepComplete?: boolean } = {},
  ): Promise<CommitResult> {
    this.#check();
    try {
      const written = this.#written.keys;
      const info = { ...this.spec, chunkKey: (c: readonly number[]) => defaultChunkKey(c) };
      const onDisk = scanChunkFilesSync(this.#store.root, this.dir, info).files.map((f) => f.key);
      const lost = [...written].filter((key) => !onDisk.includes(key));
      if (lost.length > 0) {
        throw new StoreError(
          `${this.dir}: ${lost.length} chunk file(s) written are gone before the commit (${
            lost.slice(0, 3).join(", ")
          }); the temp array was changed by another process`,
        );
      }
      const marker: CompletionMarker = {
        ...provenance,
        complete: true,
        stored_chunks: written.size,
        fill_chunks: gridKeys(info).filter((key) => !written.has(key)),
        written_at: new Date().toISOString(),
        writer: `${TOOLKIT} ${VERSION}`,
      };
      const meta = arrayMetadataJson(this.spec, { ...attributes, [MARKER_KEY]: marker });
      // Not recreated when the directory vanished: writeFile fails on a missing parent.
      await fs.writeFile(path.join(this.dir, "zarr.json"), meta).catch((err) => {
        throw new StoreError(`${this.dir}: cannot write zarr.json (${(err as Error).message})`);
      });
      const outcome = await this.#store._install(
        this.groupPath,
        this.name,
        this.tempName,
        opts.keepComplete ?? false,
      );
      this.#done = true;
      this.#releaseBuffers();
      return {
        path: joinNodePath(this.groupPath, this.name),
        ...outcome,
        storedChunks: written.size,
        bytes: this.#written.bytes,
      };
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Abandons the build and removes the temp array (best effort). */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#releaseBuffers();
    await fs.rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }

  // The chunk buffer is ours alone: free it now rather than at some later garbage collection.
  #releaseBuffers(): void {
    if (this.#scratch) releaseBuffer(this.#scratch);
    this.#scratch = undefined;
  }

  #check(): void {
    if (this.#done) throw new StoreError(`${this.dir}: array build already finished`);
  }
}

/** What a worker needs to write the chunks of an {@link ArrayBuild} (see {@link ArrayBuild.handle}). */
export interface BuildHandle {
  /** The temp array directory. */
  dir: string;
  /** Shape, type and chunks. */
  spec: ArraySpec;
}
