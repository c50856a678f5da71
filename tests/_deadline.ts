/**
 * Deadlines for tests: every wait of the suite ends, with a failure naming what it waited for, instead of
 * hanging the run. A deadline is a bound on a wait, never an assertion on how long something took.
 * @module
 */

/** `promise`, or a rejection naming `what` when it is not settled within `ms` milliseconds. */
export async function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
