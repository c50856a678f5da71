/**
 * Worker that writes the files of one skycell and band at a time for `writeDemoArchive`, so several
 * cores generate a large synthetic archive in parallel. Messages in: `{ id, root, skycell, band, size,
 * seed }`; out: `{ id, bytes }` or `{ id, error }`.
 * @module
 */

import { writeSkycellFiles } from "./synth.ts";

/** A job for the worker. */
export interface SynthJob {
  /** Job number, echoed in the answer. */
  id: number;
  /** Root of the archive tree. */
  root: string;
  /** Skycell name. */
  skycell: string;
  /** Band. */
  band: string;
  /** Skycell width. */
  size?: number;
  /** Seed. */
  seed?: number;
}

/** The worker's answer. */
export type SynthJobResult = { id: number; bytes: number } | { id: number; error: string };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SynthJob>) => void) | null;
  postMessage(message: SynthJobResult): void;
};

scope.onmessage = async (e) => {
  const job = e.data;
  try {
    const { bytes } = await writeSkycellFiles(job.root, job.skycell, job.band, {
      size: job.size,
      seed: job.seed,
    });
    scope.postMessage({ id: job.id, bytes });
  } catch (err) {
    scope.postMessage({ id: job.id, error: (err as Error).message ?? String(err) });
  }
};
