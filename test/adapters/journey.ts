/**
 * The journey suite: one visitor's life with a session, told over real HTTP on 127.0.0.1, run
 * against every framework adapter (Express, node:http, Fastify, Koa, Hono...). Each adapter's
 * test file builds a small app that keeps the route contract below and calls
 * `journey(name, makeApp)`; the suite starts that app once per test with the session options
 * the test needs, and talks to it with `fetch` and a cookie jar, as a browser would.
 *
 * THE ROUTE CONTRACT
 *
 * `makeApp(options)` mounts the adapter's session middleware with `options` exactly as given
 * (the suite picks the secret, the store and every other option per test), serves the routes
 * below on a fresh server listening on 127.0.0.1, and resolves `{ url, close }`: the server's
 * origin ("http://127.0.0.1:PORT") and a function that stops it. `serve(server)` does that for
 * anything that runs on a node:http server.
 *
 * "session" is the request's session as the framework exposes it. `regenerate()` and `reload()`
 * replace it with a new object: read it afresh after them. Every answer is JSON except /logout.
 * `JourneyData` types the two keys the routes keep.
 *
 *   GET  /count           session.views = (session.views ?? 0) + 1
 *                         200 { views }
 *   GET  /me              reads, changes nothing
 *                         200 { views: session.views ?? null, user: session.user ?? null,
 *                               indexed: session.getUser() ?? null }
 *   POST /login?user=U    await session.regenerate(); then, on the new session:
 *                         session.setUser(U); session.user = U
 *                         200 { user: U }
 *   POST /reload          session.views = -1 (a change that must never be saved);
 *                         await session.reload()
 *                         200 { views: session.views ?? null }, read on the reloaded session
 *   POST /logout          await session.destroy()
 *                         200, the text "bye"
 *   any error             a route that throws or rejects, a store failure while the session
 *                         loads, or while it is saved as the response ends: the app's error
 *                         handler answers status `error.status ?? 500`, { code: error.code ?? null }
 *                         (`errorReply(error)` builds both)
 *
 * Two optional groups use Tessera's helpers. An adapter that cannot serve one says why with
 * `journey(name, makeApp, { skip: { csrf: "why" } })`; the reason is printed in the report.
 *
 *   "csrf"  (csrf() from src/csrf, on these two routes only)
 *   GET  /csrf            200 { token: csrfToken() }
 *   POST /csrf            csrf() checks first (the token comes in the x-csrf-token header);
 *                         200 { ok: true }; refused: the error path, 403 { code: "ERR_CSRF_INVALID" }
 *
 *   "flash" (flash() from src/flash)
 *   POST /flash?msg=M     200 { queued: flash("info", M) }
 *   GET  /flash           200 flash("info"), the array of messages
 *
 * Run it: `node --import tsx --test test/adapters/*.test.ts`. The outage tests need Redis at
 * REDIS_URL (127.0.0.1:6379 by default) and skip with a message where there is none (under CI
 * a missing Redis fails). docs/writing-an-adapter.md says the same at more length.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { generateId } from "../../src/core/id.js";
import type { SessionOptions } from "../../src/core/options.js";
import { sign } from "../../src/core/signing.js";
import type { Store } from "../../src/store/types.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { ID, OLD_SECRET, SECRET, SIGNED, TAMPERED } from "../helpers/http.js";
import { OUTAGE_TIMEOUT_MS, RedisOutage, redisReachable } from "./redis-outage.js";
import {
  attributesOf,
  type Reply,
  sessionIdOf,
  shouldClearSessionCookie,
  shouldNotSetSessionCookie,
  shouldSetSessionCookie,
  signedValueOf,
  Visitor,
} from "./visitor.js";

/** The session options a test asks for; the app passes them to its session middleware as is. */
export type JourneyOptions = SessionOptions;

/** A running test app. */
export interface JourneyApp {
  /** Its origin: "http://127.0.0.1:PORT". */
  url: string;
  /** Stops the server and ends its connections. */
  close(): Promise<void>;
}

/** Builds and starts the adapter's test app, which keeps the route contract above. */
export type MakeApp = (options: JourneyOptions) => Promise<JourneyApp>;

/** The optional route groups of the contract. */
export type JourneyCapability = "csrf" | "flash";

