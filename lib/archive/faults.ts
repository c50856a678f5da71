/**
 * Fault injection for the local PS1-like archive: which request gets which misbehaviour. A fault plan has
 * rules matched against the path under the archive base (`PPPP/CCC/<file>`, or just the file name when the
 * pattern has no `/`), by exact text or glob (`*` any characters but `/`, `**` anything, `?` one character),
 * and optionally random faults drawn from a seeded generator so a run is repeatable.
 *
 * Fault kinds:
 * - `notFound`: 404.
 * - `status`: answer `status` (500, 503, ...) instead of the file.
 * - `rateLimit`: 429 with `Retry-After` (seconds, or an HTTP date when `retryAfterDate` is set).
 * - `reset`: send the headers and part of the body, then drop the connection.
 * - `truncate`: send fewer bytes than the file has and end the body; `Content-Length` announces the full
 *   size unless `declareLength` is false (then the body is chunked and ends cleanly, short).
 * - `stall`: send the headers, then no byte (until the client gives up or the server closes).
 * - `corrupt`: flip bytes of the body (same length).
 * - `slow`: send at most `bytesPerSecond`.
 * - `trickle`: send `bytesPerTick` bytes (default 1) every `intervalMs` (default 1000), with the full
 *   `Content-Length`: data keeps coming, so only a low-speed rule ends it.
 * - `endless`: a body without `Content-Length` that never ends (zero bytes, chunk after chunk).
 * - `gzip`: the file gzip-compressed, with `Content-Encoding: gzip` and the compressed `Content-Length`,
 *   whatever the request's `Accept-Encoding` says.
 * - `hugeLength`: announce `Content-Length: declaredLength` (default 2^40) and send the file.
 *
 * Each rule applies to the first `times` requests of each matching path (default: always), so "503 for the
 * first 2 tries" is `{ match: "*.wt.fits", fault: { kind: "status", status: 503 }, times: 2 }`.
 *
 * @example
 * ```ts
 * import { FaultInjector } from "./faults.ts";
 * const faults = new FaultInjector({ rules: [{ match: "2556/080/*", fault: { kind: "notFound" } }] });
 * faults.pick("2556/080/rings.v3.skycell.2556.080.stk.r.unconv.fits", 1)?.kind; // "notFound"
 * ```
 * @module
 */

/** One misbehaviour of the server for one request. */
export type Fault =
  | { kind: "notFound" }
  | { kind: "status"; status: number }
  | { kind: "rateLimit"; retryAfterSeconds?: number; retryAfterDate?: boolean }
  | { kind: "reset"; fraction?: number }
  | { kind: "truncate"; fraction?: number; declareLength?: boolean }
  | { kind: "stall"; afterBytes?: number }
  | { kind: "corrupt"; flips?: number }
  | { kind: "slow"; bytesPerSecond: number }
  | { kind: "trickle"; intervalMs?: number; bytesPerTick?: number }
  | { kind: "endless" }
  | { kind: "gzip" }
  | { kind: "hugeLength"; declaredLength?: number };

/** The kinds of {@link Fault}. */
export type FaultKind = Fault["kind"];

/** A fault for the paths matching `match`, for the first `times` requests of each path (default all). */
export interface FaultRule {
  /** Exact path or glob, matched against `PPPP/CCC/<file>` (or the file name when it has no `/`). */
  match: string;
  /** What to do. */
  fault: Fault;
  /** Apply to the first `times` requests of each matching path (default: every request). */
  times?: number;
}

/** Random faults: each request (of a path with fewer than `maxPerPath` faults so far) fails with `rate`. */
export interface RandomFaults {
  /** Probability of a fault per request, 0-1. */
  rate: number;
  /** Seed of the generator (default 1). */
  seed?: number;
  /** The faults to draw from (default: 503, 429, reset, truncate, corrupt). */
  faults?: Fault[];
  /** At most this many faults per path (default 2), so retries end in success. */
  maxPerPath?: number;
}

