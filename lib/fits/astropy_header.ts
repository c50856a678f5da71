/**
 * The header string the store keeps (`attributes.header`): exactly what astropy 8 gives for
 * `hdu.header.tostring()` after `hdu.data` was read. Two astropy steps are reproduced card by card:
 *
 * 1. For a tile-compressed HDU, `_bintable_header_to_image_header`: table and compression keywords removed
 *    (all occurrences), `SIMPLE`/`XTENSION`, `BITPIX`, `NAXISn`, `PCOUNT`/`GCOUNT` inserted at the top from
 *    their `Z` keywords (with those cards' comments), `BSCALE`/`BZERO` re-appended as new cards,
 *    `ZHECKSUM`/`ZDATASUM` become `CHECKSUM`/`DATASUM`, the default `EXTNAME = 'COMPRESSED_IMAGE'` dropped,
 *    `BLANK` filled from `ZBLANK`, and trailing blank cards topped up to the table's count.
 * 2. After the data is scaled to floats (`_update_header_scale_info`): `BSCALE` and `BZERO` deleted, a blank
 *    card appended for each, `BITPIX` set to -32 (8/16-bit data) or -64 (32-bit data), `BLANK` removed.
 *    Unscaled integers and astropy's unsigned convention (`BZERO = 32768`) leave the header alone.
 *
 * New or changed cards are formatted as astropy formats them; untouched cards keep their exact text.
 * astropy's `Header.append`/`insert` "use blanks": a new card replaces a trailing blank card.
 * @module
 */

import { type Card, CARD_LENGTH, type CardValue, FitsHeader, parseCard } from "./header.ts";

const BLANK_CARD = " ".repeat(CARD_LENGTH);
const COMMENTARY = new Set(["", "COMMENT", "HISTORY", "END"]);
const TABLE_KEYWORD_NAMES = new Set([
  "TTYPE",
  "TFORM",
  "TUNIT",
  "TNULL",
  "TSCAL",
  "TZERO",
  "TDISP",
  "TBCOL",
  "TDIM",
  "TCTYP",
  "TCUNI",
  "TCRPX",
  "TCRVL",
  "TCDLT",
  "TRPOS",
]);
const COMPRESSION_KEYWORDS = new Set([
  "ZSIMPLE",
  "ZTENSION",
  "ZBITPIX",
  "ZNAXIS",
  "ZEXTEND",
  "ZBLOCKED",
  "ZPCOUNT",
  "ZGCOUNT",
  "ZHECKSUM",
  "ZDATASUM",
  "ZIMAGE",
  "ZCMPTYPE",
  "ZMASKCMP",
  "ZQUANTIZ",
  "ZDITHER0",
  "ZBLANK",
  "ZSCALE",
  "ZZERO",
]);
const INDEXED_COMPRESSION_KEYWORDS = new Set(["ZNAXIS", "ZTILE", "ZNAME", "ZVAL"]);

/** astropy's `_is_reserved_keyword` for compressed-image headers. */
export function isReservedCompressionKeyword(keyword: string): boolean {
  if (keyword === "TFIELDS" || keyword === "THEAP") return true;
  const t = /^(T[A-Z]*)([1-9][0-9 ]*)$/.exec(keyword);
  if (t && TABLE_KEYWORD_NAMES.has(t[1])) return true;
  if (COMPRESSION_KEYWORDS.has(keyword)) return true;
  const z = /^([Zz][a-zA-Z]*)([1-9][0-9 ]*$)?/.exec(keyword);
  return !!z && INDEXED_COMPRESSION_KEYWORDS.has(z[1].toUpperCase());
}

/** Python's `repr` of a float (shortest round-trip digits; exponent form below 1e-4 and from 1e16). */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let s: string;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) s = "0." + "0".repeat(-exp - 1) + digits;
    else if (digits.length <= exp + 1) s = digits + "0".repeat(exp + 1 - digits.length) + ".0";
    else s = digits.slice(0, exp + 1) + "." + digits.slice(exp + 1);
  } else {
    const m = digits.length > 1 ? digits[0] + "." + digits.slice(1) : digits;
    s = m + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
  }
  return neg ? "-" + s : s;
}

