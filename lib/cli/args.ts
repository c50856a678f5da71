/**
 * Shared flag handling for the three scripts: `node:util` `parseArgs` in strict mode with one-line
 * usage errors, number and list parsing that names the flag, and the exit codes.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./args.ts";
 * const { values } = parseFlags(["--sector", "20"], { sector: { type: "string" } });
 * values.sector; // "20"
 * ```
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** Exit codes shared by the scripts. */
export const EXIT = {
  ok: 0,
  /** Problems found, or some work failed. */
  problems: 1,
  /** Bad usage or nothing could be done. */
  usage: 2,
  /** Interrupted by SIGINT (128 + 2). */
  sigint: 130,
  /** Interrupted by SIGTERM (128 + 15). */
  sigterm: 143,
} as const;

/** A command-line mistake; the message is one line naming the flag or value. */
export class UsageError extends Error {
  /** @param message one line naming what is wrong */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses flags strictly (unknown flags and missing values are {@link UsageError}s). */
export function parseFlags<O extends Options>(
  args: string[],
  options: O,
  allowPositionals = false,
): {
  values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>["values"];
  positionals: string[];
} {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    if (!allowPositionals && parsed.positionals.length > 0) {
      throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
    }
    return parsed as never;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // parseArgs messages are long; keep the first sentence.
    throw new UsageError((err as Error).message.split("\n")[0].replace(/\. To specify.*$/, ""));
  }
}

/** Parses an integer flag value in [min, max]; throws {@link UsageError} naming the flag. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min = -Infinity,
  max = Infinity,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = min > -Infinity ? (max < Infinity ? ` (${min}-${max})` : ` (>= ${min})`) : "";
    throw new UsageError(`--${name}: expected an integer${range}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Turns an integer flag's text into a number, or undefined when the flag is absent. Only the form is
 * checked here; ranges and defaults belong to the library the flag is passed to.
 */
export function integerText(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--${name}: expected an integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Turns a number flag's text into a number, or undefined when absent (ranges: the library's). */
export function numberText(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${name}: expected a number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Parses a number flag value (>= min); throws {@link UsageError} naming the flag. */
export function numberFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < min) {
    throw new UsageError(`--${name}: expected a number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Splits a comma-separated list flag (`r,i,z,y`), trimming and dropping empty items. */
export function listFlag(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Prints a one-line error for the script `name` to stderr. */
export function printError(name: string, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`${name}: error: ${message.split("\n")[0]}`);
}
