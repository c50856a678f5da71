/**
 * What the inventory reports, and the exact meaning of every state.
 *
 * ## Arrays
 *
 * For each skycell group and each expected array name (`r`, `r_mask`, `r_wt`, ... for the chosen bands),
 * the status is the store layer's verdict (`lib/store/state.ts`, the one rule the download, `--list` and
 * the extractor also follow), with `complete` called `healthy`:
 *
 * | status | rule |
 * |---|---|
 * | `missing` | the group has no child directory of that name |
 * | `unreadable` | something of the array cannot be read by this process (permissions, I/O errors): reported, never removed, no evidence of damage |
 * | `corrupt` | the directory exists and at least one {@link ProblemCode} (evidence of damage) was found |
 * | `healthy` | the directory exists and no problem was found |
 *
 * Evidence of damage is only: metadata that is absent, not valid JSON, no array metadata, or breaks the
 * contract (a wrong dtype or dimensionality for the kind, an impossible chunk grid or chunk key separator),
 * a header attribute that is absent (on the array and on the skycell group) or is no FITS header, a shape
 * that contradicts the header's NAXIS2 x NAXIS1, a completion marker that is not `complete: true`, a
 * chunk file the marker records that is gone (or, for older markers that record only the count, fewer
 * chunk files than it), a chunk file that is empty, larger than a chunk can be or not a regular file
 * inside the store, and (with `deep`) a chunk that does not decode to exactly the chunk's size. Content is
 * never judged: an all-NaN image corner, an all-zero mask or absent all-fill chunks are normal. Anything
 * unusual that is not damage is a note.
 *
 * What each depth catches:
 *
 * - metadata-only (the default): everything above except chunk contents. A torn chunk file is caught only
 *   when it is empty or too large, or when it is gone from an array the toolkit wrote. An array written by
 *   zarr-python has no marker, so for it a missing chunk file cannot be told from an all-fill chunk:
 *   metadata, header and shape are all that is judged.
 * - `deep`: also every stored chunk read (bounded) and decoded: a torn or truncated file (zstd frames walked
 *   to their end), a zstd error, a chunk that decodes to more or less than its size.
 *
 * Arrays of bands that were not chosen (e.g. `g` with the default r,i,z,y) are checked and listed with
 * role `other_band`; they do not count towards any skycell state.
 *
 * ## Skycells
 *
 * Each skycell group found (current layout `{PPPP}/skycell...` or legacy `projections/{PPPP}/skycell...`)
 * is in exactly one state, so complete + incomplete + corrupt + unreadable = total:
 *
 * | state | rule |
 * |---|---|
 * | `corrupt` | an expected array is corrupt, or the skycell group or a parent group has no readable metadata (whatever else is missing) |
 * | `unreadable` | not corrupt, and an expected array (or the group's listing) cannot be read by this process |
 * | `incomplete` | neither, and at least one expected array is missing (a group with no array at all included) |
 * | `complete` | every expected array is present and healthy |
 *
 * Temp arrays (`_temp_` in the name), unexpected nodes and other-band arrays are reported beside the
 * state and never change it. A skycell stored in both layouts gives two records.
 *
 * @module
 */

import type { ArrayKind } from "../store/layout.ts";
import type { Problem, ProblemCode } from "../store/state.ts";
import type { MarkerInfo } from "../zarr/verify.ts";

export type { ArrayKind };

/** The two store layouts: current `{PPPP}/skycell...` and legacy `projections/{PPPP}/skycell...`. */
export type Layout = "current" | "legacy";

export type { MarkerInfo, Problem, ProblemCode };

/** Status of an expected array: the store layer's verdict (`lib/store/state.ts`), `complete` called healthy. */
export type ArrayStatus = "healthy" | "corrupt" | "unreadable" | "missing";

