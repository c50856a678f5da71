/**
 * The one verdict on an array of a skycell: `complete`, `missing`, `corrupt` or `unreadable`, with its
 * evidence. The download's plan (what to fetch again), the inventory (what to report and clean), the
 * extractor's `--list` and the extractor itself (what to refuse) all ask here, so they cannot disagree.
 *
 * It is cheap: metadata reads and a look at the chunk files' directory entries, never a decode (the
 * inventory's `--deep` decodes on top of it).
 *
 * | state | rule |
 * |---|---|
 * | `missing` | no directory of that name in the skycell group |
 * | `unreadable` | something of the array cannot be read by this process (permissions, I/O errors): no evidence of damage, and never removed |
 * | `corrupt` | evidence of damage (see {@link ProblemCode}): metadata that is absent, invalid or breaks the contract (2-D, the kind's dtype, a usable chunk grid), a header attribute that is absent or no FITS header or contradicts the shape, a completion marker that is not `complete: true`, a chunk file the marker records that is gone, or a chunk file that is empty, too large, or not a regular file inside the store |
 * | `complete` | none of the above |
 *
 * An array the toolkit wrote is complete only when every chunk its completion marker records is there.
 * An array without a marker (written by zarr-python) is judged by metadata, header and shape, and an absent
 * chunk is the fill value, as Zarr says.
 *
 * @example
 * ```ts ignore
 * const verdict = arrayStateAt(store, "2556/skycell.2556.080/r", "image");
 * if (verdict.state !== "complete") console.log(verdict.problems[0].message);
 * ```
 * @module
 */

import type { ArrayInfo } from "../zarr/metadata.ts";
import { defaultChunks } from "../zarr/metadata.ts";
import type { ChildNode, ZarrStore } from "../zarr/store.ts";
import {
  type ChunkEvidenceCode,
  type ChunkScan,
  itemBytes,
  type MarkerInfo,
  markerOf,
  verifyArrayFiles,
} from "../zarr/verify.ts";
import { UnreadableError } from "../zarr/errors.ts";
import { checkHeader } from "./header_check.ts";
import { type ArrayKind, dtypeOf } from "./layout.ts";

/** The verdict on one expected array (see the module doc). */
export type ArrayState = "complete" | "missing" | "corrupt" | "unreadable";

/**
 * Evidence of damage, or (for `metadata_unreadable` and `chunk_unreadable`) of what could not be read.
 * `chunk_undecodable` is found only by decoding (the inventory's `--deep`).
 */
export type ProblemCode =
  | "metadata_unreadable"
  | "metadata_invalid"
  | "metadata_missing"
  | "not_an_array"
  | "wrong_ndim"
  | "wrong_dtype"
  | "header_missing"
  | "header_invalid"
  | "header_no_naxis"
  | "shape_mismatch"
  | "marker_incomplete"
  | "chunk_undecodable"
  | ChunkEvidenceCode;

/** Problem codes that mean "cannot be read", not "damaged". */
export const UNREADABLE_CODES: readonly ProblemCode[] = ["metadata_unreadable", "chunk_unreadable"];

/** One piece of evidence. */
export interface Problem {
  /** What was found. */
  code: ProblemCode;
  /** One line naming the array and what was found. */
  message: string;
}

/** Where the header attribute came from, its length and image size. */
export interface HeaderInfo {
  /** The array's own attribute, or the skycell group's (old stores). */
  source: "array" | "group";
  /** Length of the string. */
  length: number;
  /** `NAXIS1`, when a positive integer. */
  naxis1: number | null;
  /** `NAXIS2`, when a positive integer. */
  naxis2: number | null;
}

