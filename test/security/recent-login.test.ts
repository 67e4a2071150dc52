// A sensitive action needs a recent login, not merely a live session (OWASP Authentication Cheat
// Sheet, "Reauthentication After Risk Events"; better-auth's freshAge; OpenID Connect max_age).
// `setUser()` records when the user authenticated, in the session's metadata: the time must
// survive the store (full writes and patch writes, on every store), survive renewal
// (`regenerate({ keepData: true })`), and start afresh on a new login; `requireRecentLogin()`
// refuses with 401 ERR_REAUTHENTICATE past `maxAgeMs`, and an anonymous session always. The clock
// is node:test's mocked Date: nothing waits for real time.
import assert from "node:assert/strict";
import { after, describe, it, type TestContext } from "node:test";
import express, { type Express } from "express";
import Koa from "koa";
import request, { type Response } from "supertest";
import { session } from "../../src/express/index.js";
import {
  isTesseraError,
  recentLogin,
  requireRecentLogin,
  type Store,
  TesseraError,
} from "../../src/index.js";
import { session as koaSession } from "../../src/koa/index.js";
import type { SessionOptions } from "../../src/node/options.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { jsonErrors } from "../csrf/app.js";
import { cookiePair, SECRET, sessionIdOf } from "../helpers/http.js";
import { storeBackends } from "../helpers/store-backends.js";

const MAX_AGE_MS = 5 * 60_000;
const MINUTE_MS = 60_000;

type Data = Record<string, unknown>;

function site(store: Store, options: Partial<SessionOptions> = {}): Express {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3_600_000 },
      ...options,
    }),
  );
  app.post("/login/:user", async (req, res) => {
    await req.session.regenerate();
    req.session.setUser(String(req.params.user));
    res.send("in");
  });
  app.post("/reauthenticate", (req, res) => {
    // The app has checked the password again: the same user, authenticated now.
    req.session.setUser(req.session.getUser() ?? null);
    res.send("again");
  });
  app.post("/renew", async (req, res) => {
    await req.session.regenerate({ keepData: true });
    res.send("renewed");
  });
  app.post("/cart", (req, res) => {
    (req.session as unknown as Data).cart = ["book"];
    res.send("added");
  });
  app.post("/password", (req, res) => {
    const at = requireRecentLogin(req, { maxAgeMs: MAX_AGE_MS });
    res.json({ at: at.getTime() });
  });
  app.post("/email", recentLogin({ maxAgeMs: MAX_AGE_MS }), (_req, res) => {
    res.send("changed");
  });
  app.get("/at", (req, res) => {
    res.json({ at: req.session.getAuthenticatedAt()?.getTime() ?? null });
  });
  app.use(jsonErrors);
  return app;
}

/** Freezes `Date`: it moves only with `t.mock.timers.tick(ms)`. */
function freezeClock(t: TestContext): number {
  const now = Date.now();
  t.mock.timers.enable({ apis: ["Date"], now });
  return now;
}

function shouldReauthenticate(res: Response, id?: string): void {
  assert.equal(res.status, 401, `status ${res.status}: ${res.text}`);
  const body = res.body as { code?: string; message?: string };
  assert.equal(body.code, "ERR_REAUTHENTICATE");
  assert.match(body.message ?? "", /password again/);
  if (id !== undefined) assert.ok(!body.message?.includes(id), "the message holds no session id");
}

async function passes(app: Express, cookie: string): Promise<number> {
  const res = await request(app).post("/password").set("Cookie", cookie);
  assert.equal(res.status, 200, `the sensitive action was refused: ${res.status} ${res.text}`);
  return (res.body as { at: number }).at;
}

async function storedTime(store: Store, id: string): Promise<number | undefined> {
  return (await store.get(id))?.__tessera?.authenticatedAt;
}