/** One array of a skycell group (present, or expected and missing). */
export interface ArrayRecord {
  /** Skycell name. */
  skycell: string;
  /** Projection cell (from the name). */
  projection: string;
  /** Layout of the skycell group. */
  layout: Layout;
  /** Array name (`r`, `r_mask`, `r_wt`, ...). */
  name: string;
  /** Store path. */
  path: string;
  /** Band. */
  band: string;
  /** Image, mask or weight. */
  kind: ArrayKind;
  /** An array of a chosen band, or of another band (checked, but no part of any state). */
  role: "expected" | "other_band";
  /** See the module doc. */
  status: ArrayStatus;
  /** The directory exists. */
  exists: boolean;
  /** Zarr format of the metadata, when readable. */
  format: 2 | 3 | null;
  /** Data type (v3 spelling), when readable. */
  dtype: string | null;
  /** Shape, when readable. */
  shape: number[] | null;
  /** Chunk shape, when readable. */
  chunkShape: number[] | null;
  /** Codec names in order. */
  codecs: string[];
  /** Where the header came from, its length and image size; null without one. */
  header: { source: "array" | "group"; length: number; naxis1: number | null; naxis2: number | null } | null;
  /** Chunks of the chunk grid. */
  chunksExpected: number | null;
  /** Chunk files present (by the grid's keys). */
  chunksPresent: number | null;
  /** The toolkit's completion marker, if any. */
  marker: MarkerInfo | null;
  /** Bytes on disk: the chunk files (the whole directory when the metadata is unreadable). */
  bytesOnDisk: number;
  /** Decoded size: elements x item size (0 when the metadata is unreadable). */
  decodedBytes: number;
  /** Every stored chunk was read and decoded. */
  deep: boolean;
  /** Chunks decoded (deep), else null. */
  chunksDecoded: number | null;
  /** Stored chunks holding only the fill value (deep), else null. */
  chunksAllFill: number | null;
  /** Evidence of damage; non-empty exactly when the status is `corrupt`. */
  problems: Problem[];
  /** Unusual things that are not damage. */
  notes: string[];
  /** Cleanup may remove it when corrupt (false for a group standing where an array should be). */
  removable: boolean;
}

/** A temp node (`_temp_` in the name) at any level of the hierarchy. */
export interface TempRecord {
  /** Store path. */
  path: string;
  /** Its name. */
  name: string;
  /** The skycell whose group holds it, or null above skycell level. */
  skycell: string | null;
  /** Layout it was found in. */
  layout: Layout;
  /** Bytes of all files under it. */
  bytes: number;
  /** Number of files under it. */
  files: number;
  /** Newest modification or status change time of anything under it (ms since the epoch). */
  lastChangeMs: number;
}

/** A node that is not part of the layout: reported, never deleted. */
export interface UnexpectedRecord {
  /** Store path. */
  path: string;
  /** Its name. */
  name: string;
  /** The skycell whose group holds it, or null above skycell level. */
  skycell: string | null;
  /** What its metadata says (`directory` when it has none, `unreadable` when it cannot be read). */
  nodeType: "group" | "array" | "directory" | "unreadable";
}

/** Skycell state (see the module doc). */
export type SkycellState = "complete" | "incomplete" | "corrupt" | "unreadable";

/** One skycell group. */
export interface SkycellRecord {
  /** Skycell name. */
  name: string;
  /** Projection cell (from the name). */
  projection: string;
  /** Cell within the projection cell (`080`). */
  cell: string;
  /** Layout of the group. */
  layout: Layout;
  /** Store path of the group. */
  path: string;
  /** See the module doc. */
  state: SkycellState;
  /** Zarr format of the group metadata, when readable. */
  groupFormat: 2 | 3 | null;
  /** Damage of the group or a parent group (missing or unreadable metadata). */
  groupProblems: string[];
  /** Length of the group's own header attribute (old stores), or 0. */
  groupHeaderLength: number;
  /** Expected array names. */
  expected: string[];
  /** Expected arrays present (healthy or corrupt). */
  present: string[];
  /** Expected arrays missing. */
  missing: string[];
  /** Expected arrays present and corrupt. */
  corrupt: string[];
  /** Expected arrays present that this process cannot read (never removed). */
  unreadable: string[];
  /** Arrays of other bands. */
  otherBand: string[];
  /** Temp node names in the group. */
  temps: string[];
  /** Unexpected node names in the group. */
  unexpected: string[];
  /** Bytes on disk of its arrays (all bands) and temp nodes. */
  bytesOnDisk: number;
  /** Decoded size of its arrays (all bands). */
  decodedBytes: number;
}

