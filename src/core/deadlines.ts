/** A store call waiting for its answer or its deadline. */
interface Deadline {
  at: number;
  onTimeout: () => void;
  done: boolean;
}

function answered(): void {}

/**
 * The deadlines of pending store calls, served by one timer. Every call gets the same timeout,
 * so deadlines come in the order the calls were made: a queue, whose head is always the next to
 * fall due. This replaces a setTimeout and a clearTimeout per store call (two per request) with
 * a push, and fires each timeout as exactly as its own timer would.
 */
export class Deadlines {
  private queue: Deadline[] = [];
  private head = 0;
  private live = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  add(onTimeout: () => void): Deadline {
    const deadline: Deadline = { at: performance.now() + this.timeoutMs, onTimeout, done: false };
    this.queue.push(deadline);
    // A timer still armed for an earlier deadline fires first and re-arms for this one.
    if (this.timer === undefined) this.timer = setTimeout(() => this.fire(), this.timeoutMs);
    else if (this.live === 0) this.timer.ref?.();
    this.live++;
    return deadline;
  }

  /** Marks a call answered; false when its deadline already passed (it has been rejected). */
  settle(deadline: Deadline): boolean {
    if (deadline.done) return false;
    deadline.done = true;
    // The callback holds the call's Promise, and through it the store's answer: under steady
    // load calls never all settle at once, and every settled deadline would otherwise keep its
    // answer alive until the timer next fires, seconds later, for the GC to copy again and again.
    deadline.onTimeout = answered;
    if (--this.live === 0) {
      // Nothing left to wait for: the timer may not keep the process alive. It stays armed,
      // which is cheaper than clearing it and setting a new one for the next request.
      this.timer?.unref?.();
      this.queue = [];
      this.head = 0;
      return true;
    }
    // Settled deadlines at the head are done with: drop them rather than wait for the timer.
    const queue = this.queue;
    while (this.head < queue.length && (queue[this.head] as Deadline).done) this.head++;
    this.compact();
    return true;
  }

  /** Cuts the passed head off the queue once it is most of it, so the array cannot grow forever. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    const queue = this.queue;
    while (this.head < queue.length) {
      const deadline = queue[this.head] as Deadline;
      if (!deadline.done) {
        // Timers may fire a fraction of a millisecond early.
        if (deadline.at > now + 1) break;
        deadline.done = true;
        this.live--;
        deadline.onTimeout();
      }
      this.head++;
    }
    this.compact();
    const next = this.queue[this.head];
    if (next !== undefined) this.timer = setTimeout(() => this.fire(), Math.max(next.at - now, 1));
    else {
      this.queue = [];
      this.head = 0;
    }
  }
}
