/** Hex encoding for digests in tests. @module */

/** Lower-case hex of the bytes of a buffer. */
export function encodeHex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
