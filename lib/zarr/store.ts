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
  checkBand,
  chunkOfBand,
  releaseBuffer,
  type StoreTypedArray,
  writeChunkRow,
} from "./chunks.ts";
import type { ChunkDone, ChunkTask } from "./encode_worker.ts";
import { NodeNotFoundError, StoreError } from "./errors.ts";
import { parseJson, pythonJson } from "./json.ts";
import { StoreLock, type StoreLockOptions } from "./lock.ts";
import {
  type ArrayInfo,
  arrayMetadataJson,
  type ArraySpec,
  checkArraySpec,
  groupMetadataJson,
  type NodeInfo,
  parseV2,
  parseV3,
} from "./metadata.ts";
import { checkNodeName, checkNodePath, isTempName, joinNodePath, parseTempName, tempName } from "./names.ts";
import { registerOwner } from "./owner.ts";
import { WorkerPool } from "./pool.ts";
import { TOOLKIT, VERSION } from "../version.ts";

/** The attribute that holds the completion marker and provenance of arrays the toolkit wrote. */
export const MARKER_KEY = "ps1_zarr";

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
}

/** Options of {@link ZarrStore.open}. */
export interface StoreOptions {
  /** Create the store (root group) when it does not exist. */
  create?: boolean;
  /** Lock timeout and wait callback. */
  lock?: StoreLockOptions;
  /** Workers of the chunk encoding pool (default: the number of cores). */
  workers?: number;
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

async function readJson(file: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StoreError(`${file}: cannot read (${(err as Error).message})`);
  }
  try {
    return parseJson(text);
  } catch (err) {
    throw new StoreError(`${file}: invalid JSON (${(err as Error).message})`);
  }
}

