/**
 * Logging for the scripts: leveled lines on stderr (the result goes to stdout), with the Python tools'
 * level names. Library code takes a {@link Logger} (or none) and never prints on its own.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const log = createLogger("WARNING", () => {});
 * log.info("not shown"); log.warn("shown");
 * ```
 * @module
 */

/** Level names, as the Python tools' `--log-level`. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;

/** A level name. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Leveled logging. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string): void;
  /** Normal progress. */
  info(message: string): void;
  /** Something the user should know; the run goes on. */
  warn(message: string): void;
  /** Something failed. */
  error(message: string): void;
  /** True when messages of this level are written. */
  enabled(level: LogLevel): boolean;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  enabled: () => false,
};

/** Parses a level name (case-insensitive; `WARN` accepted); throws naming the value otherwise. */
export function parseLogLevel(value: string): LogLevel {
  const v = value.toUpperCase() === "WARN" ? "WARNING" : value.toUpperCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new Error(`invalid log level ${JSON.stringify(value)} (use ${LOG_LEVELS.join(", ")})`);
}

/**
 * A logger writing `HH:MM:SS LEVEL message` lines at or above `level` through `write` (default: stderr).
 * `before` runs before each line (e.g. to clear a progress line).
 */
export function createLogger(
  level: LogLevel = "INFO",
  write: (line: string) => void = (line) => console.error(line),
  before?: () => void,
): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const emit = (lvl: LogLevel, message: string) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    before?.();
    write(`${new Date().toISOString().slice(11, 19)} ${lvl.padEnd(7)} ${message}`);
  };
  return {
    debug: (m) => emit("DEBUG", m),
    info: (m) => emit("INFO", m),
    warn: (m) => emit("WARNING", m),
    error: (m) => emit("ERROR", m),
    enabled: (lvl) => LOG_LEVELS.indexOf(lvl) >= min,
  };
}
