/**
 * The `header` attribute as the inventory checks it: a string of FITS cards that gives the image size.
 *
 * Damage (the array is corrupt): not a string; characters outside printable ASCII, which no FITS card
 * holds; no integer `NAXIS1`/`NAXIS2` above zero. Not damage (a note): a string that is not exactly in
 * the form astropy's `Header.tostring()` gives (no `END` card, length not a multiple of 2880, cards
 * separated by newlines): astropy's `Header.fromstring` still reads those, and old stores may hold them.
 *
 * @example
 * ```ts
 * import { checkHeader } from "./header_check.ts";
 * const text = ["NAXIS1  =                  200", "NAXIS2  =                  199", "END"]
 *   .map((c) => c.padEnd(80)).join("").padEnd(2880);
 * checkHeader(text); // { naxis1: 200, naxis2: 199, cards: 2, length: 2880, notes: [] }
 * ```
 * @module
 */

import { BLOCK_LENGTH, CARD_LENGTH } from "../fits/card.ts";
import { parseCard } from "../fits/header.ts";

/** What the header attribute says, or why it cannot be used. */
export interface HeaderCheck {
  /** Why the attribute is not a usable FITS header (damage). */
  error?: string;
  /** `invalid`: not FITS card text at all; `no_naxis`: cards, but no image size. */
  errorKind?: "invalid" | "no_naxis";
  /** `NAXIS1` (width), when present and a positive integer. */
  naxis1: number | null;
  /** `NAXIS2` (height), when present and a positive integer. */
  naxis2: number | null;
  /** Number of cards before `END`. */
  cards: number;
  /** Length of the string. */
  length: number;
  /** Departures from astropy's form that readers still accept. */
  notes: string[];
}

function positiveInt(card: string | undefined): number | null {
  if (card === undefined) return null;
  const v = parseCard(card).value;
  const n = typeof v === "bigint" ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : null;
}

const NOT_CARD_TEXT = /[^\x20-\x7e]/;
const NOT_CARD_TEXT_OR_NEWLINE = /[^\x20-\x7e\r\n]/;

/** Checks a header attribute value (see the module doc). Reads only the cards it needs, so it is cheap. */
export function checkHeader(value: unknown): HeaderCheck {
  const result: HeaderCheck = { naxis1: null, naxis2: null, cards: 0, length: 0, notes: [] };
  if (typeof value !== "string") {
    result.error = `header attribute is ${value === null ? "null" : typeof value}, not a string`;
    result.errorKind = "invalid";
    return result;
  }
  result.length = value.length;
  const newlines = value.includes("\n");
  const bad = value.search(newlines ? NOT_CARD_TEXT_OR_NEWLINE : NOT_CARD_TEXT);
  if (bad >= 0) {
    result.error = `header holds a character that no FITS card can (code ${
      value.charCodeAt(bad)
    } at offset ${bad})`;
    result.errorKind = "invalid";
    return result;
  }
  // astropy's fromstring splits on a separator when there is one, else every 80 characters.
  const texts = newlines
    ? value.split(/\r?\n/).filter((line) => line.trim() !== "").map((line) => line.padEnd(CARD_LENGTH))
    : undefined;
  const count = texts ? texts.length : Math.ceil(value.length / CARD_LENGTH);
  const cardAt = (i: number) =>
    texts ? texts[i] : value.slice(i * CARD_LENGTH, (i + 1) * CARD_LENGTH).padEnd(CARD_LENGTH);
  let naxis1: string | undefined;
  let naxis2: string | undefined;
  let hasEnd = false;
  let i = 0;
  for (; i < count; i++) {
    const card = cardAt(i);
    if (card.startsWith("END") && card.slice(3).trim() === "") {
      hasEnd = true;
      break;
    }
    if (naxis1 === undefined && card.startsWith("NAXIS1  ")) naxis1 = card;
    else if (naxis2 === undefined && card.startsWith("NAXIS2  ")) naxis2 = card;
  }
  result.cards = i;
  result.naxis1 = positiveInt(naxis1);
  result.naxis2 = positiveInt(naxis2);
  if (result.naxis1 === null || result.naxis2 === null) {
    result.error = `header has no NAXIS1/NAXIS2 image size (${i} cards)`;
    result.errorKind = "no_naxis";
    return result;
  }
  if (newlines) result.notes.push("header cards are separated by newlines (not astropy's tostring form)");
  if (!hasEnd) result.notes.push("header has no END card");
  if (!newlines && value.length % BLOCK_LENGTH !== 0) {
    result.notes.push(`header length ${value.length} is not a multiple of ${BLOCK_LENGTH}`);
  }
  return result;
}
