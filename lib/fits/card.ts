/**
 * Formatting FITS header cards for writing, and small helpers to take apart and edit the card list of a
 * stored header string (80-character cards, `END`, space padding).
 *
 * Values are written the way astropy writes them: integers and logicals right-justified to column 30
 * ("fixed format", which the FITS standard requires for the mandatory keywords), strings starting in
 * column 11 with `''` for a quote and padded to at least 8 characters, floats in Python's shortest
 * round-trip representation with an upper-case `E` and a two-digit exponent.
 *
 * @example
 * ```ts
 * import { asFloat, formatCard } from "./card.ts";
 * formatCard("BITPIX", -32, "array data type");
 * formatCard("BSCALE", asFloat(1));   // "BSCALE  =                  1.0" padded to 80
 * formatCard("OBJECT", "M31's core"); // "OBJECT  = 'M31''s core'" padded to 80
 * ```
 * @module
 */

/** Length of one header card. */
export const CARD_LENGTH = 80;
/** Length of one FITS block (header and data units are padded to multiples of it). */
export const BLOCK_LENGTH = 2880;

/** A card value or keyword that cannot be written. */
export class CardError extends Error {
  /** @param message one line naming the keyword or value that is wrong */
  constructor(message: string) {
    super(message);
    this.name = "CardError";
  }
}

/** A number that must be written as a float even when it is integral (`1.0`, not `1`). */
export class FloatValue {
  /** @param value the number to write as a float */
  constructor(readonly value: number) {}
}

/** Marks a number to be written as a float card value (`asFloat(1)` gives `1.0`). */
export function asFloat(value: number): FloatValue {
  return new FloatValue(value);
}

/**
 * A value for {@link formatCard}: strings, logicals, integers (`number` values that are integral, or
 * `bigint`), floats (non-integral numbers or {@link FloatValue}), or `null` for a card without a value.
 */
export type CardInput = string | number | bigint | boolean | FloatValue | null;

const COMMENTARY = new Set(["COMMENT", "HISTORY", ""]);
const KEYWORD_PATTERN = /^[A-Z0-9_-]{0,8}$/;
// Longest string piece per card when a string is continued: `KEYWORD = '` + 67 characters + `&'` = 80.
const LONG_STRING_PIECE = 67;

/**
 * Formats a float the way astropy does: Python's `repr` (shortest round trip; exponent form below 1e-4 and
 * from 1e16 on), upper-case `E`, at most 20 characters.
 */
export function formatFloat(value: number): string {
  if (!Number.isFinite(value)) throw new CardError(`cannot write non-finite float ${value} in a FITS card`);
  let text = pythonFloatRepr(value).replace("e", "E");
  if (text.length > 20) {
    const e = text.indexOf("E");
    text = e < 0 ? text.slice(0, 20) : text.slice(0, 20 - (text.length - e)) + text.slice(e);
  }
  return text;
}

/** Python's `repr(float)` for a finite number. */
function pythonFloatRepr(value: number): string {
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  // toExponential() without digits gives the shortest digits that round-trip, like Python's repr.
  const [mantissa, expText] = Math.abs(value).toExponential().split("e");
  const exp = Number(expText);
  const digits = mantissa.replace(".", "");
  if (exp < -4 || exp >= 16) {
    const expDigits = String(Math.abs(exp)).padStart(2, "0");
    return `${sign}${mantissa}e${exp < 0 ? "-" : "+"}${expDigits}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** The 20-column value field for a non-string value (right-justified), or the quoted string field. */
function formatValueField(keyword: string, value: Exclude<CardInput, null>): string {
  if (typeof value === "string") {
    if (value === "") return "''".padEnd(20);
    return `'${value.replaceAll("'", "''").padEnd(8)}'`.padEnd(20);
  }
  if (typeof value === "boolean") return (value ? "T" : "F").padStart(20);
  if (typeof value === "bigint") return value.toString().padStart(20);
  if (value instanceof FloatValue) return formatFloat(value.value).padStart(20);
  if (typeof value === "number") {
    if (Number.isInteger(value)) {
      if (!Number.isSafeInteger(value)) return formatFloat(value).padStart(20);
      return String(value).padStart(20);
    }
    return formatFloat(value).padStart(20);
  }
  throw new CardError(`unsupported value for keyword ${keyword}`);
}

