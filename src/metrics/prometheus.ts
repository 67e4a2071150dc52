/**
 * Prometheus metrics for Tessera, from the events it publishes on node:diagnostics_channel.
 * prom-client is an optional peer dependency: it is loaded when `prometheusMetrics()` is called,
 * never when Tessera is imported, so apps without it load Tessera as before.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { createRequire } from "node:module";
import type { Counter, Histogram, Registry } from "prom-client";
import { CHANNEL_NAMES } from "../core/channels.js";
import { isTesseraError, TesseraError } from "../core/errors.js";

/** Options of {@link prometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * The registry the metrics are registered in.
   * @default prom-client's global `register`
   */
  register?: Registry;
  /**
   * Put before every metric name.
   * @default "tessera_"
   */
  prefix?: string;
  /**
   * Bucket bounds of the store-call histogram, in seconds. Store calls usually take well under
   * a millisecond (SQLite) to a few (Redis, PostgreSQL); the top buckets catch the calls that
   * wait for `storeTimeoutMs`.
   * @default [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  storeDurationBuckets?: number[];
}

/** The metrics {@link prometheusMetrics} registered, and how to stop feeding them. */
export interface PrometheusMetrics {
  /** `tessera_sessions_created_total`: new sessions generated (not yet necessarily saved). */
  created: Counter<never>;
  /** `tessera_sessions_loaded_total`: sessions read from the store for a request. */
  loaded: Counter<never>;
  /** `tessera_sessions_saved_total`: sessions written to the store. */
  saved: Counter<never>;
  /** `tessera_sessions_destroyed_total{reason}`: `destroy` (the app), `regenerate`, `unset`, `concurrent`. */
  destroyed: Counter<"reason">;
  /** `tessera_sessions_expired_total{reason}`: `absolute` or `idle` timeout, or `cookie` expiry. */
  expired: Counter<"reason">;
  /** `tessera_store_duration_seconds{operation,outcome}`: every store call, `ok` or `error`. */
  storeDuration: Histogram<"operation" | "outcome">;
  /** `tessera_store_errors_total{operation,code}`: failed store calls by error code. */
  storeErrors: Counter<"operation" | "code">;
  /** Unsubscribes from the channels. The metrics stay registered with their values. */
  close(): void;
}

const DEFAULT_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

type PromClient = typeof import("prom-client");

/**
 * Loads prom-client from the app's dependencies. Not with a bare `require`: the ES module build
 * replaces it with a stub that throws. `__filename` exists only in the CommonJS build, and
 * `import.meta` only in the ES module build. prom-client is CommonJS, so both get the very
 * module (and global registry) the app imported.
 */
function loadPromClient(): PromClient {
  try {
    const load = createRequire(typeof __filename === "string" ? __filename : import.meta.url);
    return load("prom-client") as PromClient;
  } catch (cause) {
    throw new TesseraError(
      "ERR_OPTION",
      "prometheusMetrics() needs the prom-client package: run `npm install prom-client`.",
      { cause },
    );
  }
}

interface StoreMessage {
  operation?: unknown;
  durationMs?: unknown;
  error?: unknown;
}

/**
 * Counts session events and times store calls as Prometheus metrics, by subscribing to
 * Tessera's diagnostics channels. Call it once per registry, at start-up; serve the registry's
 * `metrics()` on a route of your choice.
 *
 * @example
 * import express from "express";
 * import { register } from "prom-client";
 * import { session } from "tessera/express";
 * import { prometheusMetrics } from "tessera/metrics";
 *
 * prometheusMetrics();
 * const app = express();
 * app.use(session({ secret: process.env.SESSION_SECRET }));
 * app.get("/metrics", async (req, res) => {
 *   res.type(register.contentType).send(await register.metrics());
 * });
 */
export function prometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const client = loadPromClient();
  const prefix = options.prefix ?? "tessera_";
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new TesseraError(
      "ERR_OPTION",
      'prometheusMetrics() option prefix must be letters, digits, "_" and ":", not starting with a digit.',
    );
  }
  const registers = [options.register ?? client.register];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new client.Counter<L>({ name: prefix + name, help, labelNames, registers });

  const metrics = {
    created: counter("sessions_created_total", "New sessions generated.", []),
    loaded: counter("sessions_loaded_total", "Sessions loaded from the store.", []),
    saved: counter("sessions_saved_total", "Sessions written to the store.", []),
    destroyed: counter("sessions_destroyed_total", "Sessions destroyed, by reason.", ["reason"]),
    expired: counter(
      "sessions_expired_total",
      "Stored sessions found past a timeout and removed, by timeout.",
      ["reason"],
    ),
    storeDuration: new client.Histogram<"operation" | "outcome">({
      name: `${prefix}store_duration_seconds`,
      help: "Time taken by store calls, by operation and outcome (ok or error).",
      labelNames: ["operation", "outcome"],
      buckets: options.storeDurationBuckets ?? DEFAULT_BUCKETS,
      registers,
    }),
    storeErrors: counter("store_errors_total", "Failed store calls, by operation and error code.", [
      "operation",
      "code",
    ]),
  };

  const reasonOf = (message: unknown) => {
    const reason = (message as { reason?: unknown } | null)?.reason;
    return typeof reason === "string" ? reason : "unknown";
  };
  const handlers: [name: string, handler: (message: unknown) => void][] = [
    [CHANNEL_NAMES.created, () => metrics.created.inc()],
    [CHANNEL_NAMES.loaded, () => metrics.loaded.inc()],
    [CHANNEL_NAMES.saved, () => metrics.saved.inc()],
    [CHANNEL_NAMES.destroyed, (message) => metrics.destroyed.inc({ reason: reasonOf(message) })],
    [CHANNEL_NAMES.expired, (message) => metrics.expired.inc({ reason: reasonOf(message) })],
    [
      CHANNEL_NAMES.store,
      (message) => {
        const { operation, durationMs, error } = message as StoreMessage;
        const name = typeof operation === "string" ? operation : "unknown";
        const failed = error !== undefined;
        if (typeof durationMs === "number") {
          metrics.storeDuration.observe(
            { operation: name, outcome: failed ? "error" : "ok" },
            durationMs / 1000,
          );
        }
        if (failed) {
          const code = isTesseraError(error) ? error.code : "ERR_STORE";
          metrics.storeErrors.inc({ operation: name, code });
        }
      },
    ],
  ];
  for (const [name, handler] of handlers) subscribe(name, handler);
  let open = true;
  return {
    ...metrics,
    close() {
      if (!open) return;
      open = false;
      for (const [name, handler] of handlers) unsubscribe(name, handler);
    },
  };
}