/** Login, then the action passes until maxAgeMs has passed; a re-authentication lets it pass again. */
async function expiresAndReauthenticates(t: TestContext, store: Store): Promise<void> {
  const loginAt = freezeClock(t);
  const app = site(store);
  const res = await request(app).post("/login/ada").expect(200, "in");
  const cookie = cookiePair(res);
  const id = sessionIdOf(res);
  assert.equal(await storedTime(store, id), loginAt, "the store holds the login time");
  assert.equal(await passes(app, cookie), loginAt);

  t.mock.timers.tick(2 * MINUTE_MS);
  // A patch write of the data (every store here has patch) keeps the time.
  await request(app).post("/cart").set("Cookie", cookie).expect(200, "added");
  assert.equal(await storedTime(store, id), loginAt, "a patch write kept the login time");

  t.mock.timers.tick(MAX_AGE_MS - 2 * MINUTE_MS);
  assert.equal(await passes(app, cookie), loginAt, "exactly maxAgeMs old still passes");
  t.mock.timers.tick(1);
  shouldReauthenticate(await request(app).post("/password").set("Cookie", cookie), id);
  shouldReauthenticate(await request(app).post("/email").set("Cookie", cookie), id);

  await request(app).post("/reauthenticate").set("Cookie", cookie).expect(200, "again");
  const now = Date.now();
  assert.equal(await storedTime(store, id), now, "the re-authentication reached the store");
  assert.equal(await passes(app, cookie), now);
  await request(app).post("/email").set("Cookie", cookie).expect(200, "changed");
}

/** Renewal keeps the time of the login; a new login (plain regenerate + setUser) sets a new one. */
async function renewalKeepsNewLoginResets(t: TestContext, store: Store): Promise<void> {
  const loginAt = freezeClock(t);
  const app = site(store);
  const cookie = cookiePair(await request(app).post("/login/ada").expect(200, "in"));
  t.mock.timers.tick(MAX_AGE_MS + MINUTE_MS);

  const renewal = await request(app).post("/renew").set("Cookie", cookie).expect(200, "renewed");
  const renewed = cookiePair(renewal);
  assert.notEqual(renewed, cookie, "renewal gives a new id");
  assert.equal(await storedTime(store, sessionIdOf(renewal)), loginAt, "renewal kept the time");
  const at = await request(app).get("/at").set("Cookie", renewed).expect(200);
  assert.deepEqual(at.body, { at: loginAt });
  shouldReauthenticate(await request(app).post("/password").set("Cookie", renewed));

  const relogin = await request(app).post("/login/ada").set("Cookie", renewed).expect(200, "in");
  const fresh = cookiePair(relogin);
  assert.equal(await storedTime(store, sessionIdOf(relogin)), Date.now());
  assert.equal(await passes(app, fresh), Date.now(), "a new login is a recent login");
}

/** A session without a user never passes, whatever its data. */
async function anonymousFails(store: Store): Promise<void> {
  const app = site(store);
  shouldReauthenticate(await request(app).post("/password"));
  const cookie = cookiePair(await request(app).post("/cart").expect(200, "added"));
  shouldReauthenticate(await request(app).post("/password").set("Cookie", cookie));
  const at = await request(app).get("/at").set("Cookie", cookie).expect(200);
  assert.deepEqual(at.body, { at: null });
}

const { backends, withStore, cleanup } = await storeBackends("tessera_recent_login");