/** astropy's `_format_float`: Python repr with `E`, at most 20 characters. */
function formatFloat(x: number): string {
  let s = pythonFloatRepr(x).replace("e", "E");
  if (s.length > 20) {
    const idx = s.indexOf("E");
    s = idx < 0 ? s.slice(0, 20) : s.slice(0, 20 - (s.length - idx)) + s.slice(idx);
  }
  return s;
}

/** astropy's `_format_value` for the value types this module writes. */
function formatValue(value: CardValue): string {
  if (typeof value === "string") {
    if (value === "") return "''";
    return `'${value.replace(/'/g, "''").padEnd(8)}'`.padEnd(20);
  }
  if (typeof value === "boolean") return (value ? "T" : "F").padStart(20);
  if (typeof value === "bigint") return value.toString().padStart(20);
  if (typeof value === "number") {
    return (Number.isInteger(value) ? String(value) : formatFloat(value)).padStart(20);
  }
  if (value === null) return "";
  return `(${formatFloat(value.re)}, ${formatFloat(value.im)})`.padStart(20);
}

/** A value with astropy's Python type: JS numbers lose int vs float, which matters for formatting. */
interface PyValue {
  value: CardValue;
  float: boolean;
}

/** The value of a card as astropy types it (a number written with `.` or an exponent is a float). */
function pyValueOf(card: Card): PyValue {
  const v = card.value ?? null;
  if (typeof v !== "number") return { value: v, float: false };
  const field = card.text.slice(10).split("/")[0].trim();
  return { value: v, float: /[.EeDd]/.test(field) };
}

/** Formats a new card as astropy does: keyword, `= `, value, ` / comment`, padded or cut to 80. */
export function astropyCard(keyword: string, pv: PyValue, comment?: string): Card {
  let valueText: string;
  if (typeof pv.value === "number" && pv.float) valueText = formatFloat(pv.value).padStart(20);
  else valueText = formatValue(pv.value);
  let text = `${keyword.padEnd(8)}= ${valueText}${comment ? ` / ${comment}` : ""}`;
  text = text.length > CARD_LENGTH ? text.slice(0, CARD_LENGTH) : text.padEnd(CARD_LENGTH);
  return parseCard(text);
}

/** A card list with astropy `Header`'s editing rules (the subset used here). */
class AstropyHeader {
  constructor(public cards: Card[]) {}

  index(keyword: string): number {
    return this.cards.findIndex((c) => c.keyword === keyword);
  }
  has(keyword: string): boolean {
    return this.index(keyword) >= 0;
  }
  /** `del header[keyword]`: every card with the keyword. */
  deleteAll(keyword: string): void {
    this.cards = this.cards.filter((c) => c.keyword !== keyword);
  }
  /** `header.remove(keyword)`: the first card only. */
  removeFirst(keyword: string): void {
    const i = this.index(keyword);
    if (i >= 0) this.cards.splice(i, 1);
  }
  trailingBlanks(): number {
    for (let i = 1; i < this.cards.length; i++) {
      if (this.cards[this.cards.length - i].text !== BLANK_CARD) return i - 1;
    }
    return 0;
  }
  useBlanks(): void {
    if (this.cards.length && this.cards[this.cards.length - 1].text === BLANK_CARD) this.cards.pop();
  }
  /** `Header.append(card)` with useblanks=True, bottom=False. */
  append(card?: Card): void {
    if (!card || card.text === BLANK_CARD) {
      this.cards.push(parseCard(BLANK_CARD));
      return;
    }
    let idx = this.cards.length - 1;
    while (idx >= 0 && this.cards[idx].text === BLANK_CARD) idx--;
    if (!COMMENTARY.has(card.keyword)) { while (idx >= 0 && COMMENTARY.has(this.cards[idx].keyword)) idx--; }
    this.cards.splice(idx + 1, 0, card);
    if (this.trailingBlanks()) this.useBlanks();
  }
  /** `Header.insert(idx, card)` with useblanks=True. */
  insert(idx: number, card: Card): void {
    if (idx >= this.cards.length) {
      this.cards.push(card);
      return;
    }
    this.cards.splice(idx, 0, card);
    this.useBlanks();
  }
  /** `header[keyword] = value`: update the first card (reformatted only if the value changes) or append. */
  setValue(keyword: string, pv: PyValue, comment?: string): void {
    const i = this.index(keyword);
    if (i < 0) {
      this.append(astropyCard(keyword, pv, comment));
      return;
    }
    const old = this.cards[i];
    const sameValue = old.value === pv.value;
    const sameComment = comment === undefined || comment === (old.comment ?? "");
    if (sameValue && sameComment) return;
    this.cards[i] = astropyCard(old.keyword, pv, comment ?? old.comment);
  }
  /** `header.set(keyword, value, comment, before=..., after=...)`. */
  set(
    keyword: string,
    pv: PyValue,
    comment: string | undefined,
    where: { before?: number; after?: string },
  ): void {
    const insertionIdx = (): number => {
      if (where.before !== undefined) return where.before;
      return this.index(where.after!) + 1;
    };
    if (this.has(keyword)) {
      this.setValue(keyword, pv, comment);
      const old = this.index(keyword);
      const ins = insertionIdx();
      if (ins >= this.cards.length && old === this.cards.length - 1) return;
      if (where.before !== undefined ? old === ins - 1 : old === ins) return;
      const [card] = this.cards.splice(old, 1);
      this.insert(insertionIdx(), card);
      return;
    }
    this.insert(insertionIdx(), astropyCard(keyword, pv, comment));
  }
}

