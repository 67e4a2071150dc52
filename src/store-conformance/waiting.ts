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
 */
export async function pollUntil(
  check: () => Promise<boolean>,
  deadline: number,
  intervalMs = 20,
): Promise<boolean> {
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
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
  task: (index: number) => Promise<unknown>,
): Promise<void> {
  for (let start = 0; start < count; start += concurrency) {
    const batch: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(count, start + concurrency); i++) batch.push(task(i));
    await Promise.all(batch);
  }
}