/** The verdict on an array with what it rests on. */
export interface ArrayVerdict {
  /** See the module doc. */
  state: ArrayState;
  /** Evidence of damage (state `corrupt`) or what could not be read (state `unreadable`). */
  problems: Problem[];
  /** Unusual things that are not damage. */
  notes: string[];
  /** The array's metadata, when readable and an array. */
  info: ArrayInfo | null;
  /** The completion marker, if any. */
  marker: MarkerInfo | null;
  /** The header attribute's facts, if there is one. */
  header: HeaderInfo | null;
  /** The chunk files found, when the metadata allowed looking. */
  files: ChunkScan | null;
  /** False when the node must never be removed even if corrupt (a group stands where the array should). */
  removable: boolean;
}

/** What the array should be. */
export interface ArrayExpectation {
  /** Image, mask or weight (decides the dtype). */
  kind: ArrayKind;
  /** The skycell group's attributes (old stores kept the header there). */
  groupAttributes?: Record<string, unknown>;
}

/**
 * The state that a present array's problems make: anything that could not be read makes it `unreadable`
 * (what cannot be seen is not judged, and an unreadable array is never removed), any other problem
 * `corrupt`, none `complete`.
 */
export function stateOfProblems(problems: readonly Problem[]): Exclude<ArrayState, "missing"> {
  if (problems.some((p) => UNREADABLE_CODES.includes(p.code))) return "unreadable";
  return problems.length > 0 ? "corrupt" : "complete";
}

function verdictOf(problems: Problem[], rest: Omit<ArrayVerdict, "state" | "problems">): ArrayVerdict {
  return { state: stateOfProblems(problems), problems, ...rest };
}

/**
 * The verdict on the array node `child` (as {@link ZarrStore.listChildrenSync} gives it), or `missing`
 * when there is none. Synchronous: a few small reads (see the module doc).
 */
export function arrayState(
  store: ZarrStore,
  child: ChildNode | undefined,
  expect: ArrayExpectation,
): ArrayVerdict {
  const problems: Problem[] = [];
  const rest: Omit<ArrayVerdict, "state" | "problems"> = {
    notes: [],
    info: null,
    marker: null,
    header: null,
    files: null,
    removable: true,
  };
  if (!child) return { state: "missing", problems, ...rest };
  const where = child.path;
  const info = child.info;
  if (!info) {
    if (child.unreadable) problems.push({ code: "metadata_unreadable", message: child.error! });
    else if (child.error) problems.push({ code: "metadata_invalid", message: child.error });
    else {problems.push({
        code: "metadata_missing",
        message: `${where}: directory has no zarr.json, .zarray or .zgroup`,
      });}
    return verdictOf(problems, rest);
  }
  if (info.kind !== "array") {
    problems.push({
      code: "not_an_array",
      message: `${where}: a group stands where the ${expect.kind} array should be`,
    });
    // It may hold anything: reported, never removed by cleanup.
    return verdictOf(problems, { ...rest, removable: false });
  }
  rest.info = info;
  rest.marker = markerOf(info.attributes);
  checkContract(info, expect, where, problems, rest);
  if (rest.marker && !rest.marker.complete) {
    problems.push({
      code: "marker_incomplete",
      message: `${where}: completion marker present but not complete: true`,
    });
  }
  if (!rest.marker) {
    rest.notes.push("no completion marker (written by another tool): judged by metadata, header and shape");
  }
  // The chunk files of an array that is not 2-D are no skycell's: it is corrupt already.
  if (info.shape.length !== 2) return verdictOf(problems, rest);
  try {
    const files = verifyArrayFiles(store.root, store.fsPath(child.path), info, where);
    rest.files = files.scan;
    for (const e of files.evidence) problems.push({ code: e.code, message: e.message });
    const recorded = rest.marker?.storedChunks ?? null;
    if (recorded !== null && files.scan.files.length > recorded) {
      rest.notes.push(
        `${files.scan.files.length} chunk files present, more than the ${recorded} the marker records`,
      );
    }
  } catch (err) {
    // The array directory itself could not be looked into.
    const code = err instanceof UnreadableError ? "chunk_unreadable" : "chunk_not_file";
    problems.push({ code, message: `${where}: ${(err as Error).message}` });
  }
  return verdictOf(problems, rest);
}