function commentOf(h: FitsHeader, keyword: string): string | undefined {
  const i = h.indexOf(keyword);
  return i < 0 ? undefined : (h.cards[i].comment ?? "");
}

function pyValue(h: FitsHeader, keyword: string): PyValue {
  return pyValueOf(h.cards[h.indexOf(keyword)]);
}

/**
 * Rebuilds the image header of a tile-compressed HDU from its table header, as astropy 8's
 * `_bintable_header_to_image_header` does.
 */
export function buildImageHeader(table: FitsHeader): FitsHeader {
  const h = new AstropyHeader([...table.cards]);
  // Header.copy() / strip()
  const naxis = table.getNumber("NAXIS", 0)!;
  const tfields = table.getNumber("TFIELDS", 0)!;
  for (let i = 1; i <= naxis; i++) h.removeFirst(`NAXIS${i}`);
  for (
    const name of ["TFORM", "TSCAL", "TZERO", "TNULL", "TTYPE", "TUNIT", "TDISP", "TDIM", "THEAP", "TBCOL"]
  ) {
    for (let i = 1; i <= tfields; i++) h.removeFirst(`${name}${i}`);
  }
  const bscale = table.has("BSCALE") ? pyValue(table, "BSCALE") : undefined;
  const bzero = table.has("BZERO") ? pyValue(table, "BZERO") : undefined;
  for (
    const name of [
      "SIMPLE",
      "XTENSION",
      "BITPIX",
      "NAXIS",
      "EXTEND",
      "PCOUNT",
      "GCOUNT",
      "GROUPS",
      "BSCALE",
      "BZERO",
      "TFIELDS",
    ]
  ) h.removeFirst(name);
  for (const kw of new Set(h.cards.map((c) => c.keyword))) {
    if (isReservedCompressionKeyword(kw) || kw === "CHECKSUM" || kw === "DATASUM") h.deleteAll(kw);
  }
  if (bscale && bscale.value) h.setValue("BSCALE", bscale);
  if (bzero && bzero.value) h.setValue("BZERO", bzero);

  if (table.has("ZSIMPLE")) {
    h.set("SIMPLE", pyValue(table, "ZSIMPLE"), commentOf(table, "ZSIMPLE"), { before: 0 });
    h.deleteAll("XTENSION");
  } else if (table.has("ZTENSION")) {
    h.set("XTENSION", { value: "IMAGE", float: false }, commentOf(table, "ZTENSION"), { before: 0 });
  } else {
    h.set("XTENSION", { value: "IMAGE", float: false }, undefined, { before: 0 });
  }
  h.set("BITPIX", pyValue(table, "ZBITPIX"), commentOf(table, "ZBITPIX"), { before: 1 });
  h.set("NAXIS", pyValue(table, "ZNAXIS"), commentOf(table, "ZNAXIS"), { before: 2 });
  let last = "NAXIS";
  const znaxis = table.getNumber("ZNAXIS", 0)!;
  for (let i = 1; i <= znaxis; i++) {
    h.set(`NAXIS${i}`, pyValue(table, `ZNAXIS${i}`), commentOf(table, `ZNAXIS${i}`), { after: last });
    last = `NAXIS${i}`;
  }
  for (const c of [...h.cards]) {
    const m = /^NAXIS(.+)$/.exec(c.keyword);
    if (m && /^\d+$/.test(m[1]) && Number(m[1]) > znaxis) h.deleteAll(c.keyword);
  }
  if (table.has("ZPCOUNT")) {
    h.set("PCOUNT", pyValue(table, "ZPCOUNT"), commentOf(table, "ZPCOUNT"), { after: last });
  } else h.set("PCOUNT", { value: 0, float: false }, undefined, { after: last });
  if (table.has("ZGCOUNT")) {
    h.set("GCOUNT", pyValue(table, "ZGCOUNT"), commentOf(table, "ZGCOUNT"), { after: "PCOUNT" });
  } else h.set("GCOUNT", { value: 1, float: false }, undefined, { after: "PCOUNT" });
  if (table.has("ZEXTEND")) h.setValue("EXTEND", pyValue(table, "ZEXTEND"), commentOf(table, "ZEXTEND"));
  if (table.has("ZBLOCKED")) h.setValue("BLOCKED", pyValue(table, "ZBLOCKED"), commentOf(table, "ZBLOCKED"));
  if (table.has("ZHECKSUM")) h.setValue("CHECKSUM", pyValue(table, "ZHECKSUM"), commentOf(table, "ZHECKSUM"));
  if (table.has("ZDATASUM")) h.setValue("DATASUM", pyValue(table, "ZDATASUM"), commentOf(table, "ZDATASUM"));
  const extname = h.cards.find((c) => c.keyword === "EXTNAME");
  if (extname && extname.value === "COMPRESSED_IMAGE") h.deleteAll("EXTNAME");
  if (h.has("SIMPLE")) {
    h.deleteAll("PCOUNT");
    h.deleteAll("GCOUNT");
  }
  const bitpix = table.getNumber("ZBITPIX", 0)!;
  if (bitpix > 0 && !h.has("BLANK")) {
    if (table.has("ZBLANK")) h.setValue("BLANK", pyValue(table, "ZBLANK"));
    else {
      for (let i = 1; i <= tfields; i++) {
        if (table.getString(`TTYPE${i}`) === "ZBLANK") {
          h.setValue("BLANK", { value: -(2 ** (bitpix - 1)), float: false });
          break;
        }
      }
    }
  }
  const tableBlanks = new AstropyHeader(table.cards).trailingBlanks();
  for (let i = h.trailingBlanks(); i < tableBlanks; i++) h.append();
  return new FitsHeader(h.cards);
}

