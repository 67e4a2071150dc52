import { type Channel, channel } from "node:diagnostics_channel";

/**
 * Events Tessera publishes on node:diagnostics_channel, for metrics and tracing. Publishing
 * costs nothing while nobody subscribes. Messages never carry a session id or session data.
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
  /** A session was destroyed: `{ reason: "destroy" | "concurrent" | "unset" }`. */
  destroyed: channel("tessera:session:destroyed"),
  /** A stored session was found past a timeout and removed: `{ reason: "cookie" | "absolute" | "idle" }`. */
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