function checkText(keyword: string, text: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 || c > 126) throw new CardError(`non-printable character in card ${keyword}`);
  }
}

/**
 * Formats one header card, 80 characters. Keywords up to 8 characters are written as they are
 * (upper case, digits, `-`, `_`); longer ones as `HIERARCH` cards. `COMMENT`, `HISTORY` and the blank
 * keyword take the value as free text (longer text is split over several cards). A string value too long
 * for one card continues on `CONTINUE` cards. In those two cases the result is several cards concatenated
 * (a multiple of 80 characters). A comment that does not fit is cut at column 80.
 */
export function formatCard(keyword: string, value: CardInput, comment?: string): string {
  const key = keyword.trim().toUpperCase();
  if (comment !== undefined) checkText(key, comment);
  if (COMMENTARY.has(key)) {
    const text = value === null ? "" : String(value);
    checkText(key, text);
    let out = "";
    for (let i = 0; i === 0 || i < text.length; i += 72) {
      out += (key.padEnd(8) + text.slice(i, i + 72)).padEnd(80);
    }
    return out;
  }
  if (typeof value === "string") checkText(key, value);
  const hierarch = key.length > 8 || !KEYWORD_PATTERN.test(key);
  if (hierarch) {
    if (!/^[A-Z0-9_\- .]+$/.test(key)) throw new CardError(`invalid keyword ${JSON.stringify(keyword)}`);
    const valueText = value === null ? "" : formatValueField(key, value).trim();
    const card = `HIERARCH ${key} = ${valueText}${comment ? ` / ${comment}` : ""}`;
    if (`HIERARCH ${key} = ${valueText}`.length > 80) {
      throw new CardError(`HIERARCH card ${key} too long for one card`);
    }
    return card.slice(0, 80).padEnd(80);
  }
  const head = key.padEnd(8) + "= ";
  if (value === null) return (head + (comment ? ` / ${comment}` : "")).slice(0, 80).padEnd(80);
  const field = formatValueField(key, value);
  // As astropy: a string that cannot fit one card continues; otherwise a long comment is cut.
  if (typeof value === "string" && field.length > 80 - 10) return longStringCards(head, value, comment);
  const card = head + field + (comment ? ` / ${comment}` : "");
  return card.slice(0, 80).padEnd(80);
}

/**
 * A long string over `CONTINUE` cards, split as astropy splits it: pieces of at most 67 escaped characters,
 * broken after a blank where possible, each but the last ending in `&`; a comment goes on trailing
 * `CONTINUE  '' / ...` cards.
 */
function longStringCards(head: string, value: string, comment?: string): string {
  const pieces = wordsGroup(value.replaceAll("'", "''"), LONG_STRING_PIECE);
  let out = "";
  pieces.forEach((piece, i) => {
    const prefix = i === 0 ? head : "CONTINUE  ";
    const last = !comment && i === pieces.length - 1;
    out += `${prefix}'${piece}${last ? "" : "&"}'`.padEnd(80);
  });
  if (comment) {
    const parts = wordsGroup(comment, 64);
    parts.forEach((part, i) => {
      out += `${i === parts.length - 1 ? "CONTINUE  '' / " : "CONTINUE  '&' / "}${part}`.padEnd(80);
    });
  }
  return out;
}

