// The shape of bench/results/<name>.json: everything a run measured, from which the table, the
// targets and the SVG chart are all derived.
import type { Route, Skipped, StoreKind } from "./contenders.js";
import type { MemoryResults } from "./memory.js";
import type { LoadResult } from "./processes.js";
import type { Spread } from "./stats.js";

export interface RatioSummary {
  /** The contender divided by. */
  against: string;
  /** Median of the per-round ratios of req/s. */
  median: number;
  min: number;
  max: number;
}

export interface HttpCell {
  contender: string;
  route: Route;
  /** One autocannon run per round, in round order. */
  rounds: LoadResult[];
  /** Why this contender was not measured on this route (it failed to start or to answer). */
  error?: string;
  /** For /write: the `views` counter read back after the last round; proves the writes landed. */
  viewsAfterWrites?: number;
  summary?: {
    /** Median over the rounds. */
    reqPerSec: number;
    reqPerSecSpread: Spread;
    /** Median over the rounds of each round's 99th percentile latency. */
    latencyP99Ms: number;
    /** req/s ratio to bare Express, per round. */
    vsBare?: RatioSummary;
    /** req/s ratio to the express-session contender on the same kind of store, per round. */
    vsPeer?: RatioSummary;
    /** Median CPU time of the server process per request, in µs (absent without /proc). */
    cpuUsPerRequest?: number;
    /**
     * The same two ratios from CPU time per request (theirs over ours): what req/s would show if
     * each server had a core to itself. Steadier than req/s when the machine is shared.
     */
    cpuVsBare?: RatioSummary;
    cpuVsPeer?: RatioSummary;
  };
}

export type Verdict = "PASS" | "FAIL" | "NOT RUN";

export interface TargetResult {
  id: string;
  description: string;
  /** "at least" for speed ratios, "at most" for memory. */
  comparison: "at least" | "at most";
  threshold: number;
  value?: number;
  /** The smallest and largest per-round value, when the target is measured over rounds. */
  range?: [number, number];
  /** For speed targets: the same ratio from CPU time per request, as a cross-check. */
  byCpu?: number;
  verdict: Verdict;
  /** Why a target was not run, or that its rounds straddle the threshold. */
  note?: string;
}

export interface BenchResults {
  version: 1;
  name: string;
  date: string;
  machine: {
    cpuModel: string;
    cores: number;
    totalMemoryMb: number;
    nodeVersion: string;
    platform: string;
    /** 1-minute load average before and after: above 0 means other work shared the cores. */
    loadAverageBefore: number;
    loadAverageAfter: number;
  };
  settings: {
    quick: boolean;
    rounds: number;
    durationS: number;
    warmupS: number;
    connections: number;
    routes: Route[];
    memorySessions: number | null;
  };
  contenders: { name: string; label: string; library: string; store: StoreKind; peer?: string }[];
  skipped: Skipped[];
  http: HttpCell[];
  memory?: MemoryResults;
  targets: TargetResult[];
}
