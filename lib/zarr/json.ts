/**
 * JSON text as zarr-python writes it, and a reader for what it writes.
 *
 * zarr-python 3 writes metadata with Python's `json.dumps(doc, indent=2, allow_nan=True)`. That differs
 * from `JSON.stringify(doc, null, 2)` in three ways, which matter for byte-identical `zarr.json` files:
 * every character outside printable ASCII (U+0020-U+007E) is written as a `\uXXXX` escape
 * (`ensure_ascii`), non-integer numbers use Python's `repr` (`1e-07`, not `1e-7` or `0.0000001`), and
 * NaN and infinities are written as the bare tokens `NaN`, `Infinity`, `-Infinity`. {@link parseJson}
 * reads such text back (including those tokens, which `JSON.parse` rejects).
 *
 * @example
 * ```ts
 * import { pythonJson } from "./json.ts";
 * pythonJson({ a: "é", b: [1e-7] }); // '{\n  "a": "\\u00e9",\n  "b": [\n    1e-07\n  ]\n}'
 * ```
 * @module
 */

/** A number as Python's `json.dumps` writes the value `JSON.parse` would give it (int or float). */
function pythonNumber(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (Object.is(x, -0)) return "-0.0";
  // Integers: what we write is parsed back as a Python int (or, from 1e21 up, as a float whose repr is the
  // same text), so JavaScript's own text is Python's.
  if (Number.isInteger(x)) return String(x);
  // Non-integers: the shortest round-trip digits are the same in both; Python switches to exponent form
  // below 1e-4 (it would from 1e16 up too, but no non-integer is that large) with a two-digit exponent.
  if (Math.abs(x) >= 1e-4) return String(x);
  const [mantissa, exponent] = x.toExponential().split("e");
  const e = Number(exponent);
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

function pythonString(s: string): string {
  return JSON.stringify(s).replace(
    /[^\x20-\x7e]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

/**
 * The text Python's `json.dumps(value, indent=indent, allow_nan=True)` writes for a JSON value (objects
 * keep their key order). `undefined` members are left out, as `JSON.stringify` does.
 */
export function pythonJson(value: unknown, indent = 2): string {
  const pad = (depth: number) => "\n" + " ".repeat(indent * depth);
  const write = (v: unknown, depth: number): string | undefined => {
    if (v === null) return "null";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") return pythonNumber(v);
    if (typeof v === "string") return pythonString(v);
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "undefined" || typeof v === "function" || typeof v === "symbol") return undefined;
    const withJson = v as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === "function") return write(withJson.toJSON(), depth);
    if (Array.isArray(v)) {
      if (v.length === 0) return "[]";
      const items = v.map((item) => write(item, depth + 1) ?? "null");
      return "[" + items.map((item) => pad(depth + 1) + item).join(",") + pad(depth) + "]";
    }
    const members: string[] = [];
    for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
      const text = write(item, depth + 1);
      if (text !== undefined) members.push(pad(depth + 1) + pythonString(key) + ": " + text);
    }
    return members.length === 0 ? "{}" : "{" + members.join(",") + pad(depth) + "}";
  };
  return write(value, 0) ?? "null";
}

const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/**
 * Parses JSON text, also accepting the bare `NaN`, `Infinity` and `-Infinity` that Python writes (outside
 * strings). Throws `SyntaxError` for anything else that is not JSON.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
  }
  // Replace the bare tokens by marker strings (a NUL byte cannot occur unescaped in JSON text), then turn
  // the markers back into numbers.
  const marker = "\u0000nonfinite:";
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const token = ["-Infinity", "Infinity", "NaN"].find((t) => text.startsWith(t, i));
    if (token) {
      out += JSON.stringify(marker + token);
      i += token.length;
      continue;
    }
    out += c;
    i++;
  }
  return JSON.parse(out, (_key, v) => {
    if (typeof v === "string" && v.startsWith(marker)) return NON_FINITE[v.slice(marker.length)];
    return v;
  });
}
