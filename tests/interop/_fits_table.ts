/**
 * Reads one numeric column of a tile-compressed image's binary table (e.g. each tile's `ZSCALE`), straight
 * from the bytes and the table's TFORMn cards, independently of lib/fits's reader: tests bound a quantized
 * pixel's error by half of its own tile's step. Needs no Python, so the unit suite uses it too.
 * @module
 */
import { scanHdus } from "../../lib/fits/hdu.ts";

/** Bytes per repeat of the binary-table formats a compressed image's table uses. */
const WIDTH: Record<string, number> = { L: 1, B: 1, I: 2, J: 4, K: 8, E: 4, D: 8, P: 8, Q: 16 };

/** The values of column `name` (formats 1D, 1E, 1J, 1I, 1K) in extension `hdu` (default 1), one per row. */
export function tableColumn(bytes: Uint8Array, name: string, hdu = 1): Float64Array {
  const { header, dataStart } = scanHdus(bytes)[hdu];
  if (header.get("XTENSION") !== "BINTABLE") throw new Error(`extension ${hdu} is not a binary table`);
  const rowBytes = Number(header.get("NAXIS1"));
  const rows = Number(header.get("NAXIS2"));
  let offset = 0;
  for (let n = 1; n <= Number(header.get("TFIELDS")); n++) {
    const form = String(header.get(`TFORM${n}`)).trim();
    const m = /^(\d*)([LBIJKEDPQ])/.exec(form);
    if (!m) throw new Error(`TFORM${n} = '${form}' not handled`);
    const repeat = m[1] === "" ? 1 : Number(m[1]);
    if (String(header.get(`TTYPE${n}`)).trim() === name) {
      if (repeat !== 1 || !"DEJIK".includes(m[2])) throw new Error(`column ${name} has format ${form}`);
      const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart, rows * rowBytes);
      const out = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        const at = r * rowBytes + offset;
        out[r] = m[2] === "D"
          ? view.getFloat64(at)
          : m[2] === "E"
          ? view.getFloat32(at)
          : m[2] === "J"
          ? view.getInt32(at)
          : m[2] === "I"
          ? view.getInt16(at)
          : Number(view.getBigInt64(at));
      }
      return out;
    }
    offset += repeat * WIDTH[m[2]];
  }
  throw new Error(`no column ${name} in extension ${hdu}`);
}
