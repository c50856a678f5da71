/**
 * The FITS data-integrity checksum (FITS standard 4.0, appendix J): the 32-bit ones' complement sum of the
 * big-endian 32-bit words of an HDU, with `DATASUM` holding the data unit's sum as an unsigned decimal
 * string and `CHECKSUM` the complement of the whole HDU's sum, encoded as 16 ASCII characters so that the
 * sum over the finished HDU is negative zero (all bits set).
 *
 * @example
 * ```ts
 * import { ChecksumAccumulator, encodeChecksum } from "./checksum.ts";
 * const sum = new ChecksumAccumulator();
 * sum.add(new Uint8Array(2880));
 * sum.value;                  // 0
 * encodeChecksum(0);         // "0000000000000000"
 * ```
 * @module
 */

import { CARD_LENGTH, formatCard } from "./card.ts";

/** Adds two 32-bit ones' complement numbers (end-around carry). */
export function onesComplementAdd(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return s > 0xffffffff ? (s - 0xffffffff) >>> 0 : s >>> 0;
}

/**
 * Running ones' complement sum of big-endian 32-bit words over a byte stream fed in pieces of any length
 * (a piece need not end on a word boundary).
 */
export class ChecksumAccumulator {
  // Per byte lane (position within the 4-byte word) sums; folded into 16-bit halves when read.
  #lane = [0, 0, 0, 0];
  #phase = 0;

  /** Adds the next bytes of the stream. */
  add(bytes: Uint8Array): void {
    let i = 0;
    const n = bytes.length;
    const lane = this.#lane;
    while (i < n && this.#phase !== 0) {
      lane[this.#phase] += bytes[i++];
      this.#phase = (this.#phase + 1) & 3;
    }
    const words = (n - i) >>> 2;
    if (words > 0) {
      if (LITTLE_ENDIAN && (bytes.byteOffset + i) % 4 === 0) {
        const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
        // Little-endian word x = b0 | b1<<8 | b2<<16 | b3<<24. Masking pairs two lanes in one number;
        // 256 words keep each 16-bit half below 2^16 so the pairs do not mix.
        let w = 0;
        while (w < words) {
          const end = Math.min(words, w + 256);
          let even = 0; // b0 + b2 * 65536
          let odd = 0; // b1 + b3 * 65536
          for (; w < end; w++) {
            const x = u32[w];
            even += x & 0x00ff00ff;
            odd += (x >>> 8) & 0x00ff00ff;
          }
          lane[0] += even % 65536;
          lane[2] += Math.floor(even / 65536);
          lane[1] += odd % 65536;
          lane[3] += Math.floor(odd / 65536);
        }
      } else {
        for (let k = i, end = i + words * 4; k < end; k += 4) {
          lane[0] += bytes[k];
          lane[1] += bytes[k + 1];
          lane[2] += bytes[k + 2];
          lane[3] += bytes[k + 3];
        }
      }
      i += words * 4;
    }
    while (i < n) {
      lane[this.#phase] += bytes[i++];
      this.#phase = (this.#phase + 1) & 3;
    }
  }

  /** The ones' complement sum so far (a partial last word counts as padded with zeros). */
  get value(): number {
    const [b0, b1, b2, b3] = this.#lane;
    let hi = b0 * 256 + b1;
    let lo = b2 * 256 + b3;
    // Fold carries end-around between the halves until none remain.
    let hiCarry = Math.floor(hi / 65536);
    let loCarry = Math.floor(lo / 65536);
    while (hiCarry || loCarry) {
      hi = (hi % 65536) + loCarry;
      lo = (lo % 65536) + hiCarry;
      hiCarry = Math.floor(hi / 65536);
      loCarry = Math.floor(lo / 65536);
    }
    return (hi * 65536 + lo) >>> 0;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The ones' complement sum of `bytes` (length padded with zeros to a multiple of 4). */
export function checksumOf(bytes: Uint8Array): number {
  const acc = new ChecksumAccumulator();
  acc.add(bytes);
  return acc.value;
}

// ASCII punctuation between the digits and the letters is avoided by the encoding.
const EXCLUDED = new Set([0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60]);

/**
 * Encodes a 32-bit value as the 16-character ASCII checksum string of the FITS standard (each byte spread
 * over four characters starting at `0`, punctuation avoided, the result rotated right by one). `CHECKSUM`
 * holds the encoding of the complement of the HDU's sum.
 */
export function encodeChecksum(value: number): string {
  const chars = new Array<number>(16);
  for (let i = 0; i < 4; i++) {
    const byte = (value >>> (24 - 8 * i)) & 0xff;
    const quotient = (byte >> 2) + 0x30;
    const ch = [quotient + (byte & 3), quotient, quotient, quotient];
    let changed = true;
    while (changed) {
      changed = false;
      for (let j = 0; j < 4; j += 2) {
        if (EXCLUDED.has(ch[j]) || EXCLUDED.has(ch[j + 1])) {
          ch[j]++;
          ch[j + 1]--;
          changed = true;
        }
      }
    }
    for (let j = 0; j < 4; j++) chars[4 * j + i] = ch[j];
  }
  let out = "";
  for (let i = 0; i < 16; i++) out += String.fromCharCode(chars[(i + 15) % 16]);
  return out;
}

/** The placeholder `CHECKSUM` card written before the sum is known (all `0` characters). */
export function checksumPlaceholderCard(): string {
  return formatCard("CHECKSUM", "0000000000000000", "HDU checksum");
}

/** The `DATASUM` card for a data unit sum. */
export function datasumCard(dataSum: number): string {
  return formatCard("DATASUM", String(dataSum >>> 0), "data unit checksum");
}

/**
 * Fills in `CHECKSUM` and `DATASUM` in a header block (whole 2880-byte blocks, cards already present,
 * `CHECKSUM` holding the placeholder) for a data unit whose ones' complement sum is `dataSum`. The header
 * is changed in place.
 */
export function sealHeader(header: Uint8Array, dataSum: number): void {
  const checksumAt = findCard(header, "CHECKSUM");
  const datasumAt = findCard(header, "DATASUM");
  if (checksumAt < 0 || datasumAt < 0) throw new Error("header has no CHECKSUM/DATASUM cards to fill");
  writeAscii(header, datasumAt, datasumCard(dataSum));
  writeAscii(header, checksumAt, checksumPlaceholderCard());
  const sum = onesComplementAdd(checksumOf(header), dataSum);
  // The string's quotes start in column 11: characters 12-27 hold the encoding.
  writeAscii(header, checksumAt + 11, encodeChecksum(~sum >>> 0));
}

/** Byte offset of the first card with `keyword` before `END`, or -1. */
function findCard(header: Uint8Array, keyword: string): number {
  const key = keyword.padEnd(8);
  for (let at = 0; at + CARD_LENGTH <= header.length; at += CARD_LENGTH) {
    let match = true;
    for (let k = 0; k < 8 && match; k++) match = header[at + k] === key.charCodeAt(k);
    if (match) return at;
    if (
      header[at] === 0x45 && header[at + 1] === 0x4e && header[at + 2] === 0x44 && header[at + 3] === 0x20
    ) {
      return -1;
    }
  }
  return -1;
}

function writeAscii(out: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
}
