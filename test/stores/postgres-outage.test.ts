// PostgresStore through a database outage, on a private PostgreSQL server this file starts,
// stops, freezes and removes: the shared test server is never touched.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import express, { type ErrorRequestHandler } from "express";
import type pg from "pg";
import request from "supertest";
import { isTesseraError } from "../../src/core/errors.js";
import { session } from "../../src/express/index.js";
import type { SessionRecord } from "../../src/store/types.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { testPool } from "../fixtures/postgres/pools.js";
import { PrivateServer } from "../fixtures/postgres/server.js";

const QUERY_TIMEOUT_MS = 1_000;
/** The engine's own limit, below the store's: the app's requests are bounded by this one. */
const STORE_TIMEOUT_MS = 700;
const SECRET = "outage test secret, at least thirty-two characters";
const SESSIONS = 40;
const WORKERS = 4;

const server = await PrivateServer.create();
if (typeof server === "string") {
  console.warn(`\n!!! SKIPPING the PostgresStore outage tests: ${server}.\n`);
}

function record(a: number, b: number): SessionRecord {
  return {
    cookie: { originalMaxAge: 3_600_000, expires: null, httpOnly: true, path: "/" },
    a,
    b,
    note: "x".repeat(200),
    __tessera: { createdAt: Date.now(), user: "outage-user" },
  };
}

/** Runs `call`, asserts it fails with ERR_STORE_UNAVAILABLE, and resolves how long it took. */
async function unavailable(label: string, call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  try {
    await call();
  } catch (error) {
    const tookMs = performance.now() - started;
    assert.ok(isTesseraError(error, "ERR_STORE_UNAVAILABLE"), `${label}: ${String(error)}`);
    assert.doesNotMatch(error.message, /outage-\d/, "no session id in the message");
    return tookMs;
  }
  assert.fail(`${label} succeeded while the server was down`);
}

