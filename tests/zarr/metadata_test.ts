/**
 * Metadata text and parsing: `zarr.json` exactly as zarr-python 3.1.6 writes it (the literals below are its
 * output for the same arrays: `create_array(..., chunks=(1024, 1024), compressors=[zstd level 3],
 * fill_value=nan or 0)` then `attrs[...] = ...`; the interop suite compares against zarr-python live),
 * Python-style JSON numbers and escapes, and reading format 3 and 2 metadata.
 */
import assert from "node:assert/strict";
import { parseJson, pythonJson } from "../../lib/zarr/json.ts";
import {
  arrayMetadataJson,
  checkArraySpec,
  chunkGridShape,
  defaultChunks,
  groupMetadataJson,
  parseV2,
  parseV3,
} from "../../lib/zarr/metadata.ts";
import { StoreError } from "../../lib/zarr/errors.ts";

// zarr-python 3.1.6: float32 (1500, 1100), fill NaN, header with a quote, backslash, non-ASCII, DEL, tab.
const ZARR_PYTHON_FLOAT32 = String.raw`{
  "shape": [
    1500,
    1100
  ],
  "data_type": "float32",
  "chunk_grid": {
    "name": "regular",
    "configuration": {
      "chunk_shape": [
        1024,
        1024
      ]
    }
  },
  "chunk_key_encoding": {
    "name": "default",
    "configuration": {
      "separator": "/"
    }
  },
  "fill_value": "NaN",
  "codecs": [
    {
      "name": "bytes",
      "configuration": {
        "endian": "little"
      }
    },
    {
      "name": "zstd",
      "configuration": {
        "level": 3,
        "checksum": false
      }
    }
  ],
  "attributes": {
    "header": "SIMPLE  =                    T / \"q\" \\ caf\u00e9\u007f\t",
    "ps1_zarr": {
      "complete": true,
      "stored_chunks": 3,
      "ratio": 1e-07,
      "small": 0.00012,
      "list": [
        1,
        2.5,
        null
      ],
      "empty": {},
      "none": []
    }
  },
  "zarr_format": 3,
  "node_type": "array",
  "storage_transformers": []
}`;

// zarr-python 3.1.6: uint16 (6243, 6300), fill 0.
const ZARR_PYTHON_UINT16 = String.raw`{
  "shape": [
    6243,
    6300
  ],
  "data_type": "uint16",
  "chunk_grid": {
    "name": "regular",
    "configuration": {
      "chunk_shape": [
        1024,
        1024
      ]
    }
  },
  "chunk_key_encoding": {
    "name": "default",
    "configuration": {
      "separator": "/"
    }
  },
  "fill_value": 0,
  "codecs": [
    {
      "name": "bytes",
      "configuration": {
        "endian": "little"
      }
    },
    {
      "name": "zstd",
      "configuration": {
        "level": 3,
        "checksum": false
      }
    }
  ],
  "attributes": {
    "header": "H"
  },
  "zarr_format": 3,
  "node_type": "array",
  "storage_transformers": []
}`;

// zarr-python 3.1.6: `zarr.open_group(path, mode="w")`.
const ZARR_PYTHON_GROUP = `{
  "attributes": {},
  "zarr_format": 3,
  "node_type": "group"
}`;

Deno.test("float32 array zarr.json is the text zarr-python writes, escapes and numbers included", () => {
  const text = arrayMetadataJson({ shape: [1500, 1100], dtype: "float32", chunks: [1024, 1024] }, {
    header: 'SIMPLE  =                    T / "q" \\ caf\u00e9\x7f\t',
    ps1_zarr: {
      complete: true,
      stored_chunks: 3,
      ratio: 1e-7,
      small: 0.00012,
      list: [1, 2.5, null],
      empty: {},
      none: [],
    },
  });
  assert.equal(text, ZARR_PYTHON_FLOAT32);
});

Deno.test("uint16 array zarr.json is the text zarr-python writes, with fill value 0", () => {
  const text = arrayMetadataJson({ shape: [6243, 6300], dtype: "uint16", chunks: [1024, 1024] }, {
    header: "H",
  });
  assert.equal(text, ZARR_PYTHON_UINT16);
});

Deno.test("group zarr.json is the text zarr-python writes", () => {
  assert.equal(groupMetadataJson(), ZARR_PYTHON_GROUP);
});

Deno.test("pythonJson writes numbers as Python's json.dumps does", () => {
  // Expected texts are Python 3.11 json.dumps of json.loads(JSON text of the same value).
  const cases: [number, string][] = [
    [0, "0"],
    [-0, "-0.0"],
    [5, "5"],
    [0.5, "0.5"],
    [123456.789, "123456.789"],
    [1e-4, "0.0001"],
    [1e-5, "1e-05"],
    [-1.5e-7, "-1.5e-07"],
    [1.2345e-300, "1.2345e-300"],
    [1e16, "10000000000000000"],
    [1e22, "1e+22"],
    [NaN, "NaN"],
    [Infinity, "Infinity"],
    [-Infinity, "-Infinity"],
  ];
  for (const [value, text] of cases) assert.equal(pythonJson(value), text, `value ${value}`);
});

Deno.test("pythonJson escapes everything outside printable ASCII like ensure_ascii", () => {
  assert.equal(
    pythonJson('a\u00e9\u{1f600}\udc00\x7f\x01\n"\\/'),
    String.raw`"a\u00e9\ud83d\ude00\udc00\u007f\u0001\n\"\\/"`,
  );
  assert.equal(pythonJson({ "k\u00e9": [] }), '{\n  "k\\u00e9": []\n}');
});