/** How {@link journey} runs for one adapter. */
export interface JourneySettings {
  /**
   * Optional route groups the app does not serve, each with the reason, which the test report
   * prints beside the skipped tests.
   * @default {} (the app serves them all)
   */
  skip?: Partial<Record<JourneyCapability, string>>;
}

/** The session keys the contract's routes keep, for a cast of the framework's session. */
export interface JourneyData {
  views?: number;
  user?: string;
}

/** What the contract's error handler answers for `error`: its status and JSON body. */
export function errorReply(error: unknown): { status: number; body: { code: string | null } } {
  const { status, code } = (typeof error === "object" && error !== null ? error : {}) as {
    status?: unknown;
    code?: unknown;
  };
  return {
    status: typeof status === "number" ? status : 500,
    body: { code: typeof code === "string" ? code : null },
  };
}

/** Starts `server` on a free port of 127.0.0.1: the {@link JourneyApp} of any node:http app. */
export function serve(server: Server): Promise<JourneyApp> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (typeof address !== "object" || address === null) {
        reject(new Error("the server has no port"));
        return;
      }
      resolve({
        url: `http://127.0.0.1:${address.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Idle and absolute timeouts of the timeout tests; the clock is moved, never waited on. */
const TIMEOUT_MS = 60_000;
/** A cookie that outlives every test, so only the timeouts under test end a session. */
const HOUR_MS = 3_600_000;
/** A secret that signed nothing the app accepts. */
const FOREIGN_SECRET = "a secret this app has never been given, 32+ chars";

/** A genid that gives the first session the fixture id `ID`, then random ids, as the default does. */
function fixtureIdFirst(): () => string {
  let given = false;
  return () => {
    if (given) return generateId();
    given = true;
    return ID;
  };
}

/** Freezes `Date` for the rest of the test: it moves only with `t.mock.timers.tick(ms)`. */
function freezeClock(t: TestContext): void {
  t.mock.timers.enable({ apis: ["Date"], now: Date.now() });
}

/** Asserts the reply's status and JSON body, showing the body when either is wrong. */
function answers(reply: Reply, status: number, body: unknown): void {
  assert.equal(reply.status, status, `status ${reply.status}, body ${reply.text}`);
  assert.deepEqual(reply.body, body);
}

/**
 * How long each write of the slow store takes: far longer than a response takes to reach the
 * client over loopback, so a response sent before the write is done arrives before it is.
 */
const SLOW_WRITE_MS = 100;

/** `memory` behind writes that take {@link SLOW_WRITE_MS}, as a store across a network does. */
function slowWrites(memory: MemoryStore): Store {
  const slowly = async <T>(write: () => T): Promise<T> => {
    await sleep(SLOW_WRITE_MS);
    return write();
  };
  return {
    get: (id) => memory.get(id),
    set: (id, record, ttlMs) => slowly(() => memory.set(id, record, ttlMs)),
    patch: (id, patch, ttlMs) => slowly(() => memory.patch(id, patch, ttlMs)),
    touch: (id, record, ttlMs) => slowly(() => memory.touch(id, record, ttlMs)),
    destroy: (id) => memory.destroy(id),
    idsForUser: (user) => memory.idsForUser(user),
  };
}

/** What GET /me answers for a session that holds nothing. */
const NOBODY = { views: null, user: null, indexed: null };

/** The options every test starts from. */
const BASE = { secret: SECRET, resave: false, saveUninitialized: false } as const;

/** When the session cookie the reply set expires, in ms since the epoch. */
function expiryOf(reply: Reply): number {
  const expires = attributesOf(shouldSetSessionCookie(reply)).expires;
  assert.equal(typeof expires, "string", "the cookie has no Expires");
  return Date.parse(expires as string);
}

/**
 * `token` with its first character changed. Not the last: in base64 the last character also
 * carries padding bits, and a change there may decode to the same bytes.
 */
function altered(token: string): string {
  return `${token.startsWith("A") ? "B" : "A"}${token.slice(1)}`;
}

/**
 * Registers the journey for one adapter: a `describe` per stage, a fresh app per test.
 *
 * @example
 * // test/adapters/koa.test.ts, with koaApp(options) keeping the route contract
 * journey("Koa", (options) => serve(createServer(koaApp(options).callback())), {
 *   skip: { flash: "the reason, printed beside the skipped tests" },
 * });
 */
export function journey(name: string, makeApp: MakeApp, settings: JourneySettings = {}): void {
  /**
   * Starts the app with the suite's defaults and `options`, on a fresh MemoryStore (seen by the
   * app through `wrap`, when given); stops both after the test.
   */
  async function start(
    t: TestContext,
    options: Partial<JourneyOptions> = {},
    wrap?: (store: MemoryStore) => Store,
  ) {
    // The store reads the clock through Date.now at each call, so a frozen clock governs it.
    const store = new MemoryStore({ now: () => Date.now(), sweepIntervalMs: 0 });
    const app = await makeApp({ ...BASE, store: wrap?.(store) ?? store, ...options });
    t.after(async () => {
      await app.close();
      await store.close();
    });
    return { app, store, visitor: () => new Visitor(app.url) };
  }

  describe(`${name} › journey`, () => {
    describe("a new visitor", () => {
      it("gets no cookie while the session holds nothing", async (t) => {
        const { store, visitor } = await start(t);
        const reply = await visitor().get("/me");
        answers(reply, 200, NOBODY);
        shouldNotSetSessionCookie(reply);
        assert.equal(await store.length(), 0, "an empty session was stored");
      });

      it("gets a signed connect.sid cookie, s:<id>.<signature>, HttpOnly, Path=/", async (t) => {
        const { store, visitor } = await start(t, { genid: fixtureIdFirst() });
        const reply = await visitor().get("/count");
        answers(reply, 200, { views: 1 });
        assert.equal(signedValueOf(reply), SIGNED, "the cookie is not s:<id>.<HMAC of SECRET>");
        const attributes = attributesOf(shouldSetSessionCookie(reply));
        assert.equal(attributes.httponly, true, "the cookie is not HttpOnly");
        assert.equal(attributes.path, "/");
        assert.equal((await store.get(ID))?.views, 1, "the store does not hold the session");
      });

      it("counts 1, 2, 3 with its cookie, which is not sent again", async (t) => {
        const { visitor } = await start(t);
        const browser = visitor();
        const first = await browser.get("/count");
        answers(first, 200, { views: 1 });
        shouldSetSessionCookie(first);
        for (const views of [2, 3]) {
          const reply = await browser.get("/count");
          answers(reply, 200, { views });
          shouldNotSetSessionCookie(reply);
        }
        answers(await visitor().get("/me"), 200, NOBODY);
      });
    });

    describe("login", () => {
      it("regenerates the id: the cookie from before login reaches nothing any more", async (t) => {
        const { store, visitor } = await start(t);
        const browser = visitor();
        const anonymous = await browser.get("/count");
        const oldId = sessionIdOf(anonymous);
        const login = await browser.post("/login?user=alice");
        answers(login, 200, { user: "alice" });
        const newId = sessionIdOf(login);
        assert.notEqual(newId, oldId, "login kept the session id (session fixation)");
        // regenerate() keeps nothing of the old session, and the user is on the new one.
        answers(await browser.get("/me"), 200, { views: null, user: "alice", indexed: "alice" });
        assert.equal(await store.get(oldId), undefined, "the old id is still in the store");
        // Whoever kept the old cookie (planted before login) gets a session of their own.
        const attacker = visitor();
        attacker.holdSessionCookie(signedValueOf(anonymous));
        answers(await attacker.get("/me"), 200, NOBODY);
      });

      it("setUser() puts the new session, and only it, in the user's index", async (t) => {
        const { store, visitor } = await start(t);
        const laptop = visitor();
        const phone = visitor();
        const stale = sessionIdOf(await laptop.get("/count"));
        const first = sessionIdOf(await laptop.post("/login?user=alice"));
        const second = sessionIdOf(await phone.post("/login?user=alice"));
        assert.deepEqual((await store.idsForUser("alice")).sort(), [first, second].sort());
        assert.ok(!(await store.idsForUser("alice")).includes(stale));
        assert.deepEqual(await store.idsForUser("bob"), []);
      });
    });

    describe("reload", () => {
      it("drops the request's unsaved changes and answers what the store holds", async (t) => {
        const { visitor } = await start(t);
        const browser = visitor();
        await browser.get("/count");
        await browser.get("/count");
        answers(await browser.post("/reload"), 200, { views: 2 });
        answers(await browser.get("/me"), 200, { views: 2, user: null, indexed: null });
      });

      it("of a session the store does not hold, fails through the error handler", async (t) => {
        const { visitor } = await start(t);
        answers(await visitor().post("/reload"), 500, { code: "ERR_SESSION_GONE" });
      });
    });

    describe("logout", () => {
      it("destroy() removes the session and clears the cookie; the next request is a new visitor", async (t) => {
        const { store, visitor } = await start(t);
        const browser = visitor();
        const login = await browser.post("/login?user=alice");
        const id = sessionIdOf(login);
        await browser.get("/count");
        const logout = await browser.post("/logout");
        assert.equal(logout.status, 200);
        assert.equal(logout.text, "bye");
        shouldClearSessionCookie(logout);
        assert.equal(browser.sessionCookie, undefined, "the browser kept the cookie");
        assert.equal(await store.get(id), undefined, "the session is still in the store");
        assert.deepEqual(await store.idsForUser("alice"), []);
        // The browser sends nothing now; a copy of the old cookie reaches nothing either.
        answers(await browser.get("/me"), 200, NOBODY);
        const replay = visitor();
        replay.holdSessionCookie(signedValueOf(login));
        answers(await replay.get("/me"), 200, NOBODY);
        const next = await browser.get("/count");
        answers(next, 200, { views: 1 });
        assert.notEqual(sessionIdOf(next), id);
      });
    });

    describe("the response waits for the store", () => {
      it("when a response arrives, what its request changed is saved", async (t) => {
        const { store, visitor } = await start(t, {}, (memory) => slowWrites(memory));
        const browser = visitor();
        const first = await browser.get("/count");
        assert.equal(
          (await store.get(sessionIdOf(first)))?.views,
          1,
          "the response was sent before the session was saved",
        );
        await browser.get("/count");
        assert.equal((await store.get(sessionIdOf(first)))?.views, 2, "the change was not saved");
        const login = await browser.post("/login?user=alice");
        assert.deepEqual(await store.idsForUser("alice"), [sessionIdOf(login)]);
      });
    });

    describe("a tampered cookie", () => {
      for (const [what, signed] of TAMPERED) {
        it(`${what}: a fresh session, never the stored one`, async (t) => {
          const { visitor } = await start(t, { genid: fixtureIdFirst() });
          const owner = visitor();
          assert.equal(signedValueOf(await owner.get("/count")), SIGNED);
          await owner.get("/count");
          const forger = visitor();
          forger.holdSessionCookie(`s:${signed}`);
          const look = await forger.get("/me");
          answers(look, 200, NOBODY);
          shouldNotSetSessionCookie(look);
          const write = await forger.get("/count");
          answers(write, 200, { views: 1 });
          assert.notEqual(sessionIdOf(write), ID, "the forger was given the stored session");
          // The cookie as issued still reaches the session, unchanged by the forger.
          answers(await owner.get("/me"), 200, { views: 2, user: null, indexed: null });
        });
      }
    });

    describe("a store outage (the real Redis, behind a proxy the test cuts)", async () => {
      const reachable = await redisReachable();
      const outage = new RedisOutage();
      let app: JourneyApp | undefined;
      let browser: Visitor;

      function unavailable(reply: Reply): void {
        answers(reply, 503, { code: "ERR_STORE_UNAVAILABLE" });
        shouldNotSetSessionCookie(reply);
      }

      describe("with RedisStore", { skip: !reachable && "Redis is not reachable" }, () => {
        before(async () => {
          app = await makeApp({
            ...BASE,
            store: await outage.start(),
            storeTimeoutMs: OUTAGE_TIMEOUT_MS,
            // A save that fails as the response ends answers through the error handler, rather
            // than with the app's response, which would tell the visitor it was saved.
            saveErrorResponse: "error",
          });
          browser = new Visitor(app.url);
        });
        after(async () => {
          await app?.close();
          await outage.close();
        });

        it("before: the session is kept in Redis", async () => {
          const id = sessionIdOf(await browser.get("/count"));
          answers(await browser.get("/count"), 200, { views: 2 });
          assert.equal((await outage.stored(id))?.views, 2, "Redis does not hold the session");
        });

        it("cut: a returning visitor gets 503 ERR_STORE_UNAVAILABLE, never a fresh session", async () => {
          const cookie = browser.sessionCookie;
          await outage.cut();
          unavailable(await browser.get("/count"));
          unavailable(await browser.get("/me"));
          assert.equal(browser.sessionCookie, cookie, "the browser's cookie was replaced");
        });

        it("cut: a login fails in regenerate() with 503", async () => {
          unavailable(await new Visitor(browser.origin).post("/login?user=alice"));
        });

        it("cut: a new visitor's first save fails with 503, and sets no cookie", async () => {
          unavailable(await new Visitor(browser.origin).get("/count"));
        });

        it("restored: the same session is served, untouched by the failed requests", async () => {
          await outage.restore();
          answers(await browser.get("/count"), 200, { views: 3 });
        });
      });
    });

    describe("idleTimeoutMs", () => {
      const options = { idleTimeoutMs: TIMEOUT_MS, cookie: { maxAge: HOUR_MS } };

      it("each request renews the deadline, even one that changes nothing", async (t) => {
        freezeClock(t);
        const { visitor } = await start(t, options);
        const browser = visitor();
        answers(await browser.get("/count"), 200, { views: 1 });
        t.mock.timers.tick(TIMEOUT_MS * 0.75);
        answers(await browser.get("/me"), 200, { views: 1, user: null, indexed: null });
        t.mock.timers.tick(TIMEOUT_MS * 0.75);
        answers(await browser.get("/count"), 200, { views: 2 });
      });

      it("past the deadline the session is gone: removed from the store, a fresh one instead", async (t) => {
        freezeClock(t);
        const { store, visitor } = await start(t, options);
        const browser = visitor();
        const id = sessionIdOf(await browser.get("/count"));
        t.mock.timers.tick(TIMEOUT_MS);
        assert.equal(await store.get(id), undefined, "the store still holds the idle session");
        answers(await browser.get("/me"), 200, NOBODY);
        const fresh = await browser.get("/count");
        answers(fresh, 200, { views: 1 });
        assert.notEqual(sessionIdOf(fresh), id);
      });
    });

    describe("absoluteTimeoutMs", () => {
      it("ends the session at the deadline, however active it is", async (t) => {
        freezeClock(t);
        const { store, visitor } = await start(t, {
          absoluteTimeoutMs: TIMEOUT_MS,
          cookie: { maxAge: HOUR_MS },
        });
        const browser = visitor();
        const id = sessionIdOf(await browser.get("/count"));
        t.mock.timers.tick(TIMEOUT_MS / 2);
        answers(await browser.get("/count"), 200, { views: 2 });
        t.mock.timers.tick(TIMEOUT_MS / 2 - 1000);
        answers(await browser.get("/count"), 200, { views: 3 });
        t.mock.timers.tick(1000);
        const ended = await browser.get("/count");
        answers(ended, 200, { views: 1 });
        assert.notEqual(sessionIdOf(ended), id);
        assert.equal(await store.get(id), undefined, "the store still holds the old session");
      });
    });

    describe("rolling", () => {
      it("rolling: true sends the cookie on every response, with a renewed expiry", async (t) => {
        freezeClock(t);
        const { visitor } = await start(t, { rolling: true, cookie: { maxAge: TIMEOUT_MS } });
        const browser = visitor();
        const first = await browser.get("/count");
        t.mock.timers.tick(10_000);
        const look = await browser.get("/me");
        answers(look, 200, { views: 1, user: null, indexed: null });
        assert.equal(sessionIdOf(look), sessionIdOf(first));
        assert.equal(
          expiryOf(look) - expiryOf(first),
          10_000,
          "the cookie's expiry did not move with the clock",
        );
      });

      it("without it, a response that changes nothing sends no cookie", async (t) => {
        const { visitor } = await start(t, { cookie: { maxAge: TIMEOUT_MS } });
        const browser = visitor();
        shouldSetSessionCookie(await browser.get("/count"));
        shouldNotSetSessionCookie(await browser.get("/me"));
        // A change does send it, with its expiry renewed, as in express-session.
        shouldSetSessionCookie(await browser.get("/count"));
      });
    });

    describe("secret rotation", () => {
      it("a cookie signed with the previous secret is accepted and re-signed with the current one", async (t) => {
        const store = new MemoryStore({ sweepIntervalMs: 0 });
        t.after(() => store.close());
        const old = await makeApp({ ...BASE, secret: OLD_SECRET, store });
        t.after(() => old.close());
        const browser = new Visitor(old.url);
        const first = await browser.get("/count");
        const id = sessionIdOf(first);
        assert.equal(signedValueOf(first), `s:${sign(id, OLD_SECRET)}`);
        await old.close(); // a deploy: the app restarts with the new secret first

        const rotated = await makeApp({ ...BASE, secret: [SECRET, OLD_SECRET], store });
        t.after(() => rotated.close());
        browser.moveTo(rotated.url);
        const look = await browser.get("/me");
        answers(look, 200, { views: 1, user: null, indexed: null });
        assert.equal(
          signedValueOf(look),
          `s:${sign(id, SECRET)}`,
          "not re-signed with the current secret",
        );
        const next = await browser.get("/count");
        answers(next, 200, { views: 2 });
        shouldNotSetSessionCookie(next);
      });

      it("a cookie signed with neither secret gets a fresh session", async (t) => {
        const { visitor } = await start(t, { secret: [SECRET, OLD_SECRET] });
        const owner = visitor();
        const id = sessionIdOf(await owner.get("/count"));
        const stranger = visitor();
        stranger.holdSessionCookie(`s:${sign(id, FOREIGN_SECRET)}`);
        answers(await stranger.get("/me"), 200, NOBODY);
        const fresh = await stranger.get("/count");
        answers(fresh, 200, { views: 1 });
        assert.notEqual(sessionIdOf(fresh), id);
      });
    });

    describe("csrf()", { skip: settings.skip?.csrf ?? false }, () => {
      const INVALID = { code: "ERR_CSRF_INVALID" };

      async function tokenOf(browser: Visitor): Promise<string> {
        const reply = await browser.get("/csrf");
        assert.equal(reply.status, 200, reply.text);
        const { token } = reply.body as { token?: unknown };
        assert.equal(typeof token, "string");
        return token as string;
      }

      it("a token from GET /csrf lets the visitor's POST /csrf through", async (t) => {
        const { app, visitor } = await start(t);
        const browser = visitor();
        const token = await tokenOf(browser);
        answers(await browser.post("/csrf", { "x-csrf-token": token }), 200, { ok: true });
        // A browser also says where the request comes from: this site.
        const sameOrigin = {
          "x-csrf-token": token,
          origin: app.url,
          "sec-fetch-site": "same-origin",
        };
        answers(await browser.post("/csrf", sameOrigin), 200, { ok: true });
      });

      it("a POST without a token, or with another visitor's, is refused: 403", async (t) => {
        const { visitor } = await start(t);
        const browser = visitor();
        const mine = await tokenOf(browser);
        const theirs = await tokenOf(visitor());
        answers(await browser.post("/csrf"), 403, INVALID);
        answers(await browser.post("/csrf", { "x-csrf-token": theirs }), 403, INVALID);
        answers(await browser.post("/csrf", { "x-csrf-token": altered(mine) }), 403, INVALID);
      });

      it("a cross-site request is refused, even with a valid token", async (t) => {
        const { visitor } = await start(t);
        const browser = visitor();
        const token = await tokenOf(browser);
        const crossSite = {
          "x-csrf-token": token,
          origin: "https://evil.example",
          "sec-fetch-site": "cross-site",
        };
        answers(await browser.post("/csrf", crossSite), 403, INVALID);
      });

      it("a token from before login is refused after it: regenerate() drops the secret", async (t) => {
        const { visitor } = await start(t);
        const browser = visitor();
        const earlier = await tokenOf(browser);
        await browser.post("/login?user=alice");
        answers(await browser.post("/csrf", { "x-csrf-token": earlier }), 403, INVALID);
        answers(await browser.post("/csrf", { "x-csrf-token": await tokenOf(browser) }), 200, {
          ok: true,
        });
      });
    });

    describe("flash()", { skip: settings.skip?.flash ?? false }, () => {
      it("a message is shown once, then gone", async (t) => {
        const { visitor } = await start(t);
        const browser = visitor();
        answers(await browser.post("/flash?msg=hi"), 200, { queued: 1 });
        answers(await browser.post("/flash?msg=again"), 200, { queued: 2 });
        answers(await browser.get("/flash"), 200, ["hi", "again"]);
        answers(await browser.get("/flash"), 200, []);
      });

      it("messages stay with the visitor who queued them", async (t) => {
        const { visitor } = await start(t);
        const browser = visitor();
        await browser.post("/flash?msg=yours");
        answers(await visitor().get("/flash"), 200, []);
        answers(await browser.get("/flash"), 200, ["yours"]);
      });
    });
  });
}
