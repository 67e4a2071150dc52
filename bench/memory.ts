// Heap bytes per session, express-session's MemoryStore against Tessera's, each measurement in a
// fresh process (memory-child.ts) so that one store's garbage never counts against the other.

import { join } from "node:path";
import type { MemoryChildResult } from "./memory-child.js";
import { MEMORY_PROFILES, type MemoryLibrary, type MemoryProfile } from "./memory-data.js";
import { runJsonChild } from "./processes.js";

export interface MemoryCell extends MemoryChildResult {
  bytesPerSession: number;
}

export interface MemoryResults {
  sessions: number;
  cells: MemoryCell[];
  /** Tessera's bytes per session over express-session's, per profile. */
  ratios: { profile: MemoryProfile; ratio: number }[];
  /** Tessera's store given `max` below the number of sessions put in. */
  bounded?: {
    max: number;
    inserted: number;
    kept: number;
    heapDeltaBytes: number;
    /** Kept no more than `max`, and its heap grew no more than `max` sessions' worth (+25 %). */
    bounded: boolean;
  };
  /** Why Tessera's side was not measured, when it was not. */
  skipped?: string;
}

function runChild(
  root: string,
  library: MemoryLibrary,
  profile: MemoryProfile,
  sessions: number,
  max?: number,
): Promise<MemoryChildResult> {
  const args = [
    "--expose-gc",
    "--import",
    "tsx",
    join(root, "bench", "memory-child.ts"),
    `--library=${library}`,
    `--profile=${profile}`,
    `--sessions=${sessions}`,
  ];
  if (max !== undefined) args.push(`--max=${max}`);
  return runJsonChild<MemoryChildResult>(args, {
    cwd: root,
    limitMs: 120_000,
    what: `memory measurement of ${library} (${profile})`,
  });
}

function withPerSession(result: MemoryChildResult): MemoryCell {
  return { ...result, bytesPerSession: result.heapDeltaBytes / Math.max(result.kept, 1) };
}

/**
 * Measures both libraries on both profiles, then Tessera with `max` at a quarter of the sessions
 * to show that its store stays bounded. `tessera` is false when its MemoryStore is not written yet.
 */
export async function runMemoryBenchmark(
  root: string,
  sessions: number,
  tessera: { run: true } | { run: false; reason: string },
  log: (line: string) => void,
): Promise<MemoryResults> {
  const cells: MemoryCell[] = [];
  const libraries: MemoryLibrary[] = tessera.run
    ? ["express-session", "tessera"]
    : ["express-session"];
  for (const profile of MEMORY_PROFILES) {
    for (const library of libraries) {
      // Tessera's store is given room for every session, so nothing is evicted while measuring.
      const max = library === "tessera" ? sessions : undefined;
      const cell = withPerSession(await runChild(root, library, profile, sessions, max));
      log(
        `  ${library.padEnd(16)} ${profile.padEnd(6)} ${cell.bytesPerSession.toFixed(0).padStart(6)} B/session (record ${cell.recordJsonBytes} B of JSON, ${cell.kept} kept)`,
      );
      cells.push(cell);
    }
  }
  const results: MemoryResults = { sessions, cells, ratios: [] };
  if (!tessera.run) {
    results.skipped = tessera.reason;
    return results;
  }
  for (const profile of MEMORY_PROFILES) {
    const theirs = cells.find((c) => c.library === "express-session" && c.profile === profile);
    const ours = cells.find((c) => c.library === "tessera" && c.profile === profile);
    if (theirs && ours) {
      results.ratios.push({ profile, ratio: ours.bytesPerSession / theirs.bytesPerSession });
    }
  }
  const max = Math.max(1, Math.floor(sessions / 4));
  const capped = await runChild(root, "tessera", "small", sessions, max);
  const full = cells.find((c) => c.library === "tessera" && c.profile === "small");
  const allowance = full ? full.bytesPerSession * max * 1.25 : Number.POSITIVE_INFINITY;
  results.bounded = {
    max,
    inserted: capped.inserted,
    kept: capped.kept,
    heapDeltaBytes: capped.heapDeltaBytes,
    bounded: capped.kept <= max && capped.heapDeltaBytes <= allowance,
  };
  log(
    `  tessera, max ${max}: kept ${capped.kept} of ${capped.inserted}, heap +${(capped.heapDeltaBytes / 1e6).toFixed(1)} MB`,
  );
  return results;
}
