/**
 * An RFC 4180 CSV parser: fields separated by commas, records by CRLF or LF (a lone CR too), fields in
 * double quotes may hold commas, line breaks and doubled quotes (`""`). A leading byte order mark is
 * dropped, blank lines are skipped. Every record carries the file line it starts on, for error messages.
 *
 * Outside the RFC, as Python's `csv` module does: a quote inside an unquoted field is kept literally, and
 * characters after a closing quote are appended to the field.
 *
 * @example
 * ```ts
 * import { parseCsv } from "./csv.ts";
 * const { header, records } = parseCsv(',NAME,pixel_indices\n0,skycell.2556.080,"[1, 2]"\n');
 * header;              // ["", "NAME", "pixel_indices"]
 * records[0].fields;   // ["0", "skycell.2556.080", "[1, 2]"]
 * ```
 * @module
 */

/** Malformed CSV (an unterminated quoted field). */
export class CsvError extends Error {
  /** @param message one line naming the source and line */
  constructor(message: string) {
    super(message);
    this.name = "CsvError";
  }
}

/** One record: its fields and the 1-based line of the file where it starts. */
export interface CsvRecord {
  /** The record's fields, unquoted. */
  fields: string[];
  /** 1-based line of the file where the record starts. */
  line: number;
}

/** A parsed CSV file: the header record's fields and the data records. */
export interface CsvTable {
  /** The header record's fields. */
  header: string[];
  /** 1-based line of the header record. */
  headerLine: number;
  /** The data records. */
  records: CsvRecord[];
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** Parses CSV text into records (the header is the first record). `source` names the file in errors. */
export function parseCsvRecords(text: string, source = "CSV"): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let recordDone = false;
    let blank = true;
    while (!recordDone) {
      // One field starting at i.
      let value = "";
      if (i < n && text.charCodeAt(i) === QUOTE) {
        blank = false;
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new CsvError(`${source}: unterminated quoted field starting on line ${startLine}`);
          const piece = text.slice(i, q);
          line += countLineBreaks(piece);
          value += piece;
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            i = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
      }
      // Unquoted characters (or what follows a closing quote) up to a comma or line break.
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === COMMA || c === LF || c === CR) break;
        j++;
      }
      if (j > i) {
        value += text.slice(i, j);
        blank = false;
      }
      fields.push(value);
      i = j;
      if (i >= n) {
        recordDone = true;
      } else {
        const c = text.charCodeAt(i);
        if (c === COMMA) {
          blank = false;
          i++;
          if (i >= n) {
            fields.push("");
            recordDone = true;
          }
        } else {
          i += c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
          line++;
          recordDone = true;
        }
      }
    }
    if (!blank) records.push({ fields, line: startLine });
  }
  return records;
}

function countLineBreaks(s: string): number {
  let count = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c === LF) count++;
    else if (c === CR && s.charCodeAt(k + 1) !== LF) count++;
  }
  return count;
}

/** Parses CSV text with a header record. An empty file gives an empty header and no records. */
export function parseCsv(text: string, source = "CSV"): CsvTable {
  const all = parseCsvRecords(text, source);
  if (all.length === 0) return { header: [], headerLine: 1, records: [] };
  return { header: all[0].fields, headerLine: all[0].line, records: all.slice(1) };
}

/** Quotes a field for writing when it holds a comma, quote or line break (RFC 4180). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Formats records as CSV text with CRLF-free LF line ends. */
export function formatCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((r) => r.map(csvField).join(",")).join("\n") + "\n";
}
