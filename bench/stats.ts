// The few statistics the report needs. Rounds are few (3 to 5), so medians, not means: one round
// disturbed by another process on the machine must not move the result.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}

export interface Spread {
  min: number;
  max: number;
  /** (max - min) / median: how far apart the rounds were, 0.1 meaning 10 %. */
  relative: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: Number.NaN, max: Number.NaN, relative: Number.NaN };
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { min, max, relative: (max - min) / median(values) };
}

/**
 * Ratios of two contenders measured in the same rounds, one per round. Each round runs the two
 * back to back, so a per-round ratio cancels whatever else the machine was doing during that
 * round better than a ratio of two medians would.
 */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (y > 0) out.push(x / y);
  }
  return out;
}