/** Splits text into pieces of at most `width` characters, breaking after a blank when one is in reach. */
function wordsGroup(text: string, width: number): string[] {
  const blanks: number[] = [];
  for (let i = 0; i < text.length; i++) if (text[i] === " ") blanks.push(i);
  blanks.push(text.length); // a virtual blank after the end
  const pieces: string[] = [];
  let start = 0;
  let offset = 0;
  for (;;) {
    let loc = blanks.findIndex((b) => b >= width + offset);
    if (loc < 0) loc = blanks.length;
    offset = loc > 0 ? blanks[loc - 1] + 1 : -1;
    // A word longer than the width is cut in the middle.
    if (offset <= start) offset = Math.min(start + width, text.length);
    pieces.push(text.slice(start, offset));
    if (offset >= text.length) break;
    start = offset;
  }
  return pieces;
}

/** The keyword of a card (columns 1-8, trimmed); `HIERARCH` cards give `HIERARCH`. */
export function cardKeyword(card: string): string {
  return card.slice(0, 8).trimEnd();
}

/**
 * Splits a stored header string into its cards (80 characters each), stopping before `END`. Blank cards
 * before `END` are kept; the padding after it is dropped. A string without `END` gives all its cards.
 */
export function splitCards(header: string): string[] {
  const cards: string[] = [];
  // A trailing partial card (a header cut short) is padded rather than lost.
  for (let i = 0; i < header.length; i += CARD_LENGTH) {
    const card = header.slice(i, i + CARD_LENGTH).padEnd(CARD_LENGTH);
    if (card.startsWith("END") && card.slice(3).trim() === "") break;
    cards.push(card);
  }
  return cards;
}

/** The value text of a card (between `= ` and a comment slash, trimmed), or undefined without `= `. */
export function cardValueText(card: string): string | undefined {
  if (card.slice(8, 10) !== "= ") return undefined;
  const body = card.slice(10);
  if (body.trimStart().startsWith("'")) {
    const start = body.indexOf("'");
    let i = start + 1;
    while (i < body.length) {
      if (body[i] === "'") {
        if (body[i + 1] === "'") i += 2;
        else break;
      } else i++;
    }
    return body.slice(start, i + 1);
  }
  const slash = body.indexOf("/");
  return (slash < 0 ? body : body.slice(0, slash)).trim();
}

/**
 * Replaces the first card with the keyword of `card` (and removes later ones with that keyword), or appends
 * `card` when the keyword is absent. `card` may be several concatenated cards (a `CONTINUE` string); then
 * `CONTINUE` cards after the replaced card are removed too. Returns a new array.
 */
export function setCard(cards: readonly string[], card: string): string[] {
  const keyword = cardKeyword(card);
  const newCards: string[] = [];
  for (let i = 0; i < card.length; i += CARD_LENGTH) newCards.push(card.slice(i, i + CARD_LENGTH));
  const out: string[] = [];
  let placed = false;
  for (let i = 0; i < cards.length; i++) {
    if (cardKeyword(cards[i]) === keyword) {
      while (i + 1 < cards.length && cardKeyword(cards[i + 1]) === "CONTINUE") i++;
      if (!placed) out.push(...newCards);
      placed = true;
    } else out.push(cards[i]);
  }
  if (!placed) out.push(...newCards);
  return out;
}

/** Removes every card whose keyword is in `keywords` (and the `CONTINUE` cards that follow it). */
export function removeCards(cards: readonly string[], keywords: Iterable<string>): string[] {
  const drop = new Set(keywords);
  const out: string[] = [];
  for (let i = 0; i < cards.length; i++) {
    if (drop.has(cardKeyword(cards[i]))) {
      while (i + 1 < cards.length && cardKeyword(cards[i + 1]) === "CONTINUE") i++;
    } else out.push(cards[i]);
  }
  return out;
}

/** Joins cards, adds `END` and pads with spaces to a multiple of 2880 characters. */
export function headerText(cards: readonly string[]): string {
  const text = cards.join("") + "END".padEnd(CARD_LENGTH);
  const padded = Math.ceil(text.length / BLOCK_LENGTH) * BLOCK_LENGTH;
  return text.padEnd(padded);
}

/** ASCII bytes of a header text (characters outside 32-126 become `?`, which FITS readers can report). */
export function headerBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[i] = c >= 32 && c <= 126 ? c : 0x3f;
  }
  return out;
}
