/**
 * PS1 RINGS.V3 skycell names: `skycell.PPPP.CCC`, PPPP the projection cell (4 digits, zero padded) and
 * CCC = `0` + row digit + column digit within the projection cell's 10 x 10 grid. Names end up in URLs and
 * file paths, so anything that does not match the strict form is rejected.
 *
 * @example
 * ```ts
 * import { parseSkycell } from "./skycell.ts";
 * parseSkycell("skycell.2556.080"); // { name: "skycell.2556.080", projection: "2556", cell: "080" }
 * ```
 * @module
 */

/** The strict form of a skycell name. */
export const SKYCELL_PATTERN = /^skycell\.\d{4}\.\d{3}$/;

/** A string that is not a valid skycell name. */
export class SkycellNameError extends Error {
  /** The rejected value. */
  readonly value: string;
  /** @param value the rejected name; @param context optional prefix (file, row) for the message */
  constructor(value: string, context?: string) {
    super(
      `${context ? context + ": " : ""}invalid skycell name ${
        JSON.stringify(value)
      } (expected skycell.PPPP.CCC)`,
    );
    this.name = "SkycellNameError";
    this.value = value;
  }
}

/** The parts of a skycell name. */
export interface Skycell {
  /** The full name, e.g. `skycell.2556.080`. */
  name: string;
  /** The projection cell, 4 digits as in the name, e.g. `2556`. */
  projection: string;
  /** The cell within the projection cell, 3 digits, e.g. `080`. */
  cell: string;
}

/** True when `name` is a valid skycell name. */
export function isSkycellName(name: string): boolean {
  return SKYCELL_PATTERN.test(name);
}

/** Splits a skycell name into projection cell and cell; throws {@link SkycellNameError} for a bad name. */
export function parseSkycell(name: string): Skycell {
  if (typeof name !== "string" || !SKYCELL_PATTERN.test(name)) throw new SkycellNameError(String(name));
  return { name, projection: name.slice(8, 12), cell: name.slice(13, 16) };
}

/** Row (y) and column (x) of a skycell within its projection cell's 10 x 10 grid (`CCC` = `0yx`). */
export function skycellGridPosition(name: string): { row: number; column: number } {
  const { cell } = parseSkycell(name);
  const index = Number(cell);
  if (index > 99) throw new SkycellNameError(name, "cell index above 099");
  return { row: Math.floor(index / 10), column: index % 10 };
}

/** Builds a skycell name from a projection cell number and a grid row and column (0-9). */
export function skycellName(projection: number, row: number, column: number): string {
  const ok = Number.isInteger(projection) && projection >= 0 && projection <= 9999 &&
    Number.isInteger(row) && row >= 0 && row <= 9 && Number.isInteger(column) && column >= 0 && column <= 9;
  const name = `skycell.${String(projection).padStart(4, "0")}.0${row}${column}`;
  if (!ok) throw new SkycellNameError(name, `projection ${projection} row ${row} column ${column}`);
  return name;
}
