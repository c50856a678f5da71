/**
 * A tiny HTTP/1.1 server on 127.0.0.1 that writes hand-made responses, for the client tests that need what
 * `Deno.serve` will not send: a `Content-Length` that disagrees with a chunked body (so the body arrives
 * complete-looking but of the wrong length), a redirect to another server, and a record of each request's
 * head (to see the headers the client sent). One request per connection; the connection is closed after
 * the response.
 * @module
 */

/** What a handler gets: the request line and headers, lower-cased names. */
export interface RawRequest {
  /** `GET /path HTTP/1.1`. */
  line: string;
  /** Header values by lower-case name. */
  headers: Record<string, string>;
}

/** A running raw server. */
export interface RawServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request received, in order. */
  requests: RawRequest[];
  /** Stops listening and waits for open connections to end. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/** Bytes of a response head: status line, headers, blank line. */
export function responseHead(status: string, headers: Record<string, string | number>): Uint8Array {
  const lines = [`HTTP/1.1 ${status}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""];
  return encoder.encode(lines.join("\r\n"));
}

/** One chunk of a chunked body (the empty chunk ends the body). */
export function chunk(bytes: Uint8Array): Uint8Array {
  const head = encoder.encode(`${bytes.length.toString(16)}\r\n`);
  const out = new Uint8Array(head.length + bytes.length + 2);
  out.set(head);
  out.set(bytes, head.length);
  out.set(encoder.encode("\r\n"), head.length + bytes.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

async function readHead(conn: Deno.Conn): Promise<RawRequest | null> {
  const buf = new Uint8Array(64 * 1024);
  let got = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) return null;
    got += n;
    const text = new TextDecoder().decode(buf.subarray(0, got));
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const [line, ...rest] = text.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const h of rest) {
        const colon = h.indexOf(":");
        headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
      }
      return { line, headers };
    }
    if (got === buf.length) return null;
  }
}

/**
 * Starts a raw server whose `respond` returns the bytes to write for each request (the connection is
 * closed after them).
 */
export function startRawServer(respond: (req: RawRequest) => Uint8Array[]): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: RawRequest[] = [];
  const open = new Set<Promise<void>>();
  const serveOne = async (conn: Deno.Conn) => {
    try {
      const req = await readHead(conn);
      if (!req) return;
      requests.push(req);
      for (const part of respond(req)) await writeAll(conn, part);
    } catch {
      // The client went away early: nothing to do.
    } finally {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const p = serveOne(conn);
        open.add(p);
        p.finally(() => open.delete(p));
      }
    } catch { /* listener closed */ }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    requests,
    async close() {
      listener.close();
      await accepting;
      await Promise.all([...open]);
    },
  };
}
