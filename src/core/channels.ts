import type { Channel } from "node:diagnostics_channel";
import { nodeDiagnosticsChannel } from "./builtins.js";

/**
 * node's channel of that name, or, where node:diagnostics_channel is missing, a channel of
 * Tessera's own with the same `name`, `hasSubscribers`, `subscribe`, `unsubscribe` and `publish`:
 * subscribers reach it through {@link channels} rather than by name.
 */
const channel: (name: string) => Channel =
  nodeDiagnosticsChannel?.channel ?? ((name) => new LocalChannel(name) as unknown as Channel);

type Subscriber = (message: unknown, name: string | symbol) => void;

class LocalChannel {
  readonly name: string;
  #subscribers: Subscriber[] = [];

  constructor(name: string) {
    this.name = name;
  }

  get hasSubscribers(): boolean {
    return this.#subscribers.length > 0;
  }

  subscribe(subscriber: Subscriber): void {
    this.#subscribers = [...this.#subscribers, subscriber];
  }

  unsubscribe(subscriber: Subscriber): boolean {
    const index = this.#subscribers.indexOf(subscriber);
    if (index === -1) return false;
    this.#subscribers = this.#subscribers.filter((_, at) => at !== index);
    return true;
  }

  publish(message: unknown): void {
    // The list is replaced, never changed, so a subscriber that unsubscribes while being called
    // does not make the loop skip the next one. As node does, a throwing subscriber neither
    // stops the others nor reaches the publisher: its error is rethrown on its own.
    for (const subscriber of this.#subscribers) {
      try {
        subscriber(message, this.name);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/**
 * Events Tessera publishes on node:diagnostics_channel, for metrics and tracing. Publishing
 * costs nothing while nobody subscribes. Messages never carry a session id or session data.
 * Where the runtime has no node:diagnostics_channel, subscribe on these objects directly.
 *
 * @example
 * import { subscribe } from "node:diagnostics_channel";
 * subscribe("tessera:store", ({ operation, durationMs, error }) => histogram.observe({ operation }, durationMs));
 */
export const channels = {
  /** A new session was generated: `{}`. */
  created: channel("tessera:session:created"),
  /** A session was loaded from the store: `{}`. */
  loaded: channel("tessera:session:loaded"),
  /** A session was written to the store: `{}`. */
  saved: channel("tessera:session:saved"),
  /**
   * A session was destroyed: `{ reason: "destroy" | "regenerate" | "unset" | "concurrent" }`
   * (`destroy()`; the old id of a stored session on `regenerate()`; `req.session = null` with
   * `unset: "destroy"`; found destroyed by another request while saving).
   */
  destroyed: channel("tessera:session:destroyed"),
  /**
   * A stored session was found past a timeout and removed: `{ reason: "absolute" | "idle" | "cookie" }`.
   * `idle` only over stores written for express-session (a Tessera store's TTL removes idle
   * sessions unseen); `cookie` when the app moved the cookie's expiry into the past.
   */
  expired: channel("tessera:session:expired"),
  /** A store call finished: `{ operation, durationMs, error? }`. */
  store: channel("tessera:store"),
} as const;

/** The names of the channels, for subscribers. */
export const CHANNEL_NAMES = Object.freeze(
  Object.fromEntries(
    Object.entries(channels).map(([key, value]) => [key, value.name as string]),
  ) as Record<keyof typeof channels, string>,
);

/** Publishes only when someone listens, so the message is never built for nothing. */
export function publish(target: Channel, message: object): void {
  if (target.hasSubscribers) target.publish(message);
}
