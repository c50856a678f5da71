/**
 * Which process made a temp node, and whether it still runs. Temp names carry the host and process id
 * (`r_temp_{host}-{pid}-{random}`, see names.ts). A process that builds arrays holds an exclusive `flock`
 * on `{store}.owners/{host}-{pid}` for as long as it runs; the kernel releases it when the process dies,
 * however it dies. A temp node is an orphan when its owner file exists on this host and can be locked.
 *
 * Conservative by design: another host's temp node, a live owner, or a temp name without owner (made by
 * other tools) is never called an orphan. Owner files are tiny and never deleted (deleting one while a new
 * process with the same pid opens it could hide that process).
 * @module
 */

import * as path from "node:path";
import { hostToken, tempOwner } from "./names.ts";

const held = new Map<string, Deno.FsFile>();

/** The owners directory of a store: `{store}.owners`, a sibling of the store. */
export function ownersDir(storeRoot: string): string {
  return path.resolve(storeRoot).replace(/\/+$/, "") + ".owners";
}

/** Registers this process as a live owner of temp nodes in the store (idempotent). */
export async function registerOwner(storeRoot: string): Promise<void> {
  const file = path.join(ownersDir(storeRoot), `${hostToken()}-${Deno.pid}`);
  if (held.has(file)) return;
  await Deno.mkdir(path.dirname(file), { recursive: true });
  const handle = await Deno.open(file, { read: true, write: true, create: true });
  // A file of a dead process with our pid is free; a live one with our pid cannot exist.
  if (!(await handle.tryLock(true))) {
    handle.close();
    throw new Error(`${file}: owner lock held by another process with this pid`);
  }
  held.set(file, handle);
}

// Checks of one owner file in this process run one at a time: two overlapping tryLocks on separate
// descriptors would see each other's lock and take a dead owner for a live one.
const checking = new Map<string, Promise<boolean>>();

/** True when the process `host-pid` registered in the store is certainly gone (this host only). */
export async function isOwnerGone(storeRoot: string, host: string, pid: number): Promise<boolean> {
  if (host !== hostToken()) return false;
  const file = path.join(ownersDir(storeRoot), `${host}-${pid}`);
  if (held.has(file)) return false;
  const previous = checking.get(file) ?? Promise.resolve(false);
  const mine = previous.catch(() => false).then(() => tryOwnerLock(file));
  checking.set(file, mine);
  try {
    return await mine;
  } finally {
    if (checking.get(file) === mine) checking.delete(file);
  }
}

async function tryOwnerLock(file: string): Promise<boolean> {
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(file, { read: true, write: true });
  } catch {
    return false;
  }
  try {
    const free = await handle.tryLock(true);
    if (free) await handle.unlock();
    return free;
  } finally {
    handle.close();
  }
}

/** True when a temp node's maker is certainly gone (see {@link isOwnerGone}). */
export async function isOrphanTemp(storeRoot: string, name: string): Promise<boolean> {
  const owner = tempOwner(name);
  return owner !== null && await isOwnerGone(storeRoot, owner.host, owner.pid);
}
