/**
 * Recovery after processes that died: their temp arrays and groups in the store, and their spool folders
 * beside it, behind one call. A temp node is touched only when its maker is certainly gone (an owner on
 * this host whose lock is free, see `lib/zarr/owner.ts`); a finished build is installed, an old array
 * moved aside by an interrupted replace is restored, anything else is removed.
 *
 * @example
 * ```ts ignore
 * await recoverDeadProcesses(store, { projections: ["2556"], spoolRoot: "data/ps1_skycells_zarr/.download_spool" });
 * ```
 * @module
 */

import * as fs from "node:fs/promises";
import * as path from "node:path";
import { type Logger, silentLogger } from "../cli/log.ts";
import { isTempName, joinNodePath, ownerToken, parseOwnerToken, parseTempName } from "../zarr/names.ts";
import { isOrphanTemp, isOwnerGone, registerOwner } from "../zarr/owner.ts";
import type { ZarrStore } from "../zarr/store.ts";

/**
 * Orphan temp nodes above skycell level (a projection or skycell group being created or deleted by a
 * process that died): at the store root and in the given projection groups. Only directory names are read.
 */
export async function upperOrphans(store: ZarrStore, projections: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const group of ["", ...new Set(projections)]) {
    const names = await fs.readdir(store.fsPath(group)).catch(() => [] as string[]);
    for (const name of names) {
      if (isTempName(name) && await isOrphanTemp(store.root, name)) found.push(joinNodePath(group, name));
    }
  }
  return found;
}

/**
 * Finishes the work of processes that died in this store (`orphans`: store paths of their temp nodes):
 * new arrays whose build completed are installed, old arrays moved aside by an interrupted replace are
 * restored, the rest is removed. New builds go first, so a finished replacement wins over the array it
 * replaced. A node that cannot be recovered is reported and left.
 */
export async function recoverOrphans(
  store: ZarrStore,
  orphans: readonly string[],
  log: Logger = silentLogger,
): Promise<void> {
  const order = (p: string) => (parseTempName(p.split("/").pop()!)?.purpose === "new" ? 0 : 1);
  for (const orphan of [...orphans].sort((a, b) => order(a) - order(b))) {
    try {
      const outcome = await store.recoverTemp(orphan);
      log.info(`${orphan} (left by a process that no longer runs): ${outcome}`);
    } catch (err) {
      log.warn(`${orphan}: ${(err as Error).message}`);
    }
  }
}

/**
 * Opens this process's spool folder under `spoolRoot` (named by its owner token) after removing the
 * folders of processes on this host that no longer run (leftovers of a kill). Registers this process as
 * a live owner of the store first. Returns the folder.
 */
export async function openSpool(store: ZarrStore, spoolRoot: string): Promise<string> {
  await fs.mkdir(spoolRoot, { recursive: true });
  await registerOwner(store.root);
  for (const entry of await fs.readdir(spoolRoot).catch(() => [] as string[])) {
    const owner = parseOwnerToken(entry);
    if (owner && await isOwnerGone(store.root, owner.host, owner.pid)) {
      await fs.rm(path.join(spoolRoot, entry), { recursive: true, force: true }).catch(() => {});
    }
  }
  const dir = path.join(spoolRoot, ownerToken());
  await fs.mkdir(dir);
  return dir;
}

/**
 * The one call before a run writes: this process's spool folder (dead processes' folders removed) and
 * the temp nodes dead processes left at the store root and in `projections` recovered. Returns the spool
 * folder.
 */
export async function recoverDeadProcesses(
  store: ZarrStore,
  opts: { projections: readonly string[]; spoolRoot: string; log?: Logger },
): Promise<string> {
  const spool = await openSpool(store, opts.spoolRoot);
  await recoverOrphans(store, await upperOrphans(store, opts.projections), opts.log);
  return spool;
}