describe("requireRecentLogin() and the time of the last authentication", () => {
  after(cleanup);

  for (const backend of backends) {
    describe(backend.name, { skip: backend.skip }, () => {
      it("a login passes for maxAgeMs, then 401 ERR_REAUTHENTICATE until setUser() again", async (t) => {
        await withStore(backend, (store) => expiresAndReauthenticates(t, store));
      });

      it("regenerate({ keepData: true }) keeps the time; a new login sets a new one", async (t) => {
        await withStore(backend, (store) => renewalKeepsNewLoginResets(t, store));
      });

      it("an anonymous session is refused", async () => {
        await withStore(backend, anonymousFails);
      });
    });
  }

  describe("with the userKey option", () => {
    it("a new user in the data is a login; the same user later is not", async (t) => {
      const loginAt = freezeClock(t);
      const app = express();
      const store = new MemoryStore();
      app.use(session({ secret: SECRET, store, saveUninitialized: false, userKey: "user" }));
      app.post("/login", async (req, res) => {
        await req.session.regenerate();
        (req.session as unknown as Data).user = "ada";
        res.send("in");
      });
      app.post("/cart", (req, res) => {
        (req.session as unknown as Data).cart = ["book"];
        res.send("added");
      });
      app.post("/password", (req, res) => {
        res.json({ at: requireRecentLogin(req, { maxAgeMs: MAX_AGE_MS }).getTime() });
      });
      app.use(jsonErrors);
      const res = await request(app).post("/login").expect(200, "in");
      const cookie = cookiePair(res);
      assert.equal(await storedTime(store, sessionIdOf(res)), loginAt);
      t.mock.timers.tick(MAX_AGE_MS + 1);
      await request(app).post("/cart").set("Cookie", cookie).expect(200, "added");
      assert.equal(await storedTime(store, sessionIdOf(res)), loginAt, "a write is no login");
      shouldReauthenticate(await request(app).post("/password").set("Cookie", cookie));
    });
  });

  describe("setUser(null)", () => {
    it("forgets the time with the user", async () => {
      const app = site(new MemoryStore());
      app.post("/logout-user", (req, res) => {
        req.session.setUser(null);
        res.json({ at: req.session.getAuthenticatedAt() ?? null });
      });
      const cookie = cookiePair(await request(app).post("/login/ada").expect(200, "in"));
      await passes(app, cookie);
      // Routes added after jsonErrors still run: Express matches them in order.
      const out = await request(app).post("/logout-user").set("Cookie", cookie).expect(200);
      assert.deepEqual(out.body, { at: null });
      shouldReauthenticate(await request(app).post("/password").set("Cookie", cookie));
    });
  });

  describe("options", () => {
    it("maxAgeMs must be a number of 0 or more: ERR_OPTION", () => {
      for (const maxAgeMs of [Number.NaN, -1, "300000", undefined]) {
        const options = { maxAgeMs } as unknown as { maxAgeMs: number };
        assert.throws(
          () => recentLogin(options),
          (error) => isTesseraError(error, "ERR_OPTION"),
        );
        assert.throws(
          () => requireRecentLogin({}, options),
          (error) => isTesseraError(error, "ERR_OPTION"),
        );
      }
    });

    it("ERR_REAUTHENTICATE is a 401 TesseraError", () => {
      const error = (() => {
        try {
          requireRecentLogin({}, { maxAgeMs: MAX_AGE_MS });
        } catch (thrown) {
          return thrown;
        }
        return undefined;
      })();
      assert.ok(error instanceof TesseraError);
      assert.equal(error.code, "ERR_REAUTHENTICATE");
      assert.equal(error.status, 401);
      assert.equal(error.statusCode, 401);
    });
  });

  describe("on Koa: the holder is ctx", () => {
    it("passes after login, refuses once the login is older than maxAgeMs", async (t) => {
      const loginAt = freezeClock(t);
      const app = new Koa();
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch (error) {
          ctx.status = (error as { status?: number }).status ?? 500;
          ctx.body = { code: (error as { code?: string }).code };
        }
      });
      app.use(koaSession({ secret: SECRET, store: new MemoryStore(), saveUninitialized: false }));
      app.use(async (ctx) => {
        if (ctx.path === "/login") {
          await ctx.session.regenerate();
          ctx.session.setUser("ada");
          ctx.body = "in";
        } else {
          ctx.body = { at: requireRecentLogin(ctx, { maxAgeMs: MAX_AGE_MS }).getTime() };
        }
      });
      const server = app.callback();
      const cookie = cookiePair(await request(server).post("/login").expect(200, "in"));
      const ok = await request(server).post("/password").set("Cookie", cookie).expect(200);
      assert.deepEqual(ok.body, { at: loginAt });
      t.mock.timers.tick(MAX_AGE_MS + 1);
      const refused = await request(server).post("/password").set("Cookie", cookie).expect(401);
      assert.deepEqual(refused.body, { code: "ERR_REAUTHENTICATE" });
      const anonymous = await request(server).post("/password").expect(401);
      assert.deepEqual(anonymous.body, { code: "ERR_REAUTHENTICATE" });
    });
  });
});
