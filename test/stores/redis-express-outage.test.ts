// Redis goes away under a running Express app: requests fail through next(err) with
// ERR_STORE_UNAVAILABLE within the store's commandTimeoutMs (no hang, no half-sent response), nothing is
// half-written, and the same app serves sessions again once Redis is back, without a restart.
// Each client library gets a private redis-server on a free port, killed in `after` and, should
// the test process die first, by the fixture's exit hooks.
import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import express, { type ErrorRequestHandler } from "express";
import request, { type Response } from "supertest";
import { isTesseraError } from "../../src/core/errors.js";
import { session } from "../../src/express/index.js";
import { RedisStore } from "../../src/stores/redis.js";
import {
  CLIENT_KINDS,
  eventually,
  keysUnder,
  outageClient,
  type TestClient,
} from "../fixtures/redis/clients.js";
import { PrivateRedis } from "../fixtures/redis/server.js";
import { cookiePair, SECRET, sessionIdOf, shouldNotSetCookie } from "../helpers/http.js";

/** The engine's timeout: short, so the frozen-server test is quick, far above a local command. */
const STORE_TIMEOUT_MS = 500;
/**
 * Slack for the event loop and HTTP round trip on a shared, busy test machine. The bound stays
 * under the store's own 3000 ms command timeout, and each error's message tells which timeout
 * ended the wait, if any.
 */
const SLACK_MS = 1500;
const PREFIX = "app:";

type Data = Record<string, unknown>;

function data(req: express.Request): Data {
  return req.session as unknown as Data;
}