/** The scaling astropy applies when the data is read. */
export interface DataScaling {
  /** BITPIX (ZBITPIX) of the stored data. */
  bitpix: number;
  bscale: number;
  bzero: number;
}

/**
 * The header string after astropy read the data (`_update_header_scale_info`): for data scaled to floats,
 * `BSCALE`/`BZERO` deleted with a blank card appended for each, `BITPIX` set to the float type, `BLANK`
 * removed. Unscaled data and unsigned 16/32-bit integers (`BZERO = 2^(BITPIX-1)`) keep the header.
 */
export function astropyStoreHeader(image: FitsHeader, scaling: DataScaling): string {
  const bscale = image.has("BSCALE") ? image.getNumber("BSCALE", 1)! : 1;
  const bzero = image.has("BZERO") ? image.getNumber("BZERO", 0)! : 0;
  if (bscale === 1 && bzero === 0) return image.toString();
  const bitpix = scaling.bitpix;
  const unsigned = bscale === 1 &&
    ((bitpix === 16 && bzero === 32768) || (bitpix === 32 && bzero === 2147483648) ||
      (bitpix === 64 && bzero === 9223372036854775808));
  if (unsigned) return image.toString();
  const h = new AstropyHeader([...image.cards]);
  for (const kw of ["BSCALE", "BZERO"]) {
    if (h.has(kw)) {
      h.deleteAll(kw);
      h.append();
    }
  }
  const floatBitpix = bitpix === 8 || bitpix === 16 || bitpix === -32 ? -32 : -64;
  h.setValue("BITPIX", { value: floatBitpix, float: false });
  h.deleteAll("BLANK");
  return new FitsHeader(h.cards).toString();
}
