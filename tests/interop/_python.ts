/**
 * Access to the Python reference environment (zarr-python 3, astropy, numpy) for the
 * interoperability suite. `.ci/run` builds it under `.cache/venv` and exports `PS1_PYTHON`.
 * A missing interpreter is a test failure, never a skip.
 * @module
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as path from "node:path";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Path of the reference Python interpreter (`PS1_PYTHON`, else `.cache/venv/bin/python`). */
export function pythonPath(): string {
  const fromEnv = Deno.env.get("PS1_PYTHON");
  if (fromEnv) return fromEnv;
  const venv = path.join(REPO_ROOT, ".cache", "venv", "bin", "python");
  if (existsSync(venv)) return venv;
  throw new Error(
    "reference Python not found: set PS1_PYTHON or create .cache/venv (bash .ci/run does both)",
  );
}

/** Runs a Python script (source text) with arguments; returns stdout, throws with stderr on failure. */
export async function runPython(source: string, args: string[] = []): Promise<string> {
  const out = await new Deno.Command(pythonPath(), {
    args: ["-c", source, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`python failed (exit ${out.code}):\n${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Runs a command-line tool (funpack, fpack, fitsverify, zstd); returns its output, throws on failure. */
export async function runTool(
  cmd: string,
  args: string[],
  opts: { allowFailure?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const res = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (!out.success && !opts.allowFailure) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${res.stderr}${res.stdout}`);
  }
  return res;
}

/** Absolute path of the repository root. */
export const repoRoot: string = REPO_ROOT;