/** Which requests misbehave and how. */
export interface FaultPlan {
  /** Faults for matching paths; the first matching rule wins. */
  rules?: FaultRule[];
  /** Random faults for requests no rule matched. */
  random?: RandomFaults;
}

/** A fault plan that cannot be used (bad rate, status or pattern). */
export class FaultPlanError extends Error {
  /** @param message one line naming the bad setting */
  constructor(message: string) {
    super(message);
    this.name = "FaultPlanError";
  }
}

/** The default random faults: transient ones that a client recovers from with retries. */
export const TRANSIENT_FAULTS: readonly Fault[] = [
  { kind: "status", status: 503 },
  { kind: "rateLimit", retryAfterSeconds: 0 },
  { kind: "reset" },
  { kind: "truncate" },
  { kind: "corrupt" },
];

/** Converts a glob (`*`, `**`, `?`) to an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        re += ".*";
        i++;
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}$`);
}

/** A small seeded generator (mulberry32): repeatable random numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkFault(f: Fault): void {
  if (f.kind === "status" && !(Number.isInteger(f.status) && f.status >= 400 && f.status <= 599)) {
    throw new FaultPlanError(`fault status must be 400-599: ${f.status}`);
  }
  if (f.kind === "slow" && !(f.bytesPerSecond > 0)) {
    throw new FaultPlanError(`slow fault needs bytesPerSecond > 0: ${f.bytesPerSecond}`);
  }
  if (f.kind === "trickle" && !((f.intervalMs ?? 1000) >= 0 && (f.bytesPerTick ?? 1) >= 1)) {
    throw new FaultPlanError(`trickle fault needs intervalMs >= 0 and bytesPerTick >= 1`);
  }
  if (f.kind === "hugeLength" && !Number.isSafeInteger(f.declaredLength ?? 0)) {
    throw new FaultPlanError(`hugeLength fault needs an integer declaredLength: ${f.declaredLength}`);
  }
}

/** Decides the fault (if any) of each request from a {@link FaultPlan}. */
export class FaultInjector {
  #rules: { re: RegExp; nameOnly: boolean; rule: FaultRule }[];
  #random?: { rate: number; faults: readonly Fault[]; maxPerPath: number; next: () => number };
  #randomCount = new Map<string, number>();

  /** @param plan the faults to inject */
  constructor(plan: FaultPlan = {}) {
    this.#rules = (plan.rules ?? []).map((rule) => {
      checkFault(rule.fault);
      return { re: globToRegExp(rule.match), nameOnly: !rule.match.includes("/"), rule };
    });
    const r = plan.random;
    if (r) {
      if (!(r.rate >= 0 && r.rate <= 1)) throw new FaultPlanError(`random fault rate must be 0-1: ${r.rate}`);
      const faults = r.faults ?? TRANSIENT_FAULTS;
      faults.forEach(checkFault);
      if (faults.length === 0) throw new FaultPlanError("random faults need at least one fault");
      this.#random = { rate: r.rate, faults, maxPerPath: r.maxPerPath ?? 2, next: seededRandom(r.seed ?? 1) };
    }
  }

  /** The fault for the `hit`-th (1-based) request of `relPath`, or null to serve the file normally. */
  pick(relPath: string, hit: number): Fault | null {
    const name = relPath.slice(relPath.lastIndexOf("/") + 1);
    for (const { re, nameOnly, rule } of this.#rules) {
      if (!re.test(nameOnly ? name : relPath)) continue;
      if (rule.times !== undefined && hit > rule.times) continue;
      return rule.fault;
    }
    const random = this.#random;
    if (random) {
      const used = this.#randomCount.get(relPath) ?? 0;
      // Draw both numbers every time so one path's history does not shift another's choices.
      const roll = random.next();
      const which = random.next();
      if (used < random.maxPerPath && roll < random.rate) {
        this.#randomCount.set(relPath, used + 1);
        return random.faults[Math.floor(which * random.faults.length)];
      }
    }
    return null;
  }
}
