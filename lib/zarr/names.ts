/**
 * Node names and paths inside a store. Every name that reaches the file system goes through
 * {@link checkNodeName}: a plain name of letters, digits, `.`, `_` and `-`, not `.` or `..`, not
 * starting with `.` (that would hide it, or clash with `.zarray`-style files), and not a Zarr metadata
 * file name. Paths are `/`-joined lists of such names, so nothing can escape the store directory.
 *
 * @example
 * ```ts
 * import { checkNodePath } from "./names.ts";
 * checkNodePath("2556/skycell.2556.080/r"); // ["2556", "skycell.2556.080", "r"]
 * ```
 * @module
 */

import { NodeNameError } from "./errors.ts";

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const RESERVED = new Set(["zarr.json", "c"]);

/** Throws {@link NodeNameError} unless `name` is a safe single node name; returns it. */
export function checkNodeName(name: string, what = "node name"): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 255 || !NAME.test(name)) {
    throw new NodeNameError(`invalid ${what} ${JSON.stringify(name)}: use letters, digits, '.', '_', '-'`);
  }
  if (RESERVED.has(name)) {
    throw new NodeNameError(`invalid ${what} ${JSON.stringify(name)}: reserved by Zarr`);
  }
  return name;
}

/** Splits a `/`-separated node path ("" is the root) into checked names. */
export function checkNodePath(nodePath: string): string[] {
  if (nodePath === "" || nodePath === "/") return [];
  return nodePath.replace(/^\/+|\/+$/g, "").split("/").map((part) => checkNodeName(part, "path component"));
}

/** Joins node names into a store path (no leading slash). */
export function joinNodePath(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/");
}

/** The marker that names a temporary array (built before it is renamed into place). */
export const TEMP_MARKER = "_temp_";

/** True when a node name is a temporary array's. */
export function isTempName(name: string): boolean {
  return name.includes(TEMP_MARKER);
}

let host: string | undefined;

/**
 * This machine's name as a node-name-safe token. Read from /etc/hostname first (needs only the read
 * permission every tool has, so all processes on a host agree), then the host name API.
 */
export function hostToken(): string {
  if (host === undefined) {
    let name = "";
    for (const read of [() => Deno.readTextFileSync("/etc/hostname"), () => Deno.hostname()]) {
      try {
        name = read().trim();
      } catch {
        name = "";
      }
      if (name) break;
    }
    host = name.split(".")[0].replace(/[^A-Za-z0-9]/g, "").slice(0, 32) || "host";
  }
  return host;
}

/**
 * A fresh temporary name for a node named `name`: `{name}_temp_[old_|del_]{host}-{pid}-{random}`, where
 * `old_` marks a complete array moved aside while a new one replaces it, and `del_` a node being deleted.
 * The host and process id let a later run tell an orphan (its process is gone) from a build in progress.
 */
export function tempName(name: string, purpose: TempPurpose = "new"): string {
  const tag = purpose === "new" ? "" : `${purpose}_`;
  return `${name}${TEMP_MARKER}${tag}${ownerToken()}`;
}

const OWNER_TOKEN = /([A-Za-z0-9]+)-(\d+)-[0-9a-f]+$/;

/** A fresh `{host}-{pid}-{random}` token naming this process (temp nodes, spool folders). */
export function ownerToken(): string {
  return `${hostToken()}-${Deno.pid}-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** The host and process id of a name that is or ends in an {@link ownerToken}, or null. */
export function parseOwnerToken(name: string): { host: string; pid: number } | null {
  const m = OWNER_TOKEN.exec(name);
  return m ? { host: m[1], pid: Number(m[2]) } : null;
}

/** Why a temp node exists: a new build, an old array moved aside by a replace, or a node being deleted. */
export type TempPurpose = "new" | "old" | "del";

/** The final name and purpose of a temp name made by {@link tempName}, or null for other temp names. */
export function parseTempName(name: string): { final: string; purpose: TempPurpose } | null {
  const m = /^(.+?)_temp_(old_|del_)?(.*)$/.exec(name);
  if (!m || !new RegExp(`^${OWNER_TOKEN.source}`).test(m[3])) return null;
  return { final: m[1], purpose: m[2] === "old_" ? "old" : m[2] === "del_" ? "del" : "new" };
}

/** The host and process id recorded in a temp name, or null for temp names without them (other tools). */
export function tempOwner(name: string): { host: string; pid: number } | null {
  return parseTempName(name) ? parseOwnerToken(name) : null;
}
