import { assertEquals } from "../ps1/_assert.ts";
import { fileURLToPath } from "node:url";
import { main } from "../../lib/archive/serve.ts";
import { makeTree, sameBytes } from "./_tree.ts";
import { within as withinDefault } from "../_deadline.ts";

/** A deadline on a wait (see tests/_deadline.ts), 30_000 ms unless told. */
const within = <T>(p: Promise<T>, what: string, ms = 30_000) => withinDefault(p, what, ms);

const SERVE = new URL("../../lib/archive/serve.ts", import.meta.url);

Deno.test("serve.ts rejects bad flags with exit code 2", async () => {
  const saved = console.error;
  const messages: string[] = [];
  console.error = (m: string) => messages.push(m);
  try {
    assertEquals(await main([]), 2);
    assertEquals(await main(["--root", ".", "--port", "x"]), 2);
    assertEquals(await main(["--root", ".", "--fault-rate", "2"]), 2);
    assertEquals(await main(["--bogus"]), 2);
  } finally {
    console.error = saved;
  }
  assertEquals(messages.every((m) => m.startsWith("serve.ts: ")), true);
  assertEquals(messages[0], "serve.ts: --root is required");
});

Deno.test("serve.ts serves a tree until SIGTERM and prints its URL", async () => {
  const tree = await makeTree(1, 3000);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-net=127.0.0.1",
      "--allow-env",
      fileURLToPath(SERVE),
      "--root",
      tree.root,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await within(reader.read(), "the URL line");
      if (done) break;
      text += value;
    }
    const url = text.trim();
    assertEquals(/^http:\/\/127\.0\.0\.1:\d+\/rings\.v3\.skycell$/.test(url), true);
    const [rel, bytes] = [...tree.files][0];
    const res = await within(fetch(`${url}/${rel}`), "the file");
    assertEquals(sameBytes(new Uint8Array(await res.arrayBuffer()), bytes), true);
    child.kill("SIGTERM");
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    const status = await within(child.status, "exit after SIGTERM");
    const stderr = await within(new Response(child.stderr).text(), "stderr");
    assertEquals(status.code, 0, stderr);
    assertEquals(stderr.includes("served 1 requests"), true);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await tree.remove();
  }
});