for (const kind of CLIENT_KINDS) {
  describe(`Express with RedisStore (${kind}) › when Redis goes away`, () => {
    const server = new PrivateRedis({ persistent: true });
    let redis: TestClient;
    let app: express.Express;
    const errors: unknown[] = [];
    /** What the app wrote before the outage: the outage must leave it exactly so. */
    let alice = "";
    let aliceId = "";
    let aliceRecord: unknown;

    before(async () => {
      await server.start();
      redis = await outageClient(kind, server.url);
      // The store keeps its own deadline (commandTimeoutMs) and says so: it bounds a request,
      // and the engine's storeTimeoutMs, set far longer here, adds none.
      const store = new RedisStore({
        client: redis.client,
        prefix: PREFIX,
        commandTimeoutMs: STORE_TIMEOUT_MS,
      });
      app = express();
      app.use(
        session({
          secret: SECRET,
          store,
          storeTimeoutMs: 60_000,
          resave: false,
          saveUninitialized: false,
        }),
      );
      app.post("/login", async (req, res) => {
        await req.session.regenerate();
        req.session.setUser("alice");
        data(req).name = "Alice";
        res.send("welcome");
      });
      app.post("/cart/:item", (req, res) => {
        const cart = (data(req).cart as string[] | undefined) ?? [];
        data(req).cart = [...cart, req.params.item as string];
        res.json(data(req).cart);
      });
      app.get("/me", (req, res) => {
        res.json({ name: data(req).name ?? null, cart: data(req).cart ?? [] });
      });
      const reportErrors: ErrorRequestHandler = (error, _req, res, _next) => {
        errors.push(error);
        res.status(isTesseraError(error) ? error.status : 500).json({
          code: (error as { code?: string }).code ?? null,
        });
      };
      app.use(reportErrors);
    });
    after(async () => {
      await redis?.close();
      await server.stop();
    });

    /**
     * Sends a request that must fail as unavailable; resolves how long it took, in ms. `how`
     * says which failure, by the error's message: the store's commandTimeoutMs, or at once.
     */
    async function failsUnavailable(
      send: () => request.Test,
      how: "commandTimeoutMs" | "at once",
    ): Promise<number> {
      const before = errors.length;
      const start = performance.now();
      const res: Response = await send();
      const elapsed = performance.now() - start;
      assert.equal(res.status, 503, `status ${res.status}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(res.body, { code: "ERR_STORE_UNAVAILABLE" });
      shouldNotSetCookie(res);
      assert.equal(errors.length, before + 1, "the error did not reach the error handler once");
      const error = errors.at(-1);
      assert.ok(isTesseraError(error, "ERR_STORE_UNAVAILABLE"), String(error));
      assert.ok(!error.message.includes(aliceId), "the error message names the session id");
      if (how === "commandTimeoutMs") {
        assert.match(error.message, new RegExp(`within ${STORE_TIMEOUT_MS} ms.*commandTimeoutMs`));
      } else {
        assert.doesNotMatch(error.message, /within \d+ ms/, "the request waited for a timeout");
      }
      assert.ok(elapsed < STORE_TIMEOUT_MS + SLACK_MS, `the request took ${elapsed} ms`);
      return elapsed;
    }

    function me(cookie: string) {
      return request(app).get("/me").set("Cookie", cookie);
    }

    async function waitUntilServed(t: TestContext, cookie: string): Promise<void> {
      const start = performance.now();
      const served = await eventually(async () => (await me(cookie)).status === 200, 10_000, 25);
      assert.ok(served, "the app did not serve sessions again after Redis came back");
      t.diagnostic(
        `${kind}: served again ${Math.round(performance.now() - start)} ms after Redis came back`,
      );
    }

    it("before the outage: a login and a cart are stored", async () => {
      const login = await request(app).post("/login").expect(200, "welcome");
      alice = cookiePair(login);
      aliceId = sessionIdOf(login);
      await request(app).post("/cart/book").set("Cookie", alice).expect(200, ["book"]);
      await me(alice).expect(200, { name: "Alice", cart: ["book"] });
      aliceRecord = await redis.command("GET", `${PREFIX}${aliceId}`);
      assert.equal(typeof aliceRecord, "string");
      assert.deepEqual(await redis.command("SMEMBERS", `${PREFIX}user:alice`), [aliceId]);
    });

    it("a killed server: reads, writes and new logins fail with 503 through next(err), at once", async (t) => {
      await server.kill("SIGKILL");
      const timings = [
        await failsUnavailable(() => me(alice), "at once"),
        await failsUnavailable(
          () => request(app).post("/cart/pen").set("Cookie", alice),
          "at once",
        ),
        // No cookie: nothing to load, but the new session cannot be saved. The visitor gets the
        // error, not a cookie for a session that was never stored.
        await failsUnavailable(() => request(app).post("/login"), "at once"),
      ];
      t.diagnostic(`${kind}, server killed: ${timings.map((ms) => `${ms.toFixed(0)} ms`)}`);
    });

    it("back on the same port: the same app serves the session, and the outage wrote nothing", async (t) => {
      await server.start();
      await waitUntilServed(t, alice);
      await me(alice).expect(200, { name: "Alice", cart: ["book"] });
      assert.equal(await redis.command("GET", `${PREFIX}${aliceId}`), aliceRecord);
      // The only keys are Alice's session and her index: the failed login left no session and
      // no index entry behind.
      // Sorted: SCAN's order follows the keys' hashes, and the session id is random.
      assert.deepEqual(
        (await keysUnder(redis, PREFIX)).sort(),
        [`${PREFIX}${aliceId}`, `${PREFIX}user:alice`].sort(),
      );
      assert.deepEqual(await redis.command("SMEMBERS", `${PREFIX}user:alice`), [aliceId]);
      await request(app).post("/cart/pen").set("Cookie", alice).expect(200, ["book", "pen"]);
      aliceRecord = await redis.command("GET", `${PREFIX}${aliceId}`);
    });

    it("a frozen server: requests fail with 503 once the store's commandTimeoutMs has passed, not later", async (t) => {
      server.freeze();
      try {
        const timings: number[] = [];
        for (const send of [
          () => me(alice),
          () => request(app).post("/cart/lamp").set("Cookie", alice),
        ]) {
          const elapsed = await failsUnavailable(send, "commandTimeoutMs");
          assert.ok(elapsed >= STORE_TIMEOUT_MS - 5, `failed before the timeout: ${elapsed} ms`);
          timings.push(elapsed);
        }
        t.diagnostic(
          `${kind}, server frozen, commandTimeoutMs ${STORE_TIMEOUT_MS}: ${timings.map((ms) => `${ms.toFixed(0)} ms`)}`,
        );
      } finally {
        server.thaw();
      }
      // The write timed out while loading the session, so it never sent a write: once the
      // server answers again, the session is exactly what it was.
      await waitUntilServed(t, alice);
      await me(alice).expect(200, { name: "Alice", cart: ["book", "pen"] });
      assert.equal(await redis.command("GET", `${PREFIX}${aliceId}`), aliceRecord);
    });
  });
}
