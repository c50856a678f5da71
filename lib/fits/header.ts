/**
 * FITS headers: 80-character cards kept exactly as written, with typed access to their values.
 *
 * Handles string values with `''` escapes (leading spaces kept, trailing spaces dropped), `CONTINUE` long
 * strings, `HIERARCH` keywords, repeated `COMMENT`/`HISTORY`/blank cards in order, duplicate keywords,
 * logicals, integers beyond 2^53 (as bigint), `D` exponents, complex values and cards without a value.
 *
 * @example
 * ```ts
 * import { FitsHeader } from "./header.ts";
 * const h = FitsHeader.fromString("SIMPLE  =                    T".padEnd(80) + "END".padEnd(80));
 * h.get("SIMPLE"); // true
 * ```
 * @module
 */

import { FitsError, fitsMessage } from "./errors.ts";

/** Length of a header card. */
export const CARD_LENGTH = 80;
/** Length of a FITS block. */
export const BLOCK_LENGTH = 2880;

/** A parsed card value: string, number, bigint (integers beyond 2^53), logical, complex, or null (no value). */
export type CardValue = string | number | bigint | boolean | { re: number; im: number } | null;

/** One header card. */
export interface Card {
  /** Keyword, upper case, trimmed; for `HIERARCH` cards the name after `HIERARCH`. */
  keyword: string;
  /** The exact 80 characters of the card. */
  text: string;
  /**
   * The value: undefined for cards without a value indicator; for `COMMENT`/`HISTORY`/blank cards the text
   * after column 8; null for a value indicator followed by nothing.
   */
  value: CardValue | undefined;
  /** The comment after `/`, trimmed, when there is one. */
  comment?: string;
}

const COMMENTARY = new Set(["COMMENT", "HISTORY", ""]);

/** Whether `keyword` is a commentary keyword (`COMMENT`, `HISTORY` or blank). */
export function isCommentary(keyword: string): boolean {
  return COMMENTARY.has(keyword);
}

/** Parses a value field (the text after `= `): returns the value and the comment. */
function parseValueField(field: string): { value: CardValue; comment?: string } {
  let i = 0;
  while (i < field.length && field[i] === " ") i++;
  if (i >= field.length) return { value: null };
  if (field[i] === "'") {
    let s = "";
    let j = i + 1;
    for (; j < field.length; j++) {
      if (field[j] === "'") {
        if (field[j + 1] === "'") {
          s += "'";
          j++;
        } else break;
      } else s += field[j];
    }
    const rest = field.slice(j + 1);
    const slash = rest.indexOf("/");
    return {
      value: s.replace(/ +$/, ""),
      comment: slash >= 0 ? rest.slice(slash + 1).trim() : undefined,
    };
  }
  if (field[i] === "/") return { value: null, comment: field.slice(i + 1).trim() };
  let raw: string;
  let comment: string | undefined;
  if (field[i] === "(") {
    const close = field.indexOf(")", i);
    raw = close >= 0 ? field.slice(i, close + 1) : field.slice(i);
    const rest = close >= 0 ? field.slice(close + 1) : "";
    const slash = rest.indexOf("/");
    if (slash >= 0) comment = rest.slice(slash + 1).trim();
  } else {
    const slash = field.indexOf("/", i);
    raw = (slash >= 0 ? field.slice(i, slash) : field.slice(i)).trim();
    if (slash >= 0) comment = field.slice(slash + 1).trim();
  }
  return { value: parseScalar(raw.trim()), comment };
}

function parseNumber(s: string): number | bigint | undefined {
  if (/^[+-]?\d+$/.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  }
  if (/^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$/.test(s)) return Number(s.replace(/[Dd]/, "E"));
  return undefined;
}

function parseScalar(raw: string): CardValue {
  if (raw === "T") return true;
  if (raw === "F") return false;
  if (raw === "") return null;
  if (raw.startsWith("(")) {
    const m = /^\(\s*([^,]+?)\s*,\s*([^)]+?)\s*\)$/.exec(raw);
    if (m) {
      const re = parseNumber(m[1]);
      const im = parseNumber(m[2]);
      if (re !== undefined && im !== undefined) return { re: Number(re), im: Number(im) };
    }
    return raw;
  }
  const n = parseNumber(raw);
  // An unparseable value is kept as its text so that nothing is lost.
  return n === undefined ? raw : n;
}

/** Parses one 80-character card. */
export function parseCard(text: string): Card {
  const card = text.length === CARD_LENGTH ? text : text.padEnd(CARD_LENGTH).slice(0, CARD_LENGTH);
  const head = card.slice(0, 8);
  if (head === "HIERARCH") {
    const eq = card.indexOf("=", 8);
    if (eq > 0) {
      const keyword = card.slice(8, eq).trim().toUpperCase();
      const { value, comment } = parseValueField(card.slice(eq + 1));
      return { keyword, text: card, value, comment };
    }
    return { keyword: "HIERARCH", text: card, value: card.slice(8).trimEnd() };
  }
  const keyword = head.trim().toUpperCase();
  if (COMMENTARY.has(keyword)) return { keyword, text: card, value: card.slice(8).trimEnd() };
  if (keyword === "CONTINUE") {
    const { value, comment } = parseValueField(card.slice(8));
    return { keyword, text: card, value, comment };
  }
  if (card.slice(8, 10) !== "= ") return { keyword, text: card, value: undefined };
  const { value, comment } = parseValueField(card.slice(10));
  return { keyword, text: card, value, comment };
}

