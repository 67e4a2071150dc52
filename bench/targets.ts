// The targets Tessera's results are judged against, from the project's issue, and their verdicts.
import type { Route } from "./contenders.js";
import type { MemoryProfile } from "./memory-data.js";
import type { BenchResults, RatioSummary, TargetResult } from "./results.js";

type Target =
  | {
      id: string;
      kind: "http";
      contender: string;
      route: Route;
      against: "bare" | "peer";
      atLeast: number;
      description: string;
    }
  | { id: string; kind: "memory"; profile: MemoryProfile; atMost: number; description: string };

export const TARGETS: readonly Target[] = [
  ...(["read", "noop"] as const).map(
    (route): Target => ({
      id: `memory-${route}-vs-bare`,
      kind: "http",
      contender: "tessera-memory",
      route,
      against: "bare",
      atLeast: 0.9,
      description: `/${route}, Tessera + MemoryStore vs bare Express`,
    }),
  ),
  ...(["read", "write"] as const).map(
    (route): Target => ({
      id: `memory-${route}-vs-express-session`,
      kind: "http",
      contender: "tessera-memory",
      route,
      against: "peer",
      atLeast: 1.35,
      description: `/${route}, Tessera + MemoryStore vs express-session + MemoryStore`,
    }),
  ),
  ...(["read", "write"] as const).map(
    (route): Target => ({
      id: `redis-${route}-vs-connect-redis`,
      kind: "http",
      contender: "tessera-redis",
      route,
      against: "peer",
      atLeast: 1.25,
      description: `/${route}, Tessera + RedisStore vs express-session + connect-redis`,
    }),
  ),
  ...(["small", "user"] as const).map(
    (profile): Target => ({
      id: `memory-per-session-${profile}`,
      kind: "memory",
      profile,
      atMost: 1.2,
      description: `heap per ${profile === "small" ? "small session" : "session with a user profile"}, Tessera vs express-session`,
    }),
  ),
];

function httpVerdict(
  target: Extract<Target, { kind: "http" }>,
  results: Pick<BenchResults, "http">,
): TargetResult {
  const base = {
    id: target.id,
    description: target.description,
    comparison: "at least" as const,
    threshold: target.atLeast,
  };
  const cell = results.http.find(
    (c) => c.contender === target.contender && c.route === target.route,
  );
  const ratio: RatioSummary | undefined =
    target.against === "bare" ? cell?.summary?.vsBare : cell?.summary?.vsPeer;
  const byCpu = (target.against === "bare" ? cell?.summary?.cpuVsBare : cell?.summary?.cpuVsPeer)
    ?.median;
  if (!cell || !ratio) {
    const why = !cell
      ? `${target.contender} was not run on /${target.route}`
      : (cell.error ?? "the contender it is compared with was not run");
    return { ...base, verdict: "NOT RUN", note: why };
  }
  const pass = ratio.median >= target.atLeast;
  const straddles = ratio.min < target.atLeast && ratio.max >= target.atLeast;
  return {
    ...base,
    value: ratio.median,
    range: [ratio.min, ratio.max],
    verdict: pass ? "PASS" : "FAIL",
    ...(byCpu !== undefined ? { byCpu } : {}),
    ...(straddles ? { note: "rounds fall on both sides of the target: within noise" } : {}),
  };
}

function memoryVerdict(
  target: Extract<Target, { kind: "memory" }>,
  results: Pick<BenchResults, "memory">,
): TargetResult {
  const base = {
    id: target.id,
    description: target.description,
    comparison: "at most" as const,
    threshold: target.atMost,
  };
  const ratio = results.memory?.ratios.find((r) => r.profile === target.profile)?.ratio;
  if (ratio === undefined) {
    return {
      ...base,
      verdict: "NOT RUN",
      note: results.memory?.skipped ?? "the memory benchmark was not run",
    };
  }
  return { ...base, value: ratio, verdict: ratio <= target.atMost ? "PASS" : "FAIL" };
}

export function evaluateTargets(results: Pick<BenchResults, "http" | "memory">): TargetResult[] {
  return TARGETS.map((target) =>
    target.kind === "http" ? httpVerdict(target, results) : memoryVerdict(target, results),
  );
}
