import { setTimeout as sleep } from "node:timers/promises";

/** Waits until `Date.now()` reaches `time` (a wall-clock instant in ms). */
export async function sleepUntil(time: number): Promise<void> {
  const left = time - Date.now();
  if (left > 0) await sleep(left);
}

/**
 * Calls `check` every `intervalMs` until it resolves `true`, and resolves whether it did before
 * `deadline` (a wall-clock instant in ms). Polling instead of one long sleep keeps the expiry
 * tests fast on a quick machine and correct on a slow one.
 *
 * It resolves `false` only after a check that *started* at or past the deadline still failed: on
 * a loaded machine one check can take longer than the grace it is given, and a check sent before
 * the deadline says nothing about the state after it.
 */
export async function pollUntil(
  check: () => Promise<boolean>,
  deadline: number,
  intervalMs = 20,
): Promise<boolean> {
  for (;;) {
    const startedAt = Date.now();
    if (await check()) return true;
    if (startedAt >= deadline) return false;
    await sleep(Math.max(0, Math.min(intervalMs, deadline - Date.now())));
  }
}

/** Collects an async iterable, stopping with an error past `limit` items so a looping iterator fails. */
export async function collect<T>(iterable: AsyncIterable<T>, limit: number): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (items.length > limit) {
      throw new Error(`the iterator yielded more than ${limit} items: it repeats or never ends`);
    }
  }
  return items;
}

/** Runs `task(i)` for i in [0, count), at most `concurrency` at a time. */
export async function inBatches(
  count: number,
  concurrency: number,
  task: (index: number) => unknown,
): Promise<void> {
  for (let start = 0; start < count; start += concurrency) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(count, start + concurrency); i++) {
      batch.push((async () => task(i))());
    }
    await Promise.all(batch);
  }
}
