/**
 * The toolkit's version, recorded in the provenance of every array it writes. Kept equal to `deno.json`'s
 * `version` (a test checks).
 * @module
 */

/** The toolkit's version. */
export const VERSION = "0.1.0";

/** The toolkit's name as it appears in provenance and `User-Agent`. */
export const TOOLKIT = "ps1-zarr";