/** Metadata and header against the contract: dtype, 2-D, header present and agreeing with the shape. */
function checkContract(
  info: ArrayInfo,
  expect: ArrayExpectation,
  where: string,
  problems: Problem[],
  rest: Omit<ArrayVerdict, "state" | "problems">,
): void {
  const want = dtypeOf(expect.kind);
  if (info.dtype !== want) {
    problems.push({
      code: "wrong_dtype",
      message: `${where}: data type ${info.dtype}, expected ${want} for a ${expect.kind}`,
    });
  }
  if (info.shape.length !== 2) {
    problems.push({
      code: "wrong_ndim",
      message: `${where}: shape ${JSON.stringify(info.shape)} is not 2-D`,
    });
  }
  const own = info.attributes.header;
  const fallback = expect.groupAttributes?.header;
  const source = own !== undefined ? "array" : fallback !== undefined ? "group" : null;
  if (source === null) {
    problems.push({
      code: "header_missing",
      message: `${where}: no header attribute on the array or its skycell group`,
    });
  } else {
    const h = checkHeader(source === "array" ? own : fallback);
    rest.header = { source, length: h.length, naxis1: h.naxis1, naxis2: h.naxis2 };
    if (source === "group") rest.notes.push("header taken from the skycell group (old store)");
    for (const n of h.notes) rest.notes.push(n);
    if (h.error) {
      problems.push({
        code: h.errorKind === "no_naxis" ? "header_no_naxis" : "header_invalid",
        message: `${where}: ${h.error}`,
      });
    } else if (info.shape.length === 2 && (info.shape[0] !== h.naxis2 || info.shape[1] !== h.naxis1)) {
      problems.push({
        code: "shape_mismatch",
        message: `${where}: shape ${info.shape[0]} x ${
          info.shape[1]
        } contradicts the header's NAXIS2 x NAXIS1 = ${h.naxis2} x ${h.naxis1}`,
      });
    }
  }
  if (info.fillValue === null) rest.notes.push("fill_value is null (zarr-python rejects it)");
  if (info.shape.length === 2) {
    const [dr, dc] = defaultChunks([info.shape[0], info.shape[1]]);
    if (info.chunks[0] !== dr || info.chunks[1] !== dc) {
      rest.notes.push(`chunk shape ${info.chunks.join(" x ")} differs from the usual ${dr} x ${dc}`);
    }
  }
}

/** {@link arrayState} of the array at store path `arrayPath` (its metadata read here). */
export function arrayStateAt(
  store: ZarrStore,
  arrayPath: string,
  expect: ArrayExpectation,
): ArrayVerdict {
  const child = store.childSync(arrayPath);
  const exists = child.info !== null || child.error !== undefined || dirExists(store.fsPath(arrayPath));
  return arrayState(store, exists ? child : undefined, expect);
}

function dirExists(dir: string): boolean {
  try {
    return Deno.lstatSync(dir).isDirectory;
  } catch {
    return false;
  }
}

/** Decoded size of an array: elements x item size. */
export function decodedBytesOf(info: Pick<ArrayInfo, "shape" | "dtype">): number {
  return info.shape.reduce((a, b) => a * b, 1) * itemBytes(info.dtype);
}

/** Problems about the header attribute only: the pixels are still whole (an extractor may go on). */
const HEADER_CODES: readonly ProblemCode[] = [
  "header_missing",
  "header_invalid",
  "header_no_naxis",
  "shape_mismatch",
];

/**
 * The problems that concern the pixels (everything but the header attribute): what an extractor must
 * refuse rather than deliver a file with fill where data should be.
 */
export function pixelProblems(verdict: ArrayVerdict): Problem[] {
  return verdict.problems.filter((p) => !HEADER_CODES.includes(p.code));
}