Deno.test("parseJson reads the bare NaN and Infinity tokens Python writes, but not inside strings", () => {
  const doc = parseJson(
    '{"a": NaN, "b": [Infinity, -Infinity, 1], "c": "NaN Infinity", "d": "\\"NaN"}',
  ) as Record<
    string,
    unknown
  >;
  assert.ok(Number.isNaN(doc.a));
  assert.deepEqual(doc.b, [Infinity, -Infinity, 1]);
  assert.equal(doc.c, "NaN Infinity");
  assert.equal(doc.d, '"NaN');
  assert.throws(() => parseJson("{nan}"), SyntaxError);
  assert.throws(() => parseJson('{"a": NaNa}'), SyntaxError);
});

Deno.test("parseV3 of our array metadata gives the spec back and takes the direct read path", () => {
  const info = parseV3(JSON.parse(ZARR_PYTHON_UINT16), "x/zarr.json");
  assert.equal(info.kind, "array");
  if (info.kind !== "array") return;
  assert.deepEqual(info.shape, [6243, 6300]);
  assert.deepEqual(info.chunks, [1024, 1024]);
  assert.equal(info.dtype, "uint16");
  assert.equal(info.fillValue, 0);
  assert.deepEqual(info.codecs, ["bytes", "zstd"]);
  assert.equal(info.plainZstd, true);
  assert.equal(info.chunkKey([3, 4]), "c/3/4");
  assert.deepEqual(chunkGridShape(info), [7, 7]);
  const f = parseV3(JSON.parse(ZARR_PYTHON_FLOAT32), "x");
  assert.ok(f.kind === "array" && Number.isNaN(f.fillValue));
});

Deno.test("parseV3 sends other codec chains and key encodings to the general reader", () => {
  const base = JSON.parse(ZARR_PYTHON_FLOAT32);
  const variants = [
    { codecs: [{ name: "bytes", configuration: { endian: "big" } }, { name: "zstd" }] },
    {
      codecs: [{ name: "transpose", configuration: { order: [1, 0] } }, { name: "bytes" }, { name: "zstd" }],
    },
    { codecs: [{ name: "bytes" }, { name: "gzip", configuration: { level: 1 } }] },
    { chunk_key_encoding: { name: "v2", configuration: { separator: "." } } },
    { chunk_key_encoding: { name: "default", configuration: { separator: "." } } },
  ];
  for (const v of variants) {
    const info = parseV3({ ...base, ...v }, "x");
    assert.ok(info.kind === "array" && !info.plainZstd, JSON.stringify(v));
  }
  const v2keys = parseV3(
    { ...base, chunk_key_encoding: { name: "v2", configuration: { separator: "." } } },
    "x",
  );
  assert.ok(v2keys.kind === "array" && v2keys.chunkKey([1, 2]) === "1.2");
});

Deno.test("parseV3 rejects documents that are not format 3 nodes, naming the file", () => {
  assert.throws(() => parseV3({ zarr_format: 2 }, "a/zarr.json"), /a\/zarr\.json: not Zarr format 3/);
  assert.throws(() => parseV3({ zarr_format: 3, node_type: "x" }, "a/zarr.json"), /unknown node_type/);
  assert.throws(
    () =>
      parseV3({ zarr_format: 3, node_type: "array", shape: [2], chunk_grid: { name: "rectilinear" } }, "f"),
    /f: unsupported chunk grid/,
  );
  const group = parseV3({ zarr_format: 3, node_type: "group", attributes: { header: "h" } }, "g");
  assert.deepEqual(group, { kind: "group", format: 3, attributes: { header: "h" } });
});

Deno.test("parseV2 reads arrays with their .zattrs and both dimension separators", () => {
  const zarray = {
    zarr_format: 2,
    shape: [100, 50],
    chunks: [64, 64],
    dtype: "<f4",
    compressor: { id: "zstd", level: 3 },
    fill_value: "NaN",
    filters: null,
    order: "C",
  };
  const a = parseV2(zarray, { header: "h" }, "x/.zarray");
  assert.ok(a.kind === "array");
  if (a.kind !== "array") return;
  assert.equal(a.dtype, "float32");
  assert.ok(Number.isNaN(a.fillValue));
  assert.deepEqual(a.codecs, ["zstd"]);
  assert.equal(a.chunkKey([1, 0]), "1.0");
  assert.equal(a.plainZstd, false);
  assert.deepEqual(a.attributes, { header: "h" });
  const slash = parseV2({ ...zarray, dimension_separator: "/" }, null, "x");
  assert.ok(slash.kind === "array" && slash.chunkKey([1, 0]) === "1/0");
  assert.deepEqual(parseV2({ zarr_format: 2 }, { a: 1 }, "g"), {
    kind: "group",
    format: 2,
    attributes: { a: 1 },
  });
  assert.throws(() => parseV2({ zarr_format: 3 }, null, "q/.zgroup"), /q\/\.zgroup: not Zarr format 2/);
});

Deno.test("array specs are checked and default chunks are min(1024, side)", () => {
  assert.deepEqual(defaultChunks([6300, 700]), [1024, 700]);
  assert.throws(() => checkArraySpec({ shape: [0, 5], dtype: "float32", chunks: [1, 1] }), StoreError);
  assert.throws(() => checkArraySpec({ shape: [5, 5], dtype: "float32", chunks: [1.5, 1] }), StoreError);
  assert.throws(
    () => checkArraySpec({ shape: [5, 5], dtype: "int8" as "uint16", chunks: [1, 1] }),
    /unsupported data type "int8"/,
  );
});
