/**
 * Small assertion helpers over `node:assert/strict` for the PS1 and archive tests: deep equality, and
 * throw/reject checks that return the error for further checks.
 * @module
 */
import assert from "node:assert/strict";

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

function checkError(err: unknown, cls?: ErrorClass, includes?: string): Error {
  if (!(err instanceof Error)) throw new assert.AssertionError({ message: `expected an Error, got ${err}` });
  if (cls && !(err instanceof cls)) {
    const e = err as Error;
    throw new assert.AssertionError({ message: `expected ${cls.name}, got ${e.name}: ${e.message}` });
  }
  if (includes !== undefined && !err.message.includes(includes)) {
    throw new assert.AssertionError({
      message: `error message ${JSON.stringify(err.message)} lacks ${includes}`,
    });
  }
  return err;
}

/** Asserts that `fn` throws (an instance of `cls`, with `includes` in its message); returns the error. */
export function assertThrows(fn: () => unknown, cls?: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (err) {
    return checkError(err, cls, includes);
  }
  throw new assert.AssertionError({ message: "expected a throw" });
}

/** Asserts that `fn` rejects (an instance of `cls`, with `includes` in its message); returns the error. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, cls, includes);
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}
