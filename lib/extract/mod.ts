/**
 * Extraction from the PS1 skycell Zarr store back to FITS: one array or a cutout to a file or to bytes,
 * batches per skycell or per band, and the store's contents with per-skycell completeness. `ZarrStore`
 * is re-exported for opening the store the functions take.
 *
 * @example
 * ```ts ignore
 * import { extractArray, ZarrStore } from "./mod.ts";
 * const store = await ZarrStore.open("data/ps1_skycells_zarr/ps1_skycells.zarr");
 * await extractArray(store, { skycell: "skycell.2556.080", band: "r", kind: "image" }, "cut.fits", {
 *   region: { pixels: { x0: 1000, x1: 1500, y0: 2000, y1: 2500 } },
 * });
 * store.close();
 * ```
 * @module
 */

export { ZarrStore } from "../zarr/store.ts";
export type { ArrayKind } from "../store/layout.ts";
export * from "./errors.ts";
export * from "./wcs.ts";
export * from "./region.ts";
export * from "./extract.ts";
export * from "./bands.ts";
export * from "./batch.ts";
export * from "./list.ts";
