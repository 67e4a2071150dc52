// prometheusMetrics() against a real Express app: requests go through Tessera, the metrics are
// read back from the registry's text exposition, as Prometheus would scrape them.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { afterEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import express from "express";
import { Registry } from "prom-client";
import request from "supertest";
import { session } from "../../src/express/index.js";
import { type PrometheusMetrics, prometheusMetrics } from "../../src/metrics/index.js";
import type { SessionOptions } from "../../src/node/options.js";
import type { SessionRecord } from "../../src/store/types.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { FailingStore, HangingStore, JsonStore } from "../fixtures/stores.js";
import { cookiePair, SECRET } from "../helpers/http.js";

declare module "../../src/core/session.js" {
  interface SessionData {
    metricsUser?: string;
  }
}

let metrics: PrometheusMetrics | undefined;
afterEach(() => {
  metrics?.close();
  metrics = undefined;
});

/** An app with a login, a page that reads the session, a logout, and /metrics. */
function appWith(register: Registry, options: Partial<SessionOptions> = {}) {
  const app = express();
  app.get("/metrics", async (_req, res) => {
    res.type(register.contentType).send(await register.metrics());
  });
  app.use(
    session({
      secret: SECRET,
      store: new MemoryStore(),
      resave: false,
      saveUninitialized: false,
      ...options,
    }),
  );
  app.post("/login", async (req, res) => {
    req.session.metricsUser = "alice";
    res.send("ok");
  });
  app.get("/", (req, res) => {
    res.send(req.session.metricsUser ?? "nobody");
  });
  app.post("/logout", async (req, res) => {
    await req.session.destroy();
    res.send("bye");
  });
  app.use(
    (error: { status?: number }, _req: express.Request, res: express.Response, _next: unknown) => {
      res.status(error.status ?? 500).send("error");
    },
  );
  return app;
}