/** Counts over the whole store. */
export interface Summary {
  /** The store directory. */
  store: string;
  /** Every stored chunk was decoded. */
  deep: boolean;
  /** Bands that make a skycell complete. */
  bands: string[];
  /** Skycell groups by state (complete + incomplete + corrupt + unreadable = total), and by layout. */
  skycells: {
    total: number;
    complete: number;
    incomplete: number;
    corrupt: number;
    unreadable: number;
    current: number;
    legacy: number;
  };
  /** Expected arrays (over all skycell groups) and other-band arrays. */
  arrays: {
    expected: number;
    present: number;
    healthy: number;
    corrupt: number;
    unreadable: number;
    missing: number;
    otherBand: number;
    otherBandCorrupt: number;
    chunksExpected: number;
    chunksPresent: number;
    /** Stored chunks holding only the fill value (deep only, else null). */
    chunksAllFill: number | null;
  };
  /** Temp nodes and their size. */
  temps: { count: number; bytes: number };
  /** Unexpected nodes (never deleted). */
  unexpected: number;
  /** Groups above skycell level without readable metadata. */
  storeProblems: string[];
  /** Things about the whole store that are not damage (e.g. consolidated metadata that may be stale). */
  storeNotes: string[];
  /** Bytes on disk of all arrays and temp nodes. */
  bytesOnDisk: number;
  /** Decoded size of all arrays. */
  decodedBytes: number;
  /** Decoded size / chunk bytes on disk of the arrays (absent all-fill chunks count as decoded), or null. */
  compressionRatio: number | null;
  /** Per band: skycell groups whose three arrays of that band are all healthy. */
  bandCompleteness: Record<string, { complete: number; total: number }>;
  /** Seconds the scan took. */
  seconds: number;
}

/** How one skycell of the expected list stands in the store. */
export interface ExpectedSkycell {
  /** Skycell name. */
  name: string;
  /** A main skycell of the CCD or a padding neighbour. */
  role: "main" | "padding";
  /** Its state, or `absent` when the store has no group for it. */
  state: SkycellState | "absent";
  /** Expected arrays it lacks (all of them when absent). */
  missing: string[];
  /** Its corrupt arrays. */
  corrupt: string[];
  /** Layout of the record used (current preferred), or null when absent. */
  layout: Layout | null;
}

/** The store compared with the skycell list a CCD needs. */
export interface ExpectedReport {
  /** The mapping CSV read. */
  csvPath: string;
  /** Where it was found: the newer or legacy path under the data root, or given. */
  source: "newer" | "legacy" | "given" | "footprint";
  /** TESS sector when looked up by sector/camera/CCD, else null. */
  sector: number | null;
  /** TESS camera, or null. */
  camera: number | null;
  /** TESS CCD, or null. */
  ccd: number | null;
  /** Expected skycells: complete + incomplete + corrupt + unreadable + absent = total. */
  total: number;
  /** Expected skycells complete in the store. */
  complete: number;
  /** Expected skycells incomplete in the store. */
  incomplete: number;
  /** Expected skycells corrupt in the store. */
  corrupt: number;
  /** Expected skycells with arrays this process cannot read. */
  unreadable: number;
  /** Expected skycells with no group in the store. */
  absent: number;
  /** One entry per expected skycell, sorted by name. */
  skycells: ExpectedSkycell[];
  /** Warnings of the mapping reader (e.g. no padding columns). */
  warnings: string[];
}

/** Everything one inventory found. */
export interface Inventory {
  /** The store directory (absolute). */
  store: string;
  /** Bands that make a skycell complete. */
  bands: string[];
  /** Chunks were decoded. */
  deep: boolean;
  /** When the scan started (ISO 8601). */
  startedAt: string;
  /** Skycell groups, sorted by name (current layout first). */
  skycells: SkycellRecord[];
  /** Arrays: every present array (all bands) and every missing expected array, in skycell order. */
  arrays: ArrayRecord[];
  /** Temp nodes at every level. */
  temps: TempRecord[];
  /** Unexpected nodes at every level. */
  unexpected: UnexpectedRecord[];
  /** The counts. */
  summary: Summary;
  /** The comparison with a CCD's skycell list, when asked for. */
  expected?: ExpectedReport;
}

/** Where an array record belongs: its skycell group and name, band and kind. */
export interface ArrayPlace {
  /** Skycell name. */
  skycell: string;
  /** Projection cell. */
  projection: string;
  /** Layout of the group. */
  layout: Layout;
  /** Array name. */
  name: string;
  /** Store path. */
  path: string;
  /** Band. */
  band: string;
  /** Image, mask or weight. */
  kind: ArrayRecord["kind"];
}

/** An array record with nothing measured yet: present and healthy until a check says otherwise, or missing. */
export function blankArrayRecord(place: ArrayPlace, exists: boolean): ArrayRecord {
  return {
    ...place,
    role: "expected",
    status: exists ? "healthy" : "missing",
    exists,
    format: null,
    dtype: null,
    shape: null,
    chunkShape: null,
    codecs: [],
    header: null,
    chunksExpected: null,
    chunksPresent: null,
    marker: null,
    bytesOnDisk: 0,
    decodedBytes: 0,
    deep: false,
    chunksDecoded: null,
    chunksAllFill: null,
    problems: [],
    notes: [],
    removable: exists,
  };
}