describe("PostgresStore outage", { skip: typeof server === "string" }, () => {
  const db = server as PrivateServer;
  let pool: pg.Pool;
  let store: PostgresStore;

  before(async () => {
    await db.start();
    pool = testPool(db.url, { max: WORKERS + 2, connectionTimeoutMillis: QUERY_TIMEOUT_MS });
    store = new PostgresStore({
      pool,
      createTable: true,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      pruneIntervalMs: 0,
    });
  });

  after(async () => {
    await store?.close();
    await pool?.end().catch(() => {});
    await db.destroy();
  });

  it("fails fast while the server is down, then the same store works again with every acknowledged write", async () => {
    for (let i = 0; i < SESSIONS; i += 1) await store.set(`outage-${i}`, record(0, 0), 3_600_000);

    // Writers patch a and b together, each on sessions of its own, until the server is gone.
    // Per session we remember the last value acknowledged and the values whose write failed
    // after it: after the restart a session must hold one of them (a write that got no answer
    // may or may not have landed), and a === b (never half-written).
    const acked = new Array<number>(SESSIONS).fill(0);
    const unanswered = Array.from({ length: SESSIONS }, () => new Set<number>());
    let stopWriters = false;
    let failures = 0;
    const writers = Array.from({ length: WORKERS }, async (_, worker) => {
      const deadline = Date.now() + 20_000;
      for (let n = 1; !stopWriters && Date.now() < deadline; n += 1) {
        for (let i = worker; i < SESSIONS; i += WORKERS) {
          try {
            const ok = await store.patch(
              `outage-${i}`,
              { set: { a: n, b: n }, unset: [] },
              3_600_000,
            );
            assert.equal(ok, true);
            acked[i] = n;
            unanswered[i]?.clear();
          } catch (error) {
            assert.ok(isTesseraError(error, "ERR_STORE_UNAVAILABLE"), String(error));
            unanswered[i]?.add(n);
            failures += 1;
            // Keep writing: the server is shutting down or gone.
            await sleep(5);
          }
        }
      }
    });

    // Let the writers get going, then shut the server down under them.
    const warmDeadline = Date.now() + 10_000;
    while (acked.some((n) => n < 2) && Date.now() < warmDeadline) await sleep(10);
    assert.ok(
      acked.every((n) => n >= 2),
      "the writers did not get going",
    );
    const stopStarted = performance.now();
    await db.stop("fast");
    console.log(`  fast shutdown took ${(performance.now() - stopStarted).toFixed(0)} ms`);
    const failDeadline = Date.now() + 10_000;
    while (failures < WORKERS && Date.now() < failDeadline) await sleep(10);
    stopWriters = true;
    await Promise.all(writers);
    assert.ok(failures >= WORKERS, "the writers never saw the outage");

    // Down: every operation fails with ERR_STORE_UNAVAILABLE, well within the timeout.
    const timings: Record<string, number> = {
      get: await unavailable("get", () => store.get("outage-0")),
      set: await unavailable("set", () => store.set("outage-new", record(1, 1), 60_000)),
      touch: await unavailable("touch", () => store.touch("outage-0", record(0, 0), 60_000)),
      patch: await unavailable("patch", () =>
        store.patch("outage-1", { set: { a: -1, b: -1 }, unset: [] }, 60_000),
      ),
      destroy: await unavailable("destroy", () => store.destroy("outage-2")),
      ids: await unavailable("ids", async () => {
        for await (const id of store.ids()) assert.fail(`yielded ${id}`);
      }),
      length: await unavailable("length", () => store.length()),
      idsForUser: await unavailable("idsForUser", () => store.idsForUser("outage-user")),
      prune: await unavailable("prune", () => store.prune()),
    };
    console.log(
      `  server stopped: ${Object.entries(timings)
        .map(([op, ms]) => `${op} ${ms.toFixed(1)} ms`)
        .join(", ")}`,
    );
    // Well under the 5 s default; the margin is for a loaded machine.
    for (const [op, ms] of Object.entries(timings)) {
      assert.ok(ms < QUERY_TIMEOUT_MS + 1_500, `${op} took ${ms.toFixed(0)} ms`);
    }

    // Back up on the same port and data dir; the same store object, no restart of anything.
    await db.start();
    const first = await store.get("outage-0");
    assert.ok(first, "the first call after the restart works");

    const sessions = new Map<string, SessionRecord>();
    for await (const [id, got] of store.entries()) sessions.set(id, got);
    assert.equal(sessions.size, SESSIONS, "every session written before the outage is there");
    assert.equal(sessions.has("outage-new"), false, "the set that failed wrote nothing");
    for (let i = 0; i < SESSIONS; i += 1) {
      const got = sessions.get(`outage-${i}`);
      assert.ok(got, `outage-${i}`);
      assert.equal(got.a, got.b, `outage-${i} is half-written`);
      assert.ok(
        got.a === acked[i] || unanswered[i]?.has(got.a as number),
        `outage-${i} holds ${String(got.a)}: not the acknowledged ${acked[i]}, nor a write that got no answer`,
      );
      assert.equal(got.note, "x".repeat(200));
    }
    assert.notEqual(sessions.get("outage-1")?.a, -1, "the patch that failed wrote nothing");
    assert.equal((await store.idsForUser("outage-user")).length, SESSIONS);
    assert.equal(await store.patch("outage-0", { set: { a: 99, b: 99 }, unset: [] }, 60_000), true);
    assert.equal((await store.get("outage-0"))?.a, 99);
  });

  it("a frozen server (connections open, no answer) fails within queryTimeoutMs, then recovers", async () => {
    await store.set("frozen-before", record(7, 7), 3_600_000);
    await db.freeze();
    let timings: Record<string, number>;
    try {
      // Reads and writes on connections already open, and on new ones (the pool has room).
      const [get, set, patch] = await Promise.all([
        unavailable("get", () => store.get("frozen-before")),
        unavailable("set", () => store.set("frozen-during", record(8, 8), 60_000)),
        unavailable("patch", () =>
          store.patch("frozen-before", { set: { a: 9, b: 9 }, unset: [] }, 60_000),
        ),
      ]);
      const length = await unavailable("length", () => store.length());
      timings = { get, set, patch, length };
    } finally {
      db.thaw();
    }
    console.log(
      `  server frozen (queryTimeoutMs ${QUERY_TIMEOUT_MS}): ${Object.entries(timings)
        .map(([op, ms]) => `${op} ${ms.toFixed(0)} ms`)
        .join(", ")}`,
    );
    for (const [op, ms] of Object.entries(timings)) {
      assert.ok(ms >= QUERY_TIMEOUT_MS - 50, `${op} gave up early, after ${ms.toFixed(0)} ms`);
      // Well under the 5 s default; the margin is for a loaded machine.
      assert.ok(ms < QUERY_TIMEOUT_MS + 2_000, `${op} took ${ms.toFixed(0)} ms`);
    }

    // Thawed: the same store serves again. Writes the store gave up on may still have landed
    // (the server read them before it froze); whatever landed is whole.
    const deadline = Date.now() + 10_000;
    let got: SessionRecord | undefined;
    for (;;) {
      try {
        got = await store.get("frozen-before");
        break;
      } catch (error) {
        assert.ok(Date.now() < deadline, `the store did not recover: ${String(error)}`);
        await sleep(50);
      }
    }
    assert.ok(got);
    assert.equal(got.a, got.b);
    assert.ok(got.a === 7 || got.a === 9);
    const during = await store.get("frozen-during");
    assert.ok(during === undefined || (during.a === 8 && during.b === 8));
    await store.set("frozen-after", record(10, 10), 60_000);
    assert.equal((await store.get("frozen-after"))?.a, 10);
  });
  it("through Express: requests fail via next(err) with ERR_STORE_UNAVAILABLE within the store's queryTimeoutMs, and the same app recovers", async () => {
    const errors: unknown[] = [];
    let entered: () => void = () => {};
    let release: () => void = () => {};
    const app = express();
    app.use(
      session({
        secret: SECRET,
        store,
        resave: false,
        saveUninitialized: false,
        storeTimeoutMs: STORE_TIMEOUT_MS,
        // The write that fails in the outage answers 503 rather than the app's response.
        saveErrorResponse: "error",
        cookie: { maxAge: 3_600_000 },
      }),
    );
    app.post("/login", (req, res) => {
      Object.assign(req.session, { user: "ada", a: 0, b: 0 });
      res.send("ok");
    });
    app.get("/me", (req, res) => {
      const { user, a, b } = req.session as unknown as Record<string, unknown>;
      res.json({ user, a, b });
    });
    // Changes two keys, then waits for the test to let it answer: the store write happens then.
    app.post("/both/:n", async (req, res) => {
      const n = Number(req.params.n);
      Object.assign(req.session, { a: n, b: n });
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      entered();
      await gate;
      res.send("ok");
    });
    const onError: ErrorRequestHandler = (error, _req, res, _next) => {
      errors.push(error);
      res.status(error.status ?? 500).json({ code: error.code });
    };
    app.use(onError);
    const http = app.listen(0, "127.0.0.1");
    try {
      const login = await request(http).post("/login").expect(200);
      const cookie = String(login.headers["set-cookie"]?.[0]).split(";")[0] as string;
      const me = () => request(http).get("/me").set("Cookie", cookie);
      assert.deepEqual((await me().expect(200)).body, { user: "ada", a: 0, b: 0 });

      /** Sends a request that must fail as unavailable; resolves how long it took. */
      const failsWith503 = async (label: string, send: () => request.Test): Promise<number> => {
        const started = performance.now();
        const response = await send();
        const tookMs = performance.now() - started;
        assert.equal(response.status, 503, `${label}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.code, "ERR_STORE_UNAVAILABLE", label);
        return tookMs;
      };

      // The server stops while a request that changed two keys is still in its handler: its
      // write fails, the error handler answers, and neither key is written.
      const inHandler = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const pending = request(http)
        .post("/both/5")
        .set("Cookie", cookie)
        .then((r) => r);
      await inHandler;
      await db.stop("fast");
      const released = performance.now();
      release();
      const halfway = await pending;
      const writeMs = performance.now() - released;
      assert.equal(halfway.status, 503, JSON.stringify(halfway.body));
      assert.equal(halfway.body.code, "ERR_STORE_UNAVAILABLE");

      const timings: Record<string, number> = {
        write: writeMs,
        read: await failsWith503("GET /me", me),
        login: await failsWith503("POST /login", () =>
          request(http).post("/login").set("Cookie", cookie),
        ),
      };

      // Back up: the same app and store, nothing restarted; the failed write left nothing.
      await db.start();
      assert.deepEqual((await me().expect(200)).body, { user: "ada", a: 0, b: 0 });

      // A server that hangs: the store gives up at its queryTimeoutMs, which it declares, so the
      // engine's shorter storeTimeoutMs adds no deadline of its own.
      await db.freeze();
      try {
        timings.frozen = await failsWith503("GET /me (frozen)", me);
      } finally {
        db.thaw();
      }
      console.log(
        `  through Express (queryTimeoutMs ${QUERY_TIMEOUT_MS}): ${Object.entries(timings)
          .map(([what, ms]) => `${what} ${ms.toFixed(0)} ms`)
          .join(", ")}`,
      );
      // Well under the store's 5 s default; the margin is for a loaded machine.
      for (const [what, ms] of Object.entries(timings)) {
        assert.ok(ms < QUERY_TIMEOUT_MS + 1_500, `${what} took ${ms.toFixed(0)} ms`);
      }
      assert.ok(timings.frozen >= QUERY_TIMEOUT_MS - 50, "gave up before queryTimeoutMs");
      // It was the store's own deadline that ended the frozen wait, not the engine's.
      assert.match(
        String((errors.at(-1) as Error | undefined)?.message),
        new RegExp(`within ${QUERY_TIMEOUT_MS} ms.*queryTimeoutMs`),
      );

      const deadline = Date.now() + 10_000;
      while ((await me()).status !== 200) {
        assert.ok(Date.now() < deadline, "the app did not recover after the server thawed");
        await sleep(50);
      }
      const inHandlerAgain = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const done = request(http)
        .post("/both/7")
        .set("Cookie", cookie)
        .then((r) => r);
      await inHandlerAgain;
      release();
      assert.equal((await done).status, 200);
      assert.deepEqual((await me().expect(200)).body, { user: "ada", a: 7, b: 7 });

      assert.ok(errors.length >= 4);
      const id = decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1))
        .slice(2)
        .split(".")[0];
      for (const error of errors) {
        assert.ok(isTesseraError(error, "ERR_STORE_UNAVAILABLE"), String(error));
        assert.ok(!error.message.includes(id as string), "no session id in the message");
      }
    } finally {
      release();
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