/** The value of one sample of the exposition text, or undefined when it is absent. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map(
      [...(match[2] ?? "").matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (wanted.every(([key, value]) => found.get(key) === value)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(app: express.Express): Promise<string> {
  const res = await request(app).get("/metrics").expect(200);
  assert.match(res.headers["content-type"] ?? "", /^text\/plain/);
  return res.text;
}

describe("prometheusMetrics()", () => {
  it("counts sessions created, saved, loaded and destroyed, and times each store call", async () => {
    const register = new Registry();
    metrics = prometheusMetrics({ register });
    const app = appWith(register);
    const login = await request(app).post("/login").expect(200);
    const cookie = cookiePair(login);
    await request(app).get("/").set("Cookie", cookie).expect(200, "alice");
    await request(app).get("/").set("Cookie", cookie).expect(200, "alice");
    await request(app).post("/logout").set("Cookie", cookie).expect(200);

    const text = await scrape(app);
    // /metrics itself runs before session(), so it creates nothing.
    assert.equal(sample(text, "tessera_sessions_created_total"), 1);
    assert.equal(sample(text, "tessera_sessions_saved_total"), 1);
    assert.equal(sample(text, "tessera_sessions_loaded_total"), 3);
    assert.equal(sample(text, "tessera_sessions_destroyed_total", { reason: "destroy" }), 1);
    assert.equal(
      sample(text, "tessera_store_duration_seconds_count", { operation: "get", outcome: "ok" }),
      3,
    );
    assert.equal(
      sample(text, "tessera_store_duration_seconds_count", { operation: "destroy", outcome: "ok" }),
      1,
    );
    const sum = sample(text, "tessera_store_duration_seconds_sum", {
      operation: "get",
      outcome: "ok",
    });
    assert.ok(sum !== undefined && sum >= 0 && sum < 5, `a duration in seconds, got ${sum}`);
    assert.equal(sample(text, "tessera_store_errors_total"), undefined, "no errors");
  });

  it("counts a store that times out as an ERR_STORE_UNAVAILABLE error, with its duration", async () => {
    const register = new Registry();
    metrics = prometheusMetrics({ register });
    const app = appWith(register, { store: new HangingStore(), storeTimeoutMs: 100 });
    const login = await request(appWith(new Registry())).post("/login");
    await request(app).get("/").set("Cookie", cookiePair(login)).expect(503);

    const text = await scrape(app);
    assert.equal(
      sample(text, "tessera_store_errors_total", {
        operation: "get",
        code: "ERR_STORE_UNAVAILABLE",
      }),
      1,
    );
    const count = sample(text, "tessera_store_duration_seconds_count", {
      operation: "get",
      outcome: "error",
    });
    const sum = sample(text, "tessera_store_duration_seconds_sum", {
      operation: "get",
      outcome: "error",
    });
    assert.equal(count, 1);
    // The call waited for storeTimeoutMs: at least 0.1 s went by.
    assert.ok(sum !== undefined && sum >= 0.09, `the wait is measured, got ${sum}`);
  });

  it("labels a failing store's errors with their code", async () => {
    const register = new Registry();
    metrics = prometheusMetrics({ register });
    const app = appWith(register, {
      store: new FailingStore(() => Object.assign(new Error("boom"), { code: "WRONGTYPE" })),
      saveErrorResponse: "error",
    });
    await request(app).post("/login").expect(500);
    const text = await scrape(app);
    assert.equal(
      sample(text, "tessera_store_errors_total", { operation: "set", code: "ERR_STORE" }),
      1,
    );
  });

  it("counts a stored session found past the absolute timeout as expired", async () => {
    const register = new Registry();
    metrics = prometheusMetrics({ register });
    // A store that keeps records longer than asked, as a store with coarse expiry may: the
    // engine itself must notice the timeout.
    class LateExpiryStore extends JsonStore {
      override set(id: string, record: SessionRecord): Promise<void> {
        return super.set(id, record, 3_600_000);
      }
    }
    const store = new LateExpiryStore();
    // Logged in where no absolute timeout is set, so the login itself never races the 50 ms
    // (a login slower than that would be written as already expired): only the read is timed.
    const login = await request(appWith(register, { store })).post("/login").expect(200);
    const app = appWith(register, { store, absoluteTimeoutMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 120));
    await request(app).get("/").set("Cookie", cookiePair(login)).expect(200, "nobody");
    const text = await scrape(app);
    assert.equal(sample(text, "tessera_sessions_expired_total", { reason: "absolute" }), 1);
    assert.equal(sample(text, "tessera_sessions_loaded_total"), 0);
  });

  it("stops counting after close(), keeping the values it had", async () => {
    const register = new Registry();
    metrics = prometheusMetrics({ register, prefix: "app_" });
    const app = appWith(register);
    await request(app).post("/login").expect(200);
    metrics.close();
    await request(app).post("/login").expect(200);
    const text = await scrape(app);
    assert.equal(sample(text, "app_sessions_created_total"), 1);
    assert.equal(sample(text, "tessera_sessions_created_total"), undefined);
  });

  it("refuses a prefix Prometheus would reject", () => {
    assert.throws(() => prometheusMetrics({ register: new Registry(), prefix: "my-app." }), {
      name: "TesseraError",
      code: "ERR_OPTION",
    });
  });
});

describe("tessera without prom-client", () => {
  it("loads, and prometheusMetrics() says which package to install", async () => {
    // A child where prom-client cannot be resolved, as in an app that never installed it.
    const script = `
      import Module from "node:module";
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === "prom-client") throw Object.assign(new Error("Cannot find module 'prom-client'"), { code: "MODULE_NOT_FOUND" });
        return resolve.call(this, request, ...rest);
      };
      await import(${JSON.stringify(fileURLToPath(new URL("../../src/index.ts", import.meta.url)))});
      const { prometheusMetrics } = await import(${JSON.stringify(fileURLToPath(new URL("../../src/metrics/index.ts", import.meta.url)))});
      try { prometheusMetrics(); console.log("no error"); }
      catch (error) { console.log(error.code + " " + error.message); }
    `;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script],
        { timeout: 30_000 },
        (error, out, err) => (error ? reject(new Error(err || String(error))) : resolve(out)),
      );
    });
    assert.equal(
      stdout.trim(),
      "ERR_OPTION tessera: prometheusMetrics() needs the prom-client package: run `npm install prom-client`.",
    );
  });
});
