/**
 * The inventory of the PS1 skycell Zarr store: what is there, what is complete, what is damaged, and a
 * cleanup that removes only what it was asked to and re-checks each item first. State definitions are in
 * `records.ts`, cleanup rules in `cleanup.ts`, report files in `report.ts`.
 *
 * @example
 * ```ts ignore
 * import { inventory } from "./mod.ts";
 * const inv = await inventory("data/ps1_skycells_zarr/ps1_skycells.zarr");
 * inv.summary.skycells.complete;
 * ```
 * @module
 */

export * from "./records.ts";
export {
  checkInventoryBands,
  dataRootOf,
  inventory,
  InventoryOptionError,
  isHealthy,
  problemCount,
} from "./inventory.ts";
export type { ExpectedOptions, InventoryOptions } from "./inventory.ts";
export { cleanup, CLEANUP_CATEGORIES, DEFAULT_TEMP_MIN_AGE_SECONDS, tempVerdict } from "./cleanup.ts";
export type {
  CleanupCategory,
  CleanupItem,
  CleanupOptions,
  CleanupResult,
  IncompleteMode,
  Verdict,
} from "./cleanup.ts";
export {
  arrayRows,
  cleanupRows,
  expectedRows,
  formatCleanup,
  formatSummary,
  inventoryJson,
  skycellRows,
  timestampOf,
  writeReports,
} from "./report.ts";
export type { ReportOptions, ReportPaths } from "./report.ts";
