// Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and ranks functions by self time: the
// time the CPU spent in the function's own code, not in what it called.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  /** Microseconds on the monotonic clock that `process.hrtime` reads too. */
  startTime: number;
  samples: number[];
  /** Microseconds before each sample. */
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  /** Where it is: a path relative to the repository, or a node: / internal name. */
  location: string;
  selfMs: number;
  /** Share of the time the process was not idle. */
  selfShare: number;
}

function locationOf(url: string, line: number, root: string): string {
  if (url === "") return "";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const shown = path.startsWith(root) ? path.slice(root.length).replace(/^\//, "") : path;
  // V8 numbers lines from 0; code compiled on the fly (tsx) may report none.
  return line > 0 ? `${shown}:${line + 1}` : shown;
}

/** The monotonic clock in microseconds, as V8 stamps profile samples. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface ProfileWindow {
  /** Only samples taken from this {@link monotonicUs} time on count (leaves out start-up and warm-up). */
  fromUs: number;
  toUs: number;
}

/**
 * The `limit` functions with the most self time within `window`; "(idle)" is left out of ranks
 * and shares.
 */
export function topFunctions(
  file: string,
  root: string,
  window: ProfileWindow,
  limit = 15,
): HotFunction[] {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, { name: string; location: string; us: number }>();
  let busyUs = 0;
  let at = profile.startTime;
  // A sample stands for the time until the next one, as Chrome's profiler view counts it.
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < window.fromUs || at > window.toUs) continue;
    const node = byId.get(profile.samples[i] as number);
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (!node || node.callFrame.functionName === "(idle)") continue;
    busyUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const location = locationOf(url, lineNumber, root);
    const key = `${functionName}@${location}`;
    const entry = selfUs.get(key) ?? {
      name: functionName || "(anonymous)",
      location,
      us: 0,
    };
    entry.us += us;
    selfUs.set(key, entry);
  }
  return [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, limit)
    .map((entry) => ({
      name: entry.name,
      location: entry.location,
      selfMs: entry.us / 1000,
      selfShare: busyUs > 0 ? entry.us / busyUs : 0,
    }));
}

export function renderTopFunctions(functions: readonly HotFunction[]): string {
  return functions
    .map(
      (f) =>
        `${f.selfMs.toFixed(0).padStart(7)} ms ${(f.selfShare * 100).toFixed(1).padStart(5)} %  ${f.name}${f.location ? `  ${f.location}` : ""}`,
    )
    .join("\n");
}
