// The demo app under load while its session store goes away for 3 s and comes back: autocannon
// drives signed-in requests (each one reads and writes its session) against 127.0.0.1, the
// store's server is killed and restarted on the same port, and every response is timed.
// Figures are printed; docs/operations.md keeps a measured run.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PrivateServer } from "../fixtures/postgres/server.js";
import { PrivateRedis } from "../fixtures/redis/server.js";
import { Browser, type RunningDemo, startDemo } from "./demo.js";

const require = createRequire(import.meta.url);

/** What the tests use of autocannon's programmatic API (it ships no types). */
interface AutocannonRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
}
interface AutocannonInstance {
  on(
    event: "response",
    listener: (client: unknown, status: number, bytes: number, timeMs: number) => void,
  ): void;
  on(event: "reqError", listener: (error: Error) => void): void;
  stop(): void;
}
type Autocannon = ((
  options: {
    url: string;
    connections: number;
    duration: number;
    timeout: number;
    requests: AutocannonRequest[];
  },
  done: (error: Error | null, result: { errors: number; timeouts: number }) => void,
) => AutocannonInstance) & { track?: unknown };
const autocannon = require("autocannon") as Autocannon;

/** The demo's storeTimeoutMs (the default): no request may wait much longer for the store. */
const STORE_TIMEOUT_MS = 5000;
/** Slack for a loaded two-core machine: scheduling, rendering, the test's own event loop. */
const MARGIN_MS = 3000;
const OUTAGE_MS = 3000;
/** After the store returns, every request that starts this much later must succeed. */
const RECOVERY_MS = 2000;
/** How late this busy process may notice a response: see figuresOf(). */
const CLOCK_GUARD_MS = 1000;
const BEFORE_MS = 3000;
const AFTER_MS = 5000;
const CONNECTIONS = 8;
const BROWSERS = 6;

const inCI = Boolean(process.env.CI) && process.env.CI !== "false" && process.env.CI !== "0";

interface Sample {
  startMs: number;
  endMs: number;
  status: number;
}

interface Timeline {
  /** When the store's server was gone (its process exited / pg_ctl stop returned). */
  downMs: number;
  /** When the restart began: the server may answer any moment from here. */
  restartMs: number;
  /** When the restart returned: the server surely answers. */
  upMs: number;
}

