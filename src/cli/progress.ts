import { formatCount } from "./format.js";

/** Where the progress bar is drawn: stderr, or a stand-in for it in tests. */
export interface ProgressStream {
  isTTY?: boolean | undefined;
  columns?: number | undefined;
  write(text: string): unknown;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** What is being counted, in the plural: `"sessions"`. */
  noun: string;
  /** How many there are, when the store can say cheaply. @default undefined (unknown) */
  total?: number | undefined;
  /**
   * The bar appears only for scans at least this long (by `total`, or by the count so far), so
   * quick commands print nothing but their result.
   * @default 100000
   */
  threshold?: number;
  /** Time between two redraws. @default 100 */
  intervalMs?: number;
  /** Set by `--no-progress`. @default true */
  enabled?: boolean;
}

const BAR_WIDTH = 24;
/** How often `tick` looks at the clock: reading it for each of a million sessions would show. */
const CLOCK_EVERY = 256;

/**
 * A one-line progress bar on stderr for long scans. It draws only when stderr is a terminal, so
 * pipes and log files never receive carriage returns, and it erases itself when done.
 *
 * @example
 * const progress = new Progress(process.stderr, { noun: "sessions", total: await store.length() });
 * for await (const id of store.ids()) progress.tick();
 * progress.done();
 */
export class Progress {
  readonly #stream: ProgressStream;
  readonly #noun: string;
  readonly #total: number | undefined;
  readonly #threshold: number;
  readonly #intervalMs: number;
  readonly #enabled: boolean;
  #count = 0;
  #drawn = false;
  #lastDrawMs = 0;

  constructor(stream: ProgressStream, options: ProgressOptions) {
    this.#stream = stream;
    this.#noun = options.noun;
    this.#total = options.total;
    this.#threshold = options.threshold ?? 100_000;
    this.#intervalMs = options.intervalMs ?? 100;
    this.#enabled = (options.enabled ?? true) && stream.isTTY === true;
  }

  /** How many items were counted so far. */
  get count(): number {
    return this.#count;
  }

  /** Counts `n` more items, redrawing at most every `intervalMs`. */
  tick(n = 1): void {
    const before = this.#count;
    this.#count += n;
    if (!this.#enabled) return;
    // Only look at the clock every CLOCK_EVERY items (and on the first).
    if (before !== 0 && Math.floor(before / CLOCK_EVERY) === Math.floor(this.#count / CLOCK_EVERY))
      return;
    if ((this.#total ?? this.#count) < this.#threshold) return;
    const nowMs = Date.now();
    if (nowMs - this.#lastDrawMs < this.#intervalMs) return;
    this.#lastDrawMs = nowMs;
    this.#draw();
  }

  /** Erases the bar, if it was drawn, so the result prints on a clean line. */
  done(): void {
    if (this.#drawn) this.#stream.write("\r\u001b[K");
    this.#drawn = false;
  }

  #draw(): void {
    const total = this.#total;
    let text: string;
    if (total !== undefined && total > 0) {
      const ratio = Math.min(1, this.#count / total);
      const filled = Math.round(ratio * BAR_WIDTH);
      text = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${Math.floor(ratio * 100)}% ${formatCount(this.#count)}/${formatCount(total)} ${this.#noun}`;
    } else {
      text = `scanned ${formatCount(this.#count)} ${this.#noun}…`;
    }
    // A terminal that reports no width (0, as some pseudo-terminals do) gets the classic 80.
    const columns = this.#stream.columns || 80;
    this.#stream.write(`\r${text.slice(0, Math.max(10, columns - 1))}\u001b[K`);
    this.#drawn = true;
  }
}

/**
 * A spinner with the time spent, for a long call that reports no progress of its own (a
 * store's `prune()`): it appears after `afterMs` and only on a terminal.
 *
 * @example
 * const stop = startSpinner(process.stderr, "pruning expired sessions");
 * try { await store.prune(); } finally { stop(); }
 */
export function startSpinner(
  stream: ProgressStream,
  label: string,
  options: { afterMs?: number; enabled?: boolean } = {},
): () => void {
  if (options.enabled === false || stream.isTTY !== true) return () => {};
  const started = Date.now();
  const frames = "|/-\\";
  let frame = 0;
  let drawn = false;
  const timer = setInterval(() => {
    const elapsedMs = Date.now() - started;
    if (elapsedMs < (options.afterMs ?? 1000)) return;
    frame = (frame + 1) % frames.length;
    stream.write(`\r${frames[frame]} ${label}… ${(elapsedMs / 1000).toFixed(1)} s\u001b[K`);
    drawn = true;
  }, 100);
  // A spinner must never keep the process alive.
  timer.unref();
  return () => {
    clearInterval(timer);
    if (drawn) stream.write("\r\u001b[K");
  };
}
