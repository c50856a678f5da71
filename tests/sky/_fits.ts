/**
 * Writes small FITS files with a given header for the sky tests: one primary HDU of 8-bit zeros.
 * @module
 */

/** A card: keyword and value (strings are quoted), padded to 80 characters. */
export function card(keyword: string, value: string | number | boolean): string {
  let v: string;
  if (typeof value === "string") v = `'${value.padEnd(8)}'`.padEnd(20);
  else if (typeof value === "boolean") v = (value ? "T" : "F").padStart(20);
  else v = (Number.isInteger(value) ? String(value) : value.toExponential(15).toUpperCase()).padStart(20);
  return `${keyword.padEnd(8)}= ${v}`.padEnd(80);
}

/** Writes a FITS file of `naxis1` x `naxis2` zero bytes with the extra `cards`. */
export async function writeFits(
  path: string,
  naxis1: number,
  naxis2: number,
  cards: string[],
): Promise<void> {
  const head = [
    card("SIMPLE", true),
    card("BITPIX", 8),
    card("NAXIS", 2),
    card("NAXIS1", naxis1),
    card("NAXIS2", naxis2),
    ...cards,
    "END".padEnd(80),
  ].join("");
  const headLen = Math.ceil(head.length / 2880) * 2880;
  const dataLen = Math.ceil((naxis1 * naxis2) / 2880) * 2880;
  const bytes = new Uint8Array(headLen + dataLen);
  bytes.fill(0x20, 0, headLen);
  for (let i = 0; i < head.length; i++) bytes[i] = head.charCodeAt(i);
  await Deno.writeFile(path, bytes);
}