async function exists(p: string): Promise<boolean> {
  return await fs.stat(p).then(() => true, () => false);
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

/** A Zarr directory store. */
export class ZarrStore {
  /** Absolute path of the store directory. */
  readonly root: string;
  /** The store's lock. */
  readonly lock: StoreLock;
  #workers: number;
  #pool?: WorkerPool<ChunkTask, ChunkDone>;

  private constructor(root: string, opts: StoreOptions) {
    this.root = root;
    this.lock = new StoreLock(root, opts.lock);
    this.#workers = opts.workers ?? (navigator.hardwareConcurrency || 1);
  }

  /**
   * Opens a store directory. With `create`, a missing store is created (its root group written under the
   * lock). Throws {@link StoreError} when the path is not a Zarr store.
   */
  static async open(root: string, opts: StoreOptions = {}): Promise<ZarrStore> {
    const store = new ZarrStore(path.resolve(root), opts);
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

  /** Metadata of a node, format 3 or 2; null when the path holds none. Throws on unreadable metadata. */
  async readNode(nodePath: string): Promise<NodeInfo | null> {
    const dir = this.fsPath(nodePath);
    const v3 = await readJson(path.join(dir, "zarr.json"));
    if (v3 !== undefined) return parseV3(v3, path.join(dir, "zarr.json"));
    for (const file of [".zarray", ".zgroup"]) {
      const v2 = await readJson(path.join(dir, file));
      if (v2 !== undefined) {
        return parseV2(
          v2,
          await readJson(path.join(dir, ".zattrs")).catch(() => undefined),
          path.join(dir, file),
        );
      }
    }
    return null;
  }

  /** Metadata of an array; throws {@link NodeNotFoundError} or {@link StoreError} when it is not one. */
  async readArray(nodePath: string): Promise<ArrayInfo> {
    const info = await this.readNode(nodePath);
    if (!info) throw new NodeNotFoundError(`${this.root}: no array at ${nodePath}`);
    if (info.kind !== "array") throw new StoreError(`${this.root}: ${nodePath} is a group, not an array`);
    return info;
  }

  /**
   * The child directories of a group with their metadata (sorted by name). Unreadable metadata is
   * reported in `error`, not thrown. Files other than metadata are not children.
   */
  async listChildren(nodePath: string): Promise<ChildNode[]> {
    const dir = this.fsPath(nodePath);
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new StoreError(`${dir}: cannot list (${(err as Error).message})`);
    }
    const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    return await Promise.all(dirs.map(async (name): Promise<ChildNode> => {
      const childPath = joinNodePath(nodePath, name);
      try {
        checkNodeName(name);
        return { name, path: childPath, info: await this.readNode(childPath) };
      } catch (err) {
        return { name, path: childPath, info: null, error: (err as Error).message };
      }
    }));
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

  /** The shared chunk encoding pool (started on first use). */
  encodePool(): WorkerPool<ChunkTask, ChunkDone> {
    this.#pool ??= new WorkerPool(new URL("./encode_worker.ts", import.meta.url), this.#workers);
    return this.#pool;
  }

  /** Workers of the encoding pool. */
  get workers(): number {
    return this.#workers;
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
      const doc = await readJson(file) as Record<string, unknown> | undefined;
      if (!doc) throw new NodeNotFoundError(`${file}: no Zarr format 3 node to update`);
      parseV3(doc, file);
      doc.attributes = update(structuredClone((doc.attributes ?? {}) as Record<string, unknown>));
      await writeFileAtomic(file, pythonJson(doc));
    });
  }

  /** Stops the encoding workers. */
  close(): void {
    this.#pool?.close();
    this.#pool = undefined;
  }

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
        const whole = info?.kind === "array" && (parsed.purpose === "old" || isMarkedComplete(info));
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
      if (keepComplete && current?.kind === "array" && isMarkedComplete(current)) {
        return { replaced: false, kept: true };
      }
      // The temp array may have been removed meanwhile (a temp cleanup, or its group deleted): check
      // before the old array is moved away, and move it back if the new one cannot take its place.
      if (!(await exists(path.join(tempDir, "zarr.json")))) {
        throw new StoreError(`${tempDir}: the temp array disappeared before it was renamed into place`);
      }
      const present = await exists(finalDir);
      if (present) await fs.rename(finalDir, trash);
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

/** True when an array's attributes carry the toolkit's completion marker. */
export function isMarkedComplete(info: Pick<ArrayInfo, "attributes">): boolean {
  const marker = info.attributes[MARKER_KEY] as { complete?: unknown } | undefined;
  return marker?.complete === true;
}

/**
 * An array being built under a temporary name. Chunk rows are split into chunks here and the chunks
 * encoded by the store's worker pool ({@link writeChunkRow}), or encoded on this thread
 * ({@link writeChunkRowSync}), or written by the caller's own workers and counted with {@link addWritten}.
 * At most `maxInFlight` chunks wait for or sit in a worker at once, which bounds memory: one band and a
 * few chunk buffers, whatever the array's size.
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
  #inFlight = new Set<Promise<void>>();
  #freeChunks: StoreTypedArray[] = [];
  #scratch?: StoreTypedArray;
  #bands = new WeakSet<StoreTypedArray>();
  #freeBands: StoreTypedArray[] = [];
  #written: BandWriteResult = { written: 0, bytes: 0 };
  #failure: Error | null = null;
  #done = false;
  /** Chunks queued for or being encoded by the workers, at most (twice the workers). */
  readonly maxInFlight: number;

  /** @internal use {@link ZarrStore.beginArray} */
  constructor(store: ZarrStore, groupPath: string, name: string, temp: string, spec: ArraySpec) {
    this.#store = store;
    this.groupPath = groupPath;
    this.name = name;
    this.tempName = temp;
    this.spec = spec;
    this.dir = store.fsPath(joinNodePath(groupPath, temp));
    this.maxInFlight = 2 * store.workers;
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
   * Splits chunk row `row` into chunks and queues the ones that are not all fill for the workers. Resolves
   * once every chunk is queued (waiting while `maxInFlight` are); the band is copied, not kept, so it can
   * be refilled then (a band from {@link takeBand} goes back to it). A wrong band size rejects at once; an
   * encoding or write failure fails the {@link commit}.
   */
  async writeChunkRow(row: number, band: StoreTypedArray): Promise<void> {
    this.#check();
    checkBand(this.dir, this.spec, row, band);
    const [cr, cc] = this.spec.chunks;
    const rowDir = path.join(this.dir, "c", String(row));
    let made = false;
    for (let col = 0; col * cc < this.spec.shape[1]; col++) {
      while (this.#inFlight.size >= this.maxInFlight) await Promise.race(this.#inFlight);
      this.#check();
      const chunk = this.#freeChunks.pop() ?? allocate(this.spec.dtype, cr * cc);
      if (!chunkOfBand(this.spec, row, col, band, chunk)) {
        this.#freeChunks.push(chunk);
        continue;
      }
      if (!made) {
        await fs.mkdir(rowDir, { recursive: true });
        made = true;
      }
      const task: ChunkTask = { file: path.join(rowDir, String(col)), chunk };
      const job = this.#store.encodePool().run(task, [chunk.buffer]).then(
        (done) => {
          this.addWritten({ written: 1, bytes: done.bytes });
          this.#freeChunks.push(done.chunk);
        },
        (err) => {
          this.#failure ??= new StoreError(`${task.file}: ${(err as Error).message}`);
        },
      ).finally(() => this.#inFlight.delete(job));
      this.#inFlight.add(job);
    }
    this.#recycle(band);
  }

  /** Encodes and writes chunk row `row` on this thread (no workers). */
  writeChunkRowSync(row: number, band: StoreTypedArray): void {
    this.#check();
    const n = this.spec.chunks[0] * this.spec.chunks[1];
    this.#scratch ??= allocate(this.spec.dtype, n);
    this.addWritten(writeChunkRow(this.dir, this.spec, row, band, this.#scratch));
    this.#recycle(band);
  }

  /** Counts chunk files written into {@link dir} by someone else (e.g. a decoding worker). */
  addWritten(result: BandWriteResult): void {
    this.#written.written += result.written;
    this.#written.bytes += result.bytes;
  }

  /**
   * Waits for the queued rows, writes `zarr.json` with `attributes` plus the completion marker (with
   * `provenance`), and renames the array into place under the lock. With `keepComplete`, an array
   * already complete under the final name (another process finished first) is kept and ours discarded.
   * On failure the temp array is removed and the error rethrown.
   */
  async commit(
    attributes: Record<string, unknown>,
    provenance: Provenance = {},
    opts: { keepComplete?: boolean } = {},
  ): Promise<CommitResult> {
    this.#check();
    try {
      await Promise.all(this.#inFlight);
      if (this.#failure) throw this.#failure;
      const marker: CompletionMarker = {
        ...provenance,
        complete: true,
        stored_chunks: this.#written.written,
        written_at: new Date().toISOString(),
        writer: `${TOOLKIT} ${VERSION}`,
      };
      const meta = arrayMetadataJson(this.spec, { ...attributes, [MARKER_KEY]: marker });
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
        storedChunks: this.#written.written,
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
    await Promise.allSettled(this.#inFlight);
    this.#releaseBuffers();
    await fs.rm(this.dir, { recursive: true, force: true }).catch(() => {});
  }

  // The chunk buffers are ours alone: free them now rather than at some later garbage collection.
  #releaseBuffers(): void {
    for (const chunk of this.#freeChunks.splice(0)) releaseBuffer(chunk);
    if (this.#scratch) releaseBuffer(this.#scratch);
    this.#scratch = undefined;
  }

  #check(): void {
    if (this.#done) throw new StoreError(`${this.dir}: array build already finished`);
    if (this.#failure) throw this.#failure;
  }
}
