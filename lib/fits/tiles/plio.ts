/**
 * PLIO_1 tile decoding: IRAF pixel-list line lists (`pl_l2pi`), 16-bit instruction words that set
 * runs of zeros, runs of a current value, and single pixels. Values are non-negative integers.
 * @module
 */

import { FitsError, fitsMessage } from "../errors.ts";
import type { IntTile, IntTileDecoder, TileInfo } from "./types.ts";

/** Decodes an IRAF line list (big-endian 16-bit words) into `npix` integers. */
export function plioDecode(bytes: Uint8Array, npix: number, out: IntTile, where: string): void {
  const nwords = bytes.length >> 1;
  const word = (i: number): number => {
    if (i >= nwords) throw new FitsError(`${where}: PLIO line list overrun (${nwords} words)`);
    const v = (bytes[2 * i] << 8) | bytes[2 * i + 1];
    return v & 0x8000 ? v - 0x10000 : v;
  };
  out.fill(0, 0, npix);
  if (nwords < 3) throw new FitsError(`${where}: PLIO line list too short (${nwords} words)`);
  let lllen: number, first: number;
  if (!(word(2) > 0)) {
    lllen = (word(4) << 15) + word(3);
    first = word(1); // 0-based index of the first instruction
  } else {
    lllen = word(2);
    first = 3;
  }
  if (npix <= 0 || lllen <= 0) return;
  const xe = npix; // pixels 1..npix
  let op = 0;
  let x1 = 1;
  let pv = 1;
  for (let ip = first; ip < lllen; ip++) {
    const w = word(ip);
    const opcode = w >> 12;
    const data = w & 4095;
    switch (opcode) {
      case 0:
      case 4:
      case 5: {
        const x2 = x1 + data - 1;
        const i1 = Math.max(x1, 1);
        const i2 = Math.min(x2, xe);
        const np = i2 - i1 + 1;
        if (np > 0) {
          if (opcode === 4) out.fill(pv, op, op + np);
          else {
            out.fill(0, op, op + np);
            if (opcode === 5 && i2 === x2) out[op + np - 1] = pv;
          }
          op += np;
        }
        x1 = x2 + 1;
        break;
      }
      case 1:
        pv = (word(ip + 1) << 12) + data;
        ip++;
        break;
      case 2:
        pv += data;
        break;
      case 3:
        pv -= data;
        break;
      case 6:
      case 7:
        pv += opcode === 6 ? data : -data;
        if (x1 >= 1 && x1 <= xe) out[op++] = pv;
        x1++;
        break;
      default:
        throw new FitsError(`${where}: invalid PLIO instruction ${w}`);
    }
    if (x1 > xe) break;
  }
}

/** The PLIO_1 tile decoder. */
export const plio: IntTileDecoder = {
  kind: "int",
  decode(compressed: Uint8Array, info: TileInfo, out: IntTile): void {
    plioDecode(compressed, info.pixels, out, fitsMessage(info.source, `PLIO_1 tile ${info.tile + 1}`));
  },
};