interface Figures {
  requests: number;
  before: { count: number; p50Ms: number; maxMs: number };
  outage: { count: number; status503: number; other: number; p50Ms: number; maxMs: number };
  /** From the start of the restart: includes the server's own start-up. */
  firstSuccessAfterRestartMs: number | undefined;
  failuresAfterRecovery: number;
  /** How long the store's server took to start again. */
  restartTookMs: number;
  maxLatencyMs: number;
  statuses: Record<string, number>;
  errors: number;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function figuresOf(samples: Sample[], timeline: Timeline, errors: number): Figures {
  const before = samples.filter((s) => s.endMs < timeline.downMs - 500);
  // A response is timed when this process gets to it: one that arrived just before the stop
  // completed may be handled just after it. The guard keeps those out of the outage.
  const outage = samples.filter(
    (s) => s.startMs >= timeline.downMs + CLOCK_GUARD_MS && s.endMs <= timeline.restartMs,
  );
  const afterRecovery = samples.filter((s) => s.startMs >= timeline.upMs + RECOVERY_MS);
  const firstSuccess = samples
    .filter((s) => s.startMs >= timeline.restartMs && s.status === 200)
    .map((s) => s.endMs - timeline.restartMs)
    .sort((a, b) => a - b)[0];
  const statuses: Record<string, number> = {};
  for (const s of samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  const latency = (list: Sample[]) => list.map((s) => s.endMs - s.startMs);
  return {
    requests: samples.length,
    before: {
      count: before.length,
      p50Ms: Math.round(quantile(latency(before), 0.5)),
      maxMs: Math.round(Math.max(0, ...latency(before))),
    },
    outage: {
      count: outage.length,
      status503: outage.filter((s) => s.status === 503).length,
      other: outage.filter((s) => s.status !== 503).length,
      p50Ms: Math.round(quantile(latency(outage), 0.5)),
      maxMs: Math.round(Math.max(0, ...latency(outage))),
    },
    firstSuccessAfterRestartMs: firstSuccess === undefined ? undefined : Math.round(firstSuccess),
    failuresAfterRecovery: afterRecovery.filter((s) => s.status !== 200).length,
    restartTookMs: Math.round(timeline.upMs - timeline.restartMs),
    maxLatencyMs: Math.round(Math.max(0, ...latency(samples))),
    statuses,
    errors,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Logs `BROWSERS` browsers in, then drives the demo with their cookies while `stop` and `start`
 * take the store away for OUTAGE_MS, and returns the timeline and every response.
 */
async function outageUnderLoad(
  demo: RunningDemo,
  store: { stop(): Promise<void>; start(): Promise<void> },
): Promise<{ samples: Sample[]; timeline: Timeline; errors: number; browsers: Browser[] }> {
  const browsers: Browser[] = [];
  for (let i = 0; i < BROWSERS; i++) {
    const browser = new Browser();
    const login = await browser.logIn(demo.url);
    assert.equal(login.status, 303, "logged in before the outage");
    browsers.push(browser);
  }
  const cookies = browsers.map((browser) => browser.cookie as string);
  let next = 0;
  const samples: Sample[] = [];
  const durationS = Math.ceil((BEFORE_MS + OUTAGE_MS + AFTER_MS) / 1000) + 2;
  let errors = 0;
  const finished = new Promise<{ errors: number; timeouts: number }>((resolve, reject) => {
    const instance = autocannon(
      {
        url: demo.url,
        connections: CONNECTIONS,
        duration: durationS,
        timeout: Math.ceil((STORE_TIMEOUT_MS + MARGIN_MS) / 1000) + 2,
        requests: [
          {
            method: "GET",
            path: "/",
            setupRequest: (request) => ({
              ...request,
              headers: { ...request.headers, cookie: cookies[next++ % cookies.length] as string },
            }),
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on("response", (_client, status, _bytes, timeMs) => {
      const endMs = performance.now();
      samples.push({ startMs: endMs - timeMs, endMs, status });
    });
    instance.on("reqError", () => {
      errors++;
    });
  });
  await sleep(BEFORE_MS);
  await store.stop();
  const downMs = performance.now();
  await sleep(OUTAGE_MS);
  const restartMs = performance.now();
  await store.start();
  const upMs = performance.now();
  const result = await finished;
  return {
    samples,
    timeline: { downMs, restartMs, upMs },
    errors: errors + result.errors + result.timeouts,
    browsers,
  };
}

function checkOutage(name: string, figures: Figures, demo: RunningDemo): void {
  console.log(`${name} outage under load: ${JSON.stringify(figures)}`);
  const context = `\n${JSON.stringify(figures)}\ndemo log:\n${demo.log()}`;
  assert.ok(demo.alive(), `the demo is still running${context}`);
  assert.equal(figures.errors, 0, `no socket errors or client timeouts${context}`);
  assert.ok(figures.before.count > 0, `requests were served before the outage${context}`);
  assert.ok(figures.outage.count > 0, `requests were made during the outage${context}`);
  assert.equal(figures.outage.other, 0, `every request during the outage got a 503${context}`);
  const unexpected = Object.keys(figures.statuses).filter((s) => s !== "200" && s !== "503");
  assert.deepEqual(unexpected, [], `only 200 and 503 answers${context}`);
  assert.ok(
    figures.maxLatencyMs <= STORE_TIMEOUT_MS + MARGIN_MS,
    `no request waited past storeTimeoutMs + ${MARGIN_MS} ms${context}`,
  );
  assert.equal(
    figures.failuresAfterRecovery,
    0,
    `every request ${RECOVERY_MS} ms after the store returned succeeded${context}`,
  );
}

async function checkSessionsKept(demo: RunningDemo, browsers: Browser[]): Promise<void> {
  for (const browser of browsers) {
    const page = await browser.get(demo.url, "/profile");
    assert.equal(page.status, 200, "a session saved before the outage is still signed in");
  }
}

const redisServer = spawnSync("redis-server", ["--version"]).status === 0;
if (!redisServer) {
  if (inCI) throw new Error("redis-server is not on PATH, and CI requires it.");
  console.warn("\n!!! SKIPPING the Redis outage-under-load test: redis-server is not on PATH.\n");
}

describe("the demo under load while Redis goes away for 3 s", { skip: !redisServer }, () => {
  const redis = new PrivateRedis({ persistent: true });
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-outage-redis-"));
  let demo: RunningDemo | undefined;

  before(async () => {
    await redis.start();
    demo = await startDemo({ REDIS_URL: redis.url, DATA_DIR: dataDir });
  });
  after(async () => {
    await demo?.stop();
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers 503 at once during the outage, recovers within 2 s, and loses no session", async () => {
    const running = demo as RunningDemo;
    const run = await outageUnderLoad(running, {
      // SIGKILL, as a crash: the append-only file (fsync at every write) keeps what was saved.
      stop: () => redis.kill("SIGKILL"),
      start: () => redis.start(),
    });
    checkOutage("Redis", figuresOf(run.samples, run.timeline, run.errors), running);
    await checkSessionsKept(running, run.browsers);
  });
});

const postgres = await PrivateServer.create();
if (typeof postgres === "string") {
  if (inCI)
    throw new Error(`cannot run a private PostgreSQL server, and CI requires it: ${postgres}`);
  console.warn(`\n!!! SKIPPING the PostgreSQL outage-under-load test: ${postgres}.\n`);
}

describe("the demo under load while PostgreSQL goes away for 3 s", {
  skip: typeof postgres === "string",
}, () => {
  const server = postgres as PrivateServer;
  const dataDir = mkdtempSync(join(tmpdir(), "tessera-outage-pg-"));
  let demo: RunningDemo | undefined;

  before(async () => {
    await server.start();
    demo = await startDemo({ DATABASE_URL: server.url, DATA_DIR: dataDir });
  });
  after(async () => {
    await demo?.stop();
    await server.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers 503 at once during the outage, recovers within 2 s, and loses no session", async () => {
    const running = demo as RunningDemo;
    const run = await outageUnderLoad(running, {
      // "fast": the server ends every connection and stops, as in a restart or failover.
      stop: () => server.stop("fast"),
      start: () => server.start(),
    });
    checkOutage("PostgreSQL", figuresOf(run.samples, run.timeline, run.errors), running);
    await checkSessionsKept(running, run.browsers);
  });
});
