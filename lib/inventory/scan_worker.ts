/**
 * Worker of the inventory: checks one skycell group per task (see `check.ts`) and answers with its
 * records.
 * @module
 */

import { serveTasks } from "../zarr/pool.ts";
import { ZarrStore } from "../zarr/store.ts";
import { checkSkycellGroup, type GroupScan, type GroupTask } from "./check.ts";

/** One group to check in the store at `root`. */
export interface ScanJob {
  /** The store directory. */
  root: string;
  /** The group. */
  task: GroupTask;
}

const stores = new Map<string, Promise<ZarrStore>>();

serveTasks<ScanJob, GroupScan>(async ({ root, task }) => {
  let store = stores.get(root);
  if (!store) stores.set(root, store = ZarrStore.open(root));
  return [await checkSkycellGroup(await store, task), []];
});