/** A FITS header: its cards in order, without the `END` card. */
export class FitsHeader {
  /** The cards in file order (no `END`). */
  readonly cards: Card[];
  #index: Map<string, number> | undefined;

  /** @param cards the cards in order, without `END` */
  constructor(cards: Card[]) {
    this.cards = cards;
  }

  /**
   * Parses the header starting at `offset` (a block boundary). Returns the header and the offset of the
   * first byte after its last 2880-byte block. Throws {@link FitsError} for a header without `END`, or bytes
   * that are not FITS text.
   */
  static parse(bytes: Uint8Array, offset = 0, source?: string): { header: FitsHeader; end: number } {
    const cards: Card[] = [];
    for (let pos = offset;; pos += CARD_LENGTH) {
      if (pos + CARD_LENGTH > bytes.length) {
        throw new FitsError(
          fitsMessage(
            source,
            `truncated file: header at byte ${offset} has no END card (file has ${bytes.length} bytes)`,
          ),
        );
      }
      let text = "";
      for (let i = 0; i < CARD_LENGTH; i++) {
        const b = bytes[pos + i];
        if (b < 0x20 || b > 0x7e) {
          throw new FitsError(
            fitsMessage(
              source,
              `invalid header: byte ${pos + i} is 0x${b.toString(16).padStart(2, "0")}, not ASCII text`,
            ),
          );
        }
        text += String.fromCharCode(b);
      }
      if (text.startsWith("END") && text.slice(3).trim() === "") {
        const after = pos + CARD_LENGTH - offset;
        return {
          header: new FitsHeader(cards),
          end: offset + Math.ceil(after / BLOCK_LENGTH) * BLOCK_LENGTH,
        };
      }
      cards.push(parseCard(text));
    }
  }

  /** Parses a stored header string (80-character cards, `END`, padding); cards after `END` are ignored. */
  static fromString(text: string): FitsHeader {
    const cards: Card[] = [];
    for (let pos = 0; pos < text.length; pos += CARD_LENGTH) {
      const card = text.slice(pos, pos + CARD_LENGTH);
      if (card.startsWith("END") && card.slice(3).trim() === "") break;
      cards.push(parseCard(card));
    }
    return new FitsHeader(cards);
  }

  #lookup(keyword: string): number {
    if (!this.#index) {
      this.#index = new Map();
      this.cards.forEach((c, i) => {
        if (!this.#index!.has(c.keyword)) this.#index!.set(c.keyword, i);
      });
    }
    let k = keyword.toUpperCase();
    if (k.startsWith("HIERARCH ")) k = k.slice(9).trim();
    return this.#index.get(k) ?? -1;
  }

  /** Whether a card with this keyword exists. */
  has(keyword: string): boolean {
    return this.#lookup(keyword) >= 0;
  }

  /** Index of the first card with this keyword, or -1. */
  indexOf(keyword: string): number {
    return this.#lookup(keyword);
  }

  /** Value of the first card with this keyword; a string ending in `&` is joined with its `CONTINUE` cards. */
  get(keyword: string): CardValue | undefined {
    const i = this.#lookup(keyword);
    if (i < 0) return undefined;
    const v = this.cards[i].value;
    if (typeof v !== "string" || isCommentary(this.cards[i].keyword)) return v;
    let s = v;
    for (
      let j = i + 1;
      s.endsWith("&") && j < this.cards.length && this.cards[j].keyword === "CONTINUE";
      j++
    ) {
      const c = this.cards[j].value;
      s = s.slice(0, -1) + (typeof c === "string" ? c : "");
    }
    return s;
  }

  /** Numeric value of a keyword (bigints converted), or `fallback` when absent or not numeric. */
  getNumber(keyword: string, fallback?: number): number | undefined {
    const v = this.get(keyword);
    if (typeof v === "number") return v;
    if (typeof v === "bigint") return Number(v);
    return fallback;
  }

  /** String value of a keyword (CONTINUE joined), or undefined when absent or not a string. */
  getString(keyword: string): string | undefined {
    const v = this.get(keyword);
    return typeof v === "string" ? v : undefined;
  }

  /** The header as stored in a file: the cards, `END`, and spaces up to a multiple of 2880 characters. */
  toString(): string {
    let s = "";
    for (const c of this.cards) s += c.text;
    s += "END".padEnd(CARD_LENGTH);
    const rem = s.length % BLOCK_LENGTH;
    return rem === 0 ? s : s + " ".repeat(BLOCK_LENGTH - rem);
  }
}
