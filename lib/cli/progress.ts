/**
 * A progress display: on a terminal, one line rewritten in place at most a few times a second; otherwise
 * (a log file, a batch job) a plain line at a steady pace, so logs stay readable.
 *
 * @example
 * ```ts ignore
 * const progress = new Progress({ tty: Deno.stderr.isTerminal() });
 * progress.update(() => `skycells 3/10`);
 * progress.done();
 * ```
 * @module
 */

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Rewrite one line in place (a terminal) or print lines (anything else). Default: stderr is a terminal. */
  tty?: boolean;
  /** Minimum time between terminal redraws, ms (default 200). */
  redrawMs?: number;
  /** Time between plain lines when not on a terminal, ms (default 30 000). */
  lineMs?: number;
  /** Where text goes (default: stderr). */
  write?: (text: string) => void;
  /** Clock (default Date.now). */
  now?: () => number;
}

const encoder = new TextEncoder();

/** A throttled progress line. */
export class Progress {
  #tty: boolean;
  #interval: number;
  #write: (text: string) => void;
  #now: () => number;
  #last = -Infinity;
  #shown = false;
  #text?: () => string;

  /** @param opts terminal or not, pacing, output */
  constructor(opts: ProgressOptions = {}) {
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    this.#interval = this.#tty ? (opts.redrawMs ?? 200) : (opts.lineMs ?? 30_000);
    this.#write = opts.write ?? ((t) => void Deno.stderr.writeSync(encoder.encode(t)));
    this.#now = opts.now ?? Date.now;
  }

  /** True when drawing on a terminal. */
  get tty(): boolean {
    return this.#tty;
  }

  /** Shows the text (computed lazily) if the pace allows; `force` shows it now. */
  update(text: () => string, force = false): void {
    this.#text = text;
    const now = this.#now();
    if (!force && now - this.#last < this.#interval) return;
    this.#last = now;
    if (this.#tty) {
      this.#write(`\r\x1b[2K${text()}`);
      this.#shown = true;
    } else {
      this.#write(`${text()}\n`);
    }
  }

  /** Clears the terminal line (before a log line is printed); the next update redraws it. */
  clear(): void {
    if (this.#tty && this.#shown) {
      this.#write("\r\x1b[2K");
      this.#shown = false;
      this.#last = -Infinity;
    }
  }

  /** Shows the last text once more and ends the line. */
  done(): void {
    if (this.#text) {
      if (this.#tty) this.#write(`\r\x1b[2K${this.#text()}\n`);
      else this.#write(`${this.#text()}\n`);
    }
    this.#shown = false;
    this.#text = undefined;
  }
}

/** Formats a byte count in MB with one decimal. */
export function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Formats a duration in seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}
